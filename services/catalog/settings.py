from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, TimeZoneName


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    booking_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    event_subscriptions: dict[str, list[str]] = Field(
        default_factory=lambda: {"booking": ["session.*", "site.*"], "notify": ["session.*"]}
    )
    # The city's time zone: recurrence rules are expanded in its wall time unless a request names another.
    timezone: TimeZoneName = "Asia/Shanghai"
