"""Applying migrations, once: a migrate step runs them; every other process waits for the schema to be current.

Concurrent `upgrade` runs are serialised (a Postgres advisory lock, a file lock beside a SQLite database), so two
services started together never race each other creating tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.config import BACKEND_DIR, Settings
from backend.db.engine import create_engine

logger = logging.getLogger("backend.db.migrate")

# An arbitrary, fixed key for pg_advisory_lock: "ratp" in ASCII.
_MIGRATION_LOCK_KEY = 0x72617470


class SchemaNotReadyError(RuntimeError):
    """The database is unreachable or its schema is not at the code's migration head."""


def alembic_config(url: str) -> Config:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(BACKEND_DIR / "db" / "migrations"))
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@contextlib.contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_alembic(connection: Connection, url: str, action: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        connection.commit()
    try:
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
        connection.commit()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            connection.commit()


async def _migrate(settings: Settings, action: str, revision: str, url: str | None) -> None:
    url = url or settings.resolved_database_url
    engine = create_engine(settings, "migrate", url=url)
    try:
        with _sqlite_file_lock(url):
            async with engine.connect() as connection:
                await connection.run_sync(_run_alembic, url, action, revision)
    finally:
        await engine.dispose()


async def upgrade_database(settings: Settings, revision: str = "head", *, url: str | None = None) -> None:
    await _migrate(settings, "upgrade", revision, url)


async def downgrade_database(settings: Settings, revision: str, *, url: str | None = None) -> None:
    await _migrate(settings, "downgrade", revision, url)


def _current(connection: Connection) -> str | None:
    # Read alembic's version table directly: MigrationContext would log "Context impl" on every check.
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def wait_for_schema(engine: AsyncEngine, timeout: float = 60.0, *, stopping: asyncio.Event | None = None) -> None:
    """Wait until the schema is at head (a migrate step may still be running); raise with the reason otherwise,
    or as soon as `stopping` is set."""
    head = head_revision()
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + 5.0
    reason = "not checked"
    while True:
        try:
            current = await current_revision(engine)
            if current == head:
                return
            reason = f"schema is at revision {current or 'none'}, the code needs {head}"
        except Exception as exc:  # noqa: BLE001 - any connection failure is reported the same way
            reason = f"database unreachable: {type(exc).__name__}: {exc}"
        hint = "run the migrate step, `python -m backend.migrate`"
        if time.monotonic() >= deadline or (stopping is not None and stopping.is_set()):
            raise SchemaNotReadyError(f"{reason}; {hint}")
        if time.monotonic() >= next_report:
            logger.warning("waiting for the database schema: %s; %s", reason, hint)
            next_report = time.monotonic() + 15.0
        if stopping is None:
            await asyncio.sleep(1.0)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)
