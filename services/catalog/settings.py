from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    booking_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    event_subscriptions: dict[str, list[str]] = Field(
        default_factory=lambda: {"booking": ["session.*"], "notify": ["session.*"]}
    )
    # The city's time zone: recurrence rules are expanded in its wall time unless a request names another.
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
