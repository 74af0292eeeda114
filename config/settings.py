"""The settings object and how it is built.

Every variable is listed with its default in `.env.example`; nothing here connects
to anything, so building settings is always cheap and safe.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Ingress(enum.StrEnum):
    HAPROXY = "haproxy"
    DEFAULT = "default"


# Signing keys that may never be used outside development.
DEVELOPMENT_JWT_KEY = "dev:development-only-signing-key-change-me-0123456789"
DEVELOPMENT_TICKET_KEY = "development-only-ticket-key-change-me-0123456789"


class Settings(BaseSettings):
    """What an operator can set. Durations carry their unit in the name."""

    model_config = SettingsConfigDict(
        env_prefix="MARQUEE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Environment = Environment.DEVELOPMENT

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'marquee.db'}",
        validation_alias=AliasChoices("MARQUEE_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; a SQLite file under var/ when unset.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MARQUEE_REDIS_URL", "REDIS_URL"),
    )

    hold_ttl_s: float = Field(default=480.0, gt=0)
    max_seats_per_hold: int = Field(default=10, ge=1, le=100)
    # Anti-scalping: seats held at once across every showtime, per customer and
    # per client address (0: no cap). Behind Serve's HAProxy every client has
    # HAProxy's address unless a front proxy sets X-Forwarded-For, so the
    # address cap is off unless such a proxy is in place.
    max_held_seats_per_customer: int = Field(default=12, ge=0)
    max_held_seats_per_address: int = Field(default=0, ge=0)
    actor_idle_s: float = Field(default=600.0, gt=0)
    snapshot_interval_s: float = Field(default=60.0, gt=0)
    snapshot_every_events: int = Field(default=1000, ge=1)
    request_id_retention_s: float = Field(default=900.0, gt=0)
    hold_sweep_interval_s: float = Field(default=1.0, gt=0)
    # An order keeps its hold this long while the customer pays.
    # A seat map read may show the state of up to this long ago (plus one
    # actor call); replicas serve it from a copy instead of asking the actor.
    seat_map_max_age_s: float = Field(default=0.5, ge=0)
    # Replicas re-read a waiting room's settings at most this often, so a
    # room switched on starts asking for admission tokens within this long.
    waiting_room_refresh_s: float = Field(default=2.0, ge=0)
    # An admission token lets its customer hold seats this long; a customer
    # let in can always ask the room for a fresh one.
    waiting_room_admission_ttl_s: float = Field(default=600.0, gt=0)
    payment_window_s: float = Field(default=900.0, gt=0)
    # Customers may cancel a booking until this long before the showtime.
    cancellation_cutoff_s: float = Field(default=2 * 3600.0, ge=0)
    database_pool_size: int = Field(default=2, ge=1)

    ray_address: str | None = None
    ray_namespace: str = "marquee"

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    ingress: Ingress = Ingress.HAPROXY
    # Replicas per application; two use both cores of a small machine.
    # Work (holds, releases, orders, payments) one replica takes on at once:
    # new holds are refused past 5/8 of this, the rest past all of it; browsing
    # has its own budget of 3/4 of it and is refused whenever holds are.
    admission_limit: int = Field(default=64, ge=1)
    # Requests Serve lets wait for a replica beyond max_ongoing_requests.
    max_queued_requests: int = Field(default=64, ge=0)
    replicas: int = Field(default=1, ge=1)
    booking_replicas: int = Field(default=2, ge=1)
    # `make run` starts the actors of this many showtimes, the soonest on sale,
    # one after another in the background: a first customer of a cold showtime
    # waits about 1.5 s, longer when dozens start at once (0: none).
    warm_showtimes: int = Field(default=12, ge=0)
    # How long a stopping replica may finish the requests it has.
    graceful_shutdown_s: float = Field(default=20.0, ge=0)

    # Comma-separated `kid:secret` pairs, newest first. New tokens are signed
    # with the first; every listed key still verifies until it is removed.
    jwt_keys: SecretStr = SecretStr(DEVELOPMENT_JWT_KEY)
    jwt_issuer: str = "marquee"
    jwt_audience: str = "marquee-api"
    access_token_ttl_s: int = Field(default=900, ge=30)
    refresh_token_ttl_s: int = Field(default=14 * 24 * 3600, ge=60)
    api_key_rotation_grace_s: int = Field(default=24 * 3600, ge=0)
    # Signs ticket codes, so that a code cannot be forged or guessed.
    ticket_signing_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_TICKET_KEY), min_length=32
    )
    idempotency_key_ttl_s: int = Field(default=24 * 3600, ge=3600)

    # Stripe. With no secret key the built-in local provider is active.
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    # Only for tests and proxies: where the SDK sends API calls.
    stripe_api_base: str | None = None
    stripe_timeout_s: float = Field(default=5.0, gt=0)
    stripe_max_retries: int = Field(default=2, ge=0, le=5)
    stripe_webhook_tolerance_s: int = Field(default=300, ge=1)
    # How often the payments replicas look for orders a crash or a lost event
    # left unsettled, and how long an order must sit still to count as such.
    recovery_sweep_interval_s: float = Field(default=60.0, gt=0)
    recovery_idle_s: float = Field(default=120.0, ge=0)
    admin_email: str | None = None
    admin_password: SecretStr | None = None

    cors_allow_origins: str = ""
    max_request_body_bytes: int = Field(default=64 * 1024, ge=1024)
    request_timeout_s: float = Field(default=10.0, gt=0)

    # Requests per minute; holds and logins are stricter than the rest.
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_login_per_minute: int = Field(default=10, ge=1)
    # Keyed by client address; behind the HAProxy ingress alone every client
    # shares one address, so this is then a limit for the whole system.
    rate_limit_register_per_minute: int = Field(default=30, ge=1)
    rate_limit_holds_per_minute: int = Field(default=30, ge=1)
    catalog_cache_ttl_s: float = Field(default=30.0, ge=0)
    redis_timeout_s: float = Field(default=0.25, gt=0)

    log_level: str = "INFO"
    log_json: bool = False
    # Serve's per-request access log line costs a replica about 6 % of its CPU
    # in a rush; HAProxy's exporter counts requests by status anyway.
    access_log: bool = False

    @field_validator("database_url")
    @classmethod
    def make_sqlite_path_absolute(cls, value: str) -> str:
        """Anchor a relative SQLite path at the project root.

        Ray starts actors in their own working directory, so a relative path would
        name a different file in every process.
        """
        prefix = "sqlite:///"
        if not value.startswith(prefix) or value == "sqlite:///:memory:":
            return value
        path = Path(value.removeprefix(prefix))
        if path.is_absolute():
            return value
        return f"{prefix}{PROJECT_ROOT / path}"

    @model_validator(mode="after")
    def refuse_placeholder_secrets_in_production(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            keys = self.jwt_keys.get_secret_value()
            if DEVELOPMENT_JWT_KEY in keys:
                raise ValueError(
                    "MARQUEE_JWT_KEYS still holds the development key; set real "
                    "keys before running in production"
                )
            if self.ticket_signing_key.get_secret_value() == DEVELOPMENT_TICKET_KEY:
                raise ValueError(
                    "MARQUEE_TICKET_SIGNING_KEY is the development key; set a "
                    "real one before running in production"
                )
        return self

    def signing_keys(self) -> list[tuple[str, str]]:
        """(kid, secret) pairs from `jwt_keys`, newest first."""
        pairs = []
        for item in self.jwt_keys.get_secret_value().split(","):
            kid, separator, secret = item.strip().partition(":")
            if not separator or not kid or len(secret) < 32:
                raise ValueError(
                    "each MARQUEE_JWT_KEYS entry is kid:secret with a secret of "
                    "at least 32 characters"
                )
            pairs.append((kid, secret))
        return pairs

    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allow_origins.split(",") if o.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
