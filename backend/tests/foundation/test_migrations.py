"""Migrations create the schema on Postgres and SQLite, round-trip, and never race each other."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.config import BACKEND_DIR, REPO_DIR
from backend.db.engine import create_engine
from backend.db.migrate import current_revision, downgrade_database, head_revision, upgrade_database
from backend.db.models import Base
from backend.tests.support.databases import PostgresDatabases, SqliteDatabases, settings_for

EXPECTED_TABLES = {
    "lines",
    "stations",
    "line_stations",
    "departures",
    "vehicle_positions",
    "traffic_status",
    "line_snapshots",
    "task_runs",
    "scheduler_runs",
    "stop_boards",
    "line_stop_lists",
    "workers",
    "fleet_settings",
    "system_logs",
    "upstream_usage",
    "upstream_budgets",
    "upstream_key_status",
    "line_views",
    "line_disruptions",
    "traffic_feed",
}


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}


async def _indexes(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda c: inspect(c).get_indexes(table))
    return {index["name"] for index in found if index["name"]}


async def test_upgrade_creates_every_table_and_index(database_url: str) -> None:
    engine = create_engine(settings_for(database_url), "tests", url=database_url)
    try:
        assert await _tables(engine) == EXPECTED_TABLES == set(Base.metadata.tables)
        assert await current_revision(engine) == head_revision()
        task_indexes = await _indexes(engine, "task_runs")
        assert {"uq_task_runs_active_line", "ix_task_runs_status_available", "ix_task_runs_unpublished"} <= task_indexes
        assert {"ix_system_logs_created", "ix_system_logs_service_created"} <= await _indexes(engine, "system_logs")
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_downgrade_to_base_then_upgrade_round_trips_on_postgres(postgres_url: str) -> None:
    settings = settings_for(postgres_url)
    engine = create_engine(settings, "tests", url=postgres_url)
    try:
        await downgrade_database(settings, "base", url=postgres_url)
        assert await _tables(engine) == set()
        assert await current_revision(engine) is None
        await upgrade_database(settings, url=postgres_url)
        assert await _tables(engine) == EXPECTED_TABLES
    finally:
        await engine.dispose()


async def test_downgrade_to_base_then_upgrade_round_trips_on_sqlite(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url)
    await downgrade_database(settings, "base", url=sqlite_url)
    await upgrade_database(settings, url=sqlite_url)
    engine = create_engine(settings, "tests", url=sqlite_url)
    try:
        assert await _tables(engine) == EXPECTED_TABLES
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_migrate_commands_do_not_race(backend: str, request: pytest.FixtureRequest) -> None:
    databases: PostgresDatabases | SqliteDatabases = request.getfixturevalue(f"{backend}_databases")
    url = await databases.create(migrated=False)
    env = {"DATABASE_URL": url, "PYTHONPATH": str(REPO_DIR), "PATH": "/usr/bin:/bin"}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "backend.db",
            "upgrade",
            cwd=BACKEND_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [await process.communicate() for process in processes]
    failures = [err.decode() for (_out, err), p in zip(results, processes, strict=True) if p.returncode != 0]
    assert failures == []
    engine = create_engine(settings_for(url), "tests", url=url)
    try:
        assert await _tables(engine) == EXPECTED_TABLES
    finally:
        await engine.dispose()


def test_alembic_cli_upgrade_head_works_from_backend_dir(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    env = {"DATABASE_URL": url, "PYTHONPATH": str(REPO_DIR), "PATH": "/usr/bin:/bin"}
    alembic = str(BACKEND_DIR / "venv" / "bin" / "alembic")
    command = (
        [alembic]
        if subprocess.run(["test", "-x", alembic], check=False).returncode == 0
        else [sys.executable, "-m", "alembic"]
    )
    done = subprocess.run([*command, "upgrade", "head"], cwd=BACKEND_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    current = subprocess.run(
        [sys.executable, "-m", "backend.db", "current"], cwd=BACKEND_DIR, env=env, capture_output=True, text=True
    )
    assert current.stdout.strip() == head_revision()
