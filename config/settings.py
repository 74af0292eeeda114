"""The settings object and how it is built.

Every variable is listed with its default in `.env.example`; nothing here connects
to anything, so building settings is always cheap and safe.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


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
    actor_idle_s: float = Field(default=600.0, gt=0)
    snapshot_interval_s: float = Field(default=60.0, gt=0)
    snapshot_every_events: int = Field(default=1000, ge=1)
    request_id_retention_s: float = Field(default=900.0, gt=0)
    hold_sweep_interval_s: float = Field(default=1.0, gt=0)
    database_pool_size: int = Field(default=2, ge=1)

    ray_address: str | None = None
    ray_namespace: str = "marquee"

    log_level: str = "INFO"

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return Settings()
