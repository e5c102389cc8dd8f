"""The catalogue sync copies lines, stations and station order into the database: idempotent, race-safe, and it
leaves station lists fetched at run time alone. The migrate step runs it (on an empty database, once more as a
no-op); the API only reads, and says clearly when the migrate step has not put the catalogue there."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from backend.api.app import create_app
from backend.catalogue import get_catalogue
from backend.config import REPO_DIR, Settings
from backend.db.engine import Database
from backend.db.migrate import current_revision, head_revision, upgrade_database
from backend.db.models import Line, LineStation, Station
from backend.livedata.catalogue_sync import catalogue_watched, missing_lines, sync_catalogue, wait_for_catalogue
from backend.migrate import migrate_database
from backend.tests.api.conftest import ADMIN, api_settings_for
from backend.tests.api.seed import add
from backend.tests.support.asgi import running
from backend.tests.support.databases import PostgresDatabases, settings_for
from backend.tests.support.processes import service_env


async def _count(database: Database, model: type[object]) -> int:
    async with database.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def _catalogue_places() -> int:
    catalogue = get_catalogue()
    return sum(len(catalogue.stations_for(line.id)) for line in catalogue.lines)


async def test_sync_copies_the_catalogue_and_a_second_run_changes_nothing(database: Database) -> None:
    catalogue = get_catalogue()
    await sync_catalogue(database)
    assert await _count(database, Line) == len(catalogue.lines)
    assert await _count(database, Station) == len(catalogue.stations())
    assert await _count(database, LineStation) == _catalogue_places()
    async with database.sessions() as session:
        chatelet = await session.get(Station, "chatelet-les-halles")
        metro_1 = await session.get(Line, "metro:1")
    assert chatelet is not None
    assert chatelet.search_name == "chatelet les halles"
    assert metro_1 is not None
    assert (metro_1.colour, metro_1.sort_order) == ("#FFCD00", 0)

    await sync_catalogue(database)
    assert await _count(database, LineStation) == _catalogue_places()


async def test_sync_restores_what_differs_from_the_catalogue(database: Database) -> None:
    await sync_catalogue(database)
    async with database.write_sessions() as session, session.begin():
        await session.execute(update(Line).where(Line.id == "metro:1").values(colour="#000000"))
        await session.execute(update(Station).where(Station.id == "nation").values(search_name="wrong"))
    await add(
        database,
        LineStation(line_id="metro:1", direction="A", branch=7, position=0, station_id="nation", source="catalogue"),
    )
    await sync_catalogue(database)
    async with database.sessions() as session:
        metro_1 = await session.get(Line, "metro:1")
        nation = await session.get(Station, "nation")
        stray = await session.get(LineStation, ("metro:1", "A", 7, 0))
    assert metro_1 is not None
    assert metro_1.colour == "#FFCD00"
    assert nation is not None
    assert nation.search_name == "nation"
    assert stray is None


async def test_sync_leaves_bus_stops_fetched_at_run_time_alone(database: Database) -> None:
    await sync_catalogue(database)
    await add(database, Station(id="arret-x", name="Arrêt X", search_name="arret x", town=None, lat=None, lon=None))
    await add(
        database,
        LineStation(line_id="bus:38", direction="A", branch=0, position=0, station_id="arret-x", source="prim"),
    )
    await sync_catalogue(database)
    async with database.sessions() as session:
        kept = await session.get(LineStation, ("bus:38", "A", 0, 0))
        station = await session.get(Station, "arret-x")
    assert kept is not None
    assert kept.source == "prim"
    assert station is not None


async def test_concurrent_syncs_from_several_processes_all_succeed(settings: Settings) -> None:
    databases = [Database(settings, f"sync-{index}") for index in range(3)]
    try:
        await asyncio.gather(*(sync_catalogue(database) for database in databases))
        assert await _count(databases[0], LineStation) == _catalogue_places()
        assert await _count(databases[0], Line) == len(get_catalogue().lines)
    finally:
        for database in databases:
            await database.dispose()


async def test_api_starts_on_an_unmigrated_database_and_finds_the_catalogue_once_the_migrate_step_ran(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/later.sqlite3"
    settings = api_settings_for(url)
    async with running(create_app(settings)) as client:
        response = await client.get("/api/lines")
        assert response.status_code == 503
        assert "GET /health" in response.json()["detail"]
        assert (await client.get("/api/meta")).status_code == 200

    database = Database(settings, "tests")
    try:
        async with catalogue_watched(database, retry_seconds=0.1) as state:
            assert state.found_at is None
            assert state.problem is not None
            await migrate_database(settings, url=url)
            for _ in range(100):
                if state.found_at is not None:
                    break
                await asyncio.sleep(0.1)
            assert state.found_at is not None
            assert state.problem is None
        assert await _count(database, Line) == len(get_catalogue().lines)
    finally:
        await database.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_migrate_step_seeds_an_empty_database_and_a_second_run_writes_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "postgres":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = await databases.create(migrated=False)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3"
    settings = settings_for(url)
    catalogue = get_catalogue()
    database = Database(settings, "tests")
    try:
        first = await migrate_database(settings, url=url)
        assert await current_revision(database.engine) == head_revision()
        assert (first.lines, first.stations, first.line_stations, first.line_stations_removed) == (
            len(catalogue.lines),
            len(catalogue.stations()),
            _catalogue_places(),
            0,
        )
        assert await _count(database, Line) == len(catalogue.lines)
        assert await _count(database, LineStation) == _catalogue_places()
        assert await missing_lines(database) == []

        second = await migrate_database(settings, url=url)
        assert not second.any
        assert await _count(database, Line) == len(catalogue.lines)
        assert await _count(database, Station) == len(catalogue.stations())
        assert await _count(database, LineStation) == _catalogue_places()
    finally:
        await database.dispose()
        if backend == "postgres":
            await databases.drop(url)


def test_the_migrate_step_runs_as_a_process_and_says_what_it_wrote(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/process.sqlite3"
    env = service_env(database_url=url)
    first = subprocess.run(
        [sys.executable, "-m", "backend.migrate"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    lines = len(get_catalogue().lines)
    assert f"catalogue synced: {lines} lines" in first.stdout + first.stderr
    second = subprocess.run(
        [sys.executable, "-m", "backend.migrate"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert "catalogue already in sync" in second.stdout + second.stderr


async def test_the_api_on_a_database_the_migrate_step_never_seeded_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/schema-only.sqlite3"
    await upgrade_database(settings_for(url), url=url)  # the schema alone, as `alembic upgrade head` leaves it
    settings = api_settings_for(url)
    with caplog.at_level(logging.ERROR, logger="backend.livedata.catalogue_sync"):
        async with running(create_app(settings)) as client:
            lines = await client.get("/api/lines")
            search = await client.get("/api/stations/search", params={"q": "chatelet"})
            detailed = (await client.get("/health", headers=ADMIN)).json()
            anonymous = (await client.get("/health")).json()
    for refused in (lines, search):
        assert refused.status_code == 503
        assert "python -m backend.migrate" in refused.json()["detail"]
    assert detailed["status"] == anonymous["status"] == "degraded"
    assert detailed["database"]["status"] == anonymous["database"]["status"] == "outdated"
    assert "the line catalogue is not in the database" in detailed["database"]["detail"]
    assert "python -m backend.migrate" in detailed["database"]["detail"]
    assert "migrate step" in anonymous["database"]["detail"]
    assert any("python -m backend.migrate" in record.getMessage() for record in caplog.records)
    database = Database(settings, "tests")
    try:
        assert await _count(database, Line) == 0  # the API wrote nothing
    finally:
        await database.dispose()


async def test_the_scheduler_waits_for_the_catalogue_instead_of_writing_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/waiting.sqlite3"
    settings = settings_for(url)
    await upgrade_database(settings, url=url)
    database = Database(settings, "tests")
    stopping = asyncio.Event()
    try:
        waiting = asyncio.create_task(wait_for_catalogue(database, stopping, retry_seconds=0.1))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert await _count(database, Line) == 0
        await migrate_database(settings, url=url)
        assert await asyncio.wait_for(waiting, timeout=30) is True

        stopping.set()  # a scheduler stopped while it waits leaves the wait at once
        assert await wait_for_catalogue(database, stopping) is False
    finally:
        await database.dispose()


async def test_api_lines_come_from_the_synced_catalogue(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/lines")).json()
    ids = [line["id"] for network in body["networks"] for line in network["lines"]]
    assert ids == [line.id for line in get_catalogue().lines]
