"""Engines and sessions: the one place that turns `Settings` into database connections.

Engines are built by each process's lifespan or entry point (never at import time) and named after the process
(`application_name` on Postgres) so `pg_stat_activity` shows who holds which connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import configure_mappers

from backend.config import Settings

# What an unreachable or failing database raises: callers retry these instead of crashing the process.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, OSError, TimeoutError)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    settings: Settings, application_name: str, *, url: str | None = None, pre_ping: bool = True
) -> AsyncEngine:
    """An async engine for `url` (default: the configured database), named `application_name`. `pre_ping`: test
    each pooled connection before use (a round trip per transaction) rather than fail one statement on a dead one."""
    url = url or settings.resolved_database_url
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": pre_ping}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["max_overflow"] = settings.database_pool_size
        kwargs["pool_recycle"] = 1800
        kwargs["connect_args"] = {
            "server_settings": {"application_name": application_name[:63]},
            "timeout": 10,
            # Migrations may build indexes over large tables for minutes; every other statement is bounded.
            "command_timeout": None if application_name == "migrate" else 60,
        }
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL lets readers (the API) run while a writer (a worker) commits; busy_timeout makes concurrent writers wait
    # for the lock instead of failing at once.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # pysqlite's own transaction handling defers BEGIN in ways SQLAlchemy cannot see; emit BEGIN ourselves. Writers
    # ask for `BEGIN IMMEDIATE` (see `WRITE_OPTIONS`) so a read-then-write transaction takes the write lock up front
    # and waits on busy_timeout instead of failing on a lock upgrade; readers stay deferred and never block in WAL.
    @event.listens_for(engine.sync_engine, "connect")
    def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


# Execution options for write transactions; ignored on Postgres.
WRITE_OPTIONS = {"sqlite_begin": "IMMEDIATE"}


class Database:
    """One process's database: its engine, a session factory for reads and one for write transactions."""

    def __init__(
        self, settings: Settings, application_name: str, *, url: str | None = None, pre_ping: bool = True
    ) -> None:
        self.url = url or settings.resolved_database_url
        self.engine = create_engine(settings, application_name, url=self.url, pre_ping=pre_ping)
        self.is_sqlite = is_sqlite(self.url)
        # Core write transactions (`async with database.write_engine.begin() as connection`), for hot paths that
        # need no ORM session.
        self.write_engine = self.engine.execution_options(**WRITE_OPTIONS)
        # For one write statement that is atomic on its own (a guarded UPDATE ... RETURNING): on Postgres it runs
        # without BEGIN and COMMIT, one round trip instead of three; SQLite runs it in a write transaction.
        self.statement_engine = (
            self.write_engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(self.engine.execution_options(**WRITE_OPTIONS), expire_on_commit=False)

    async def open_pool(self) -> None:
        """Opens the pool's connections and maps the models now (a worker, before it takes tasks), not during its
        first burst of transactions: a new worker's first tasks cost what its later ones do. A failure is left for
        the first transaction to meet."""
        configure_mappers()
        if self.is_sqlite:
            return
        pool_size = getattr(self.engine.pool, "size", lambda: 1)()
        with contextlib.suppress(*DATABASE_ERRORS):
            async with contextlib.AsyncExitStack() as held:  # every connection opened is returned to the pool
                connecting = (held.enter_async_context(self.engine.connect()) for _ in range(pool_size))
                await asyncio.gather(*connecting, return_exceptions=True)

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_insert(target: AsyncSession | Database) -> Any:
    """The INSERT construct of the target's dialect, for ON CONFLICT upserts (Postgres and SQLite spell it alike)."""
    return _insert_of(_dialect_name(target))


def _dialect_name(target: AsyncSession | Database) -> str:
    engine = target.engine if isinstance(target, Database) else target.get_bind()
    return engine.dialect.name


def _insert_of(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def upsert(target: AsyncSession | Database, table: Table, *, key: Sequence[str], replace: Sequence[str]) -> Any:
    """`INSERT ... ON CONFLICT (key) DO UPDATE SET` each of `replace` to the inserted row's value, for the target's
    dialect, built once: executed with a list of rows it is one executemany with one compiled statement, where a
    multi-row `VALUES` built per call is compiled again for every call (its size is part of the statement)."""
    return _upsert(_dialect_name(target), table, tuple(key), tuple(replace))


@lru_cache(maxsize=64)
def _upsert(dialect: str, table: Table, key: tuple[str, ...], replace: tuple[str, ...]) -> Any:
    statement = _insert_of(dialect)(table)
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={name: statement.excluded[name] for name in replace}
    )
