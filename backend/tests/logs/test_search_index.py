"""Migration 0002: the trigram index on Postgres, usable by the search query exactly as the repository writes it, and
a downgrade that removes it. On SQLite the migration does nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from backend.db.engine import create_engine
from backend.db.migrate import downgrade_database, upgrade_database
from backend.logs.repository import LogFilters, search_query
from backend.tests.support.databases import settings_for

INDEX = "ix_system_logs_search_trgm"


async def _indexes(url: str) -> set[str]:
    engine = create_engine(settings_for(url), "tests", url=url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(lambda c: inspect(c).get_indexes("system_logs"))
    finally:
        await engine.dispose()
    return {index["name"] for index in found if index["name"]}


@pytest.mark.postgres
async def test_the_search_query_can_use_the_trigram_index(postgres_url: str) -> None:
    assert INDEX in await _indexes(postgres_url)
    query = search_query(LogFilters(search="timeout 50%"), None).limit(101)
    engine = create_engine(settings_for(postgres_url), "tests", url=postgres_url)
    try:
        async with engine.connect() as connection:
            sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
            # On an empty table scanning is always cheapest: forbid the scans that ignore the search to see whether
            # the trigram index matches the query's expression.
            await connection.execute(text("SET enable_seqscan = off"))
            await connection.execute(text("SET enable_indexscan = off"))
            plan = "\n".join((await connection.execute(text(f"EXPLAIN {sql}"))).scalars())
    finally:
        await engine.dispose()
    assert "'%timeout 50\\%%'" in plan, plan
    assert INDEX in plan, plan


@pytest.mark.postgres
async def test_downgrading_0002_drops_the_index_and_upgrading_restores_it(postgres_url: str) -> None:
    settings = settings_for(postgres_url)
    await downgrade_database(settings, "0001", url=postgres_url)
    assert INDEX not in await _indexes(postgres_url)
    await upgrade_database(settings, url=postgres_url)
    assert INDEX in await _indexes(postgres_url)


async def test_the_migration_leaves_sqlite_alone(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url)
    assert INDEX not in await _indexes(sqlite_url)
    await downgrade_database(settings, "0001", url=sqlite_url)
    await upgrade_database(settings, url=sqlite_url)
    assert INDEX not in await _indexes(sqlite_url)
