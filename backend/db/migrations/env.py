"""Alembic environment: runs migrations on the configured database (async engines, Postgres or SQLite)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from backend.config import get_settings
from backend.db.engine import create_engine
from backend.db.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Objects the migrations create that the models do not declare, left out of autogenerate's comparison (`alembic check`,
# tests/foundation/test_migrations.py): the logs' trigram index of migration 0002 is a Postgres-only GIN index on an
# expression (`logs.repository.SEARCH_TEXT_SQL`), which autogenerate cannot compare.
MIGRATION_ONLY = {("index", "ix_system_logs_search_trgm")}


def include_object(_object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object) -> bool:
    return (type_, name) not in MIGRATION_ONLY


def _url() -> str:
    return (
        config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_engine(get_settings(), "migrate", url=_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(run_migrations_online())
