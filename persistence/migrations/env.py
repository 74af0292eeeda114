"""Alembic's entry point: runs migrations on the connection it is handed."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from persistence.models import Base

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.begin() as new_connection:
        run_on(new_connection)


if context.is_offline_mode():
    raise SystemExit("Marquee's migrations run online only")
run_migrations()
