"""The catalogue sync copies lines, stations and station order into the database: idempotent, race-safe, and it
leaves station lists fetched at run time alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from backend.api.app import create_app
from backend.catalogue import get_catalogue
from backend.config import Settings
from backend.db.engine import Database
from backend.db.migrate import upgrade_database
from backend.db.models import Line, LineStation, Station
from backend.livedata.catalogue_sync import catalogue_kept_in_sync, sync_catalogue
from backend.tests.api.conftest import api_settings_for
from backend.tests.api.seed import add
from backend.tests.support.asgi import running


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


async def test_api_starts_on_an_unmigrated_database_and_syncs_once_it_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/later.sqlite3"
    settings = api_settings_for(url)
    async with running(create_app(settings)) as client:
        response = await client.get("/api/lines")
        assert response.status_code == 503
        assert "GET /health" in response.json()["detail"]
        assert (await client.get("/api/meta")).status_code == 200

    database = Database(settings, "tests")
    try:
        async with catalogue_kept_in_sync(database, retry_seconds=0.1) as state:
            assert state.synced_at is None
            assert state.error is not None
            await upgrade_database(settings, url=url)
            for _ in range(100):
                if state.synced_at is not None:
                    break
                await asyncio.sleep(0.1)
            assert state.synced_at is not None
            assert state.error is None
        assert await _count(database, Line) == len(get_catalogue().lines)
    finally:
        await database.dispose()


async def test_api_lines_come_from_the_synced_catalogue(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/lines")).json()
    ids = [line["id"] for network in body["networks"] for line in network["lines"]]
    assert ids == [line.id for line in get_catalogue().lines]
