from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    booking_url: str = "http://127.0.0.1:8003"
    event_subscriptions: dict[str, list[str]] = Field(default_factory=lambda: {"booking": ["session.*"]})
