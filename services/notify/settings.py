from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ServiceSettings, TimeZoneName

SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
# Where NOTIFY_INVITATION_URL puts the invitation's token.
INVITATION_TOKEN = "{token}"


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", frozen=True)

    catalog_url: str = "http://127.0.0.1:8002"
    booking_url: str = "http://127.0.0.1:8003"
    # notify emits no events (its outbox exists only because the inbox wiring needs the tables).
    event_subscriptions: dict[str, list[str]] = Field(default_factory=dict)
    # Where mail goes: `smtp://host:port`, `smtp+starttls://...`, `smtps://...`, optional `user:password@`.
    # Empty: no email at all (the in-app inbox only).
    smtp_url: str = ""
    mail_from: str = "Learning City <noreply@learncity.localhost>"
    # Each SMTP step (connect, each command) may take this long.
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    # A mail is tried this often before it is given up (temporary failures: 4xx, connection).
    mail_max_attempts: int = Field(default=8, ge=1)
    # Mails sent per second at most, by each notify process: mail providers limit senders, and a burst of
    # bookings (a festival's release) then queues its mails instead of taking the CPU the bookings need.
    mail_per_second: float = Field(default=20.0, gt=0, le=10_000)
    # Between tries: base * 2^(attempt-1), at most the cap (with jitter).
    mail_backoff_base_s: float = Field(default=30.0, gt=0)
    mail_backoff_cap_s: float = Field(default=3600.0, gt=0)
    # Reminders before each confirmed session, in minutes, unless the person chose others.
    # JSON (`[1440, 120]`) or comma-separated (`1440,120`).
    reminder_minutes_before: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [1440, 120])
    # How often the reminder and mail workers look for due work (mail is also woken at once by NOTIFY).
    worker_poll_interval_s: float = Field(default=1.0, gt=0)
    # Off: no background workers (tests call `app.state.reminders.run_once()` and
    # `app.state.mail_queue.run_once()` themselves).
    workers_enabled: bool = True
    # Times in notices, mails and calendars are shown in this zone.
    timezone: TimeZoneName = "Asia/Shanghai"
    # The language of a person who chose none, and whose registration said none.
    default_language: Literal["zh-CN", "en"] = "zh-CN"
    # The public base of calendar feed URLs (e.g. `https://learn.example.org`); empty: the request's own.
    public_base_url: str = ""
    # A person's contact (email, name, language) from orgs is reused this long before it is asked again.
    contact_cache_s: float = Field(default=3600.0, ge=0)
    # The link an invitation's mail carries: `{token}` becomes the invitation's token (the page behind it
    # accepts it: `POST /v1/organizations/invitations/accept`, or registers with `invitation_token`).
    invitation_url: str = "http://127.0.0.1:8000/join?token={token}"

    @field_validator("reminder_minutes_before", mode="before")
    @classmethod
    def _split_minutes(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                text = text[1:-1] if text.endswith("]") else text
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("reminder_minutes_before")
    @classmethod
    def _positive_minutes(cls, minutes: list[int]) -> list[int]:
        if any(value < 1 for value in minutes):
            raise ValueError("reminder offsets are whole minutes, at least 1")
        return list(dict.fromkeys(minutes))

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if value and (parts.scheme not in SMTP_SCHEMES or not parts.hostname):
            raise ValueError(f"smtp_url must be {' or '.join(s + '://host[:port]' for s in SMTP_SCHEMES)}")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("invitation_url")
    @classmethod
    def _invitation_link(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or INVITATION_TOKEN not in value:
            raise ValueError(f"invitation_url must be an http(s) URL holding {INVITATION_TOKEN}, not {value!r}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_url)
