"""Schema migrations with Alembic, run by entry points at start-up.

Kept apart from `persistence.database` so that processes which never migrate
(showtime actors) do not import Alembic.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from persistence.database import create_database_engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    # Alembic's ini interpolation treats % specially.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema at `url` up to the newest migration."""
    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    logger.info("database schema is up to date")
