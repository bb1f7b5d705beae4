"""Settings shared by every service; each service subclasses with its own env prefix."""

from enum import StrEnum
from typing import Self

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_INTERNAL_SECRET = "dev-only-internal-secret-change-me"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ServiceSettings(BaseSettings):
    """Common settings. A subclass sets `env_prefix`, e.g. `ORGS_`, so `ORGS_DATABASE_URL` applies."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

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
    relay_enabled: bool = True
    relay_poll_interval_s: float = 1.0
    relay_batch_size: int = 100
    relay_max_attempts: int = 10
    relay_backoff_base_s: float = 0.5
    relay_backoff_cap_s: float = 60.0

    @property
    def is_development(self) -> bool:
        return self.environment is not Environment.production

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if not self.is_development and self.internal_secret.get_secret_value() == DEV_INTERNAL_SECRET:
            raise ValueError("internal_secret must be set outside development (it is the public default)")
        return self
