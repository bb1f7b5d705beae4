from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BookingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore", frozen=True)

    catalog_url: str = "http://127.0.0.1:8002"
    notify_url: str = "http://127.0.0.1:8004"
    # Seat figures for the catalog's listings; every booking change for notify's notices.
    event_subscriptions: dict[str, list[str]] = Field(
        default_factory=lambda: {"catalog": ["availability.changed"], "notify": ["booking.*"]}
    )
    # Abuse limits (api-contract.md fixes these two names): beyond them, 429 with Retry-After.
    # Active = confirmed or waitlisted for a session that has not ended.
    max_active_per_person: int = Field(default=20, ge=1)
    rate_per_minute: int = Field(default=30, ge=1)
    # Idempotency-Key records are kept this long.
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)
    # Check-in opens this long before a session starts and closes when it ends.
    checkin_opens_before_s: int = Field(default=3600, ge=0)
    # How often expired idempotency keys and old rate windows are deleted (0: never, e.g. in tests).
    janitor_interval_s: float = Field(default=600.0, ge=0)

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(seconds=self.idempotency_ttl_s)

    @property
    def checkin_opens_before(self) -> timedelta:
        return timedelta(seconds=self.checkin_opens_before_s)
