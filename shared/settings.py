"""Settings shared by every service; each service subclasses with its own env prefix."""

from enum import StrEnum
from typing import Annotated, Any, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_INTERNAL_SECRET = "dev-only-internal-secret-change-me"


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


# A setting naming an IANA time zone (e.g. "Asia/Shanghai"), refused at start-up when unknown.
TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ServiceSettings(BaseSettings):
    """Common settings. A subclass sets `env_prefix`, e.g. `ORGS_`, so `ORGS_DATABASE_URL` applies."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, validate_by_name=True)

    environment: Environment = Environment.development
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/learncity"
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout_s: float = 10.0
    # Base URL of the orgs service: JWKS and membership look-ups.
    orgs_url: str = "http://127.0.0.1:8001"
    jwt_issuer: str = "learncity-orgs"
    jwt_audience: str = "learncity"
    jwt_leeway_s: int = 30
    jwks_cache_s: int = 300
    # Services verifying tokens against the orgs JWKS ask orgs this often which people are erased, so their
    # still-unexpired tokens stop working at once (0: never; they then work until they expire). Orgs, which
    # checks its own rows, asks services to wait at least its own value between requests.
    revocation_refresh_s: float = Field(default=2.0, ge=0)
    # Service-to-service calls (internal endpoints, event delivery) carry this secret.
    internal_secret: SecretStr = SecretStr(DEV_INTERNAL_SECRET)
    max_body_bytes: int = 1_048_576
    http_timeout_s: float = 2.0
    http_retries: int = 2
    log_json: bool = True
    log_level: str = "INFO"
    # Trust X-Forwarded-For only when a trusted proxy (the gateway) sets it.
    trust_forwarded_for: bool = False
    # Events: subscriber name -> event type patterns it receives; its URL is the `<name>_url` setting.
    event_subscriptions: dict[str, list[str]] = {}
    # Browser origins allowed to call the API (CORS). One name for every service (api-contract.md), so it
    # has no service prefix: LEARNCITY_CORS_ORIGINS, comma-separated; empty means no cross-origin access.
    cors_origins: Annotated[list[str], NoDecode] = Field(default=[], validation_alias="LEARNCITY_CORS_ORIGINS")
    relay_enabled: bool = True
    relay_poll_interval_s: float = 1.0
    relay_batch_size: int = 100
    # Events per delivery request (`POST /internal/v1/events`), at most 1000; 1 sends each event alone.
    relay_delivery_batch: int = 100
    # While events keep coming, a relay round starts at most this often, so they travel in fuller batches.
    relay_linger_s: float = 0.1
    relay_max_attempts: int = 10
    relay_backoff_base_s: float = 0.5
    relay_backoff_cap_s: float = 60.0

    @property
    def is_development(self) -> bool:
        return self.environment is not Environment.production

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            # Browsers send an origin without a trailing slash; a copied URL often has one.
            return [str(origin).strip().rstrip("/") for origin in value if str(origin).strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path or trailing slash)")
        return origins

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if not self.is_development and self.internal_secret.get_secret_value() == DEV_INTERNAL_SECRET:
            raise ValueError("internal_secret must be set outside development (it is the public default)")
        return self
