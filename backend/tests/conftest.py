"""Fixtures shared by every test suite: real Postgres and Kafka, fresh databases, settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.config import Settings
from backend.db.engine import Database
from backend.tests.support.databases import PostgresDatabases, SqliteDatabases, settings_for
from backend.tests.support.services import (
    KafkaBroker,
    PostgresServer,
    kafka_broker,
    own_postgres_server,
    postgres_server,
)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_databases(postgres_server_url: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server_url)
    yield databases
    asyncio.run(databases.close())


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(Path(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture
async def postgres_url(postgres_databases: PostgresDatabases) -> AsyncIterator[str]:
    """A fresh, migrated Postgres database for one test."""
    url = await postgres_databases.create()
    yield url
    await postgres_databases.drop(url)


@pytest.fixture
async def sqlite_url(sqlite_databases: SqliteDatabases) -> str:
    """A fresh, migrated SQLite database for one test."""
    return await sqlite_databases.create()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, on each backend in turn."""
    if request.param == "sqlite":
        yield await request.getfixturevalue("sqlite_databases").create()
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = await databases.create()
    yield url
    await databases.drop(url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings, "tests")
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    """The session's Kafka broker (shared: use unique topic and group names)."""
    with kafka_broker() as broker:
        yield broker


@pytest.fixture
def own_kafka() -> Iterator[KafkaBroker]:
    """A private Kafka broker that the test may stop and restart."""
    with kafka_broker(own=True) as broker:
        yield broker


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A private Postgres server that the test may stop and restart (database `ratp`, not migrated)."""
    with own_postgres_server() as server:
        yield server
