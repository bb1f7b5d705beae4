from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BookingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore", frozen=True)

    catalog_url: str = "http://127.0.0.1:8002"
    event_subscriptions: dict[str, list[str]] = Field(default_factory=lambda: {"catalog": ["availability.changed"]})
    # Abuse limits (api-contract.md fixes these two names): beyond them, 429 with Retry-After.
    max_active_per_person: int = 20
    rate_per_minute: int = 30
