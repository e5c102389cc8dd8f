"""Fresh, migrated databases for tests: one per test, on Postgres (from a template) or on SQLite (a copied file).

The template is prepared once per test session by the migrate step itself (`backend.migrate.migrate_database`: the
schema, then the line catalogue), so every test starts from the database a deployment starts from."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from backend.config import Settings
from backend.migrate import migrate_database


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: no .env files read, the given database, quick timings."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "kafka_bootstrap_servers": "",
        "centralized_logging_enabled": False,
        "system_api_token": "test-key",
        "vmtr_socket_enabled": False,
        # A test reads what it just wrote: the API checks for new data on every request.
        "api_snapshot_check_seconds": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _asyncpg_dsn(url: URL, database: str) -> str:
    return url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates databases on one server from a template migrated (and seeded) once per test session."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.template = f"ratp_template_{uuid.uuid4().hex[:8]}"
        self._ready = False

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(_asyncpg_dsn(self.server_url, "postgres"))

    async def _prepare_template(self) -> None:
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await admin.close()
        url = self.server_url.set(database=self.template).render_as_string(hide_password=False)
        await migrate_database(settings_for(url), url=url)
        self._ready = True

    async def create(self, *, migrated: bool = True) -> str:
        if migrated and not self._ready:
            await self._prepare_template()
        name = f"test_{uuid.uuid4().hex[:12]}"
        admin = await self._admin()
        try:
            template = f' TEMPLATE "{self.template}"' if migrated else ""
            await admin.execute(f'CREATE DATABASE "{name}"{template}')
        finally:
            await admin.close()
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    async def drop(self, url: str) -> None:
        name = make_url(url).database
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def close(self) -> None:
        if self._ready:
            admin = await self._admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            finally:
                await admin.close()


class SqliteDatabases:
    """SQLite files copied from one migrated (and seeded) once per test session."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.sqlite3"
        self._ready = False

    async def create(self, *, migrated: bool = True) -> str:
        path = self.directory / f"test_{uuid.uuid4().hex[:12]}.sqlite3"
        if migrated:
            if not self._ready:
                url = f"sqlite+aiosqlite:///{self.template}"
                await migrate_database(settings_for(url), url=url)
                self._ready = True
            shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"
