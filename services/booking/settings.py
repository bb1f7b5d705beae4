from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.booking.models import MAX_SEATS_PER_ORGANIZATION_BOOKING
from shared.settings import ServiceSettings, TimeZoneName


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
    # POST /v1/bookings decides the requests waiting for one session together, one transaction per batch
    # (services/booking/bookings/batcher.py): at most this many requests per batch.
    batch_max_requests: int = Field(default=500, ge=1)
    # Requests waiting for one session's next batch beyond which a newcomer gets a fast 503 with Retry-After
    # instead of queueing past any HTTP timeout (5,000 is a few seconds of batched decisions).
    session_backlog_limit: int = Field(default=5000, ge=1)
    # Idempotency-Key records are kept this long.
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)
    # Check-in opens this long before a session starts and closes when it ends.
    checkin_opens_before_s: int = Field(default=3600, ge=0)
    # Organization blocks: at most this many seats per booking (personal bookings: 1..10).
    organization_max_seats: int = Field(default=50, ge=1, le=MAX_SEATS_PER_ORGANIZATION_BOOKING)
    # No-shows: a confirmed booking (own or member line; never an organization block) not checked in by its
    # session's end plus this grace becomes `no_show`, swept every `no_show_sweep_interval_s` (0: never).
    no_show_grace_s: int = Field(default=1800, ge=0)
    no_show_sweep_interval_s: float = Field(default=60.0, ge=0)
    # The fairness rule: `no_show_threshold` no-shows within `no_show_window_days` restrict the person to
    # `no_show_max_active` active bookings, until fewer than the threshold remain within the window.
    no_show_window_days: int = Field(default=90, ge=1, le=3650)
    no_show_threshold: int = Field(default=3, ge=1)
    no_show_max_active: int = Field(default=2, ge=0)
    # The city's time zone: organization reports count months in its wall time.
    timezone: TimeZoneName = "Asia/Shanghai"
    # How often finished sessions' participation figures are tallied (0: never; reports then sum every
    # figure live, which a year of a city makes slow).
    tally_interval_s: float = Field(default=60.0, ge=0)
    # How often expired idempotency keys and old rate windows are deleted (0: never, e.g. in tests).
    janitor_interval_s: float = Field(default=600.0, ge=0)

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(seconds=self.idempotency_ttl_s)

    @property
    def no_show_grace(self) -> timedelta:
        return timedelta(seconds=self.no_show_grace_s)

    @property
    def no_show_window(self) -> timedelta:
        return timedelta(days=self.no_show_window_days)

    @property
    def checkin_opens_before(self) -> timedelta:
        return timedelta(seconds=self.checkin_opens_before_s)
