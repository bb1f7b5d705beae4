from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class OrgsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORGS_", extra="ignore", frozen=True)

    # Peers: `GET /v1/me/export` asks each for what it holds about the person; `person.erased` goes to both.
    # Booking unassigns the member lines of people who leave an organization (`membership.changed`); notify
    # mails invitations (`invitation.created`). `join_request.changed` has no subscriber yet.
    booking_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    event_subscriptions: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "booking": ["person.erased", "membership.changed"],
            "notify": ["person.erased", "invitation.created"],
        }
    )
    # PEM of the Ed25519 signing key. Required outside development; in development a key is
    # generated once and kept in `jwt_key_file` so tokens survive restarts.
    jwt_private_key: SecretStr | None = None
    jwt_key_file: Path = Path(".learncity/orgs-jwt-ed25519.pem")
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # Login throttling per account: this many failures within the window lock it for lockout_s.
    login_max_failures: int = 5
    login_failure_window_s: int = 900
    login_lockout_s: int = 300
    # How long an invitation's emailed link works (ORGS_INVITATION_TTL_S; default 7 days).
    invitation_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)

    @model_validator(mode="after")
    def _require_signing_key(self) -> Self:
        if not self.is_development and self.jwt_private_key is None:
            raise ValueError("ORGS_JWT_PRIVATE_KEY must be set outside development")
        return self
