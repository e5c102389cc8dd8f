"""Copies the line catalogue into the database: lines, stations and the stations' order on each rail line.

`sync_catalogue` is idempotent and safe to run from several processes at once (API and scheduler both call it at
start-up): it compares the database with the catalogue and writes only what differs, with upserts, in one write
transaction. Station lists of lines the catalogue has no stations for (bus lines, whose stops a source fetches at run
time with a `source` other than "catalogue") are left alone; for rail lines the catalogue is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue import Catalogue, get_catalogue, normalise_name
from backend.clock import utcnow
from backend.db.engine import Database, dialect_insert
from backend.db.models import Line, LineStation, Station

logger = logging.getLogger("backend.livedata.catalogue_sync")

CATALOGUE_SOURCE = "catalogue"
_CHUNK = 500

_LINE_COLUMNS = ("network", "code", "name", "idfm_line_id", "colour", "text_colour", "operator", "sort_order")
_STATION_COLUMNS = ("name", "search_name", "town", "lat", "lon")
_LINE_STATION_KEY = ("line_id", "direction", "branch", "position")
_LINE_STATION_COLUMNS = ("station_id", "upstream_ref", "source")


async def sync_catalogue(database: Database, catalogue: Catalogue | None = None) -> None:
    """Make the database's lines, stations and catalogue line_stations match the catalogue."""
    catalogue = catalogue or get_catalogue()
    lines = {
        line.id: {
            "network": line.network,
            "code": line.code,
            "name": line.name,
            "idfm_line_id": line.idfm_line_id,
            "colour": line.colour,
            "text_colour": line.text_colour,
            "operator": line.operator,
            "sort_order": index,
        }
        for index, line in enumerate(catalogue.lines)
    }
    stations = {
        station.id: {
            "name": station.name,
            "search_name": normalise_name(station.name),
            "town": station.town,
            "lat": station.lat,
            "lon": station.lon,
        }
        for station in catalogue.stations()
    }
    line_stations: dict[tuple[Any, ...], dict[str, Any]] = {}
    for line in catalogue.lines:
        for place in catalogue.stations_for(line.id):
            key = (place.line_id, place.direction, place.branch, place.position)
            line_stations[key] = {"station_id": place.station.id, "upstream_ref": None, "source": CATALOGUE_SOURCE}

    async with database.write_sessions() as session, session.begin():
        existing_lines = {
            row.id: _values(row, _LINE_COLUMNS) for row in (await session.execute(select(Line))).scalars()
        }
        changed_lines = _changed(lines, existing_lines, _LINE_COLUMNS)
        await _upsert(session, database, Line, changed_lines, ("id",), _LINE_COLUMNS)

        existing_stations = {
            row.id: _values(row, _STATION_COLUMNS) for row in (await session.execute(select(Station))).scalars()
        }
        changed_stations = _changed(stations, existing_stations, _STATION_COLUMNS)
        await _upsert(session, database, Station, changed_stations, ("id",), _STATION_COLUMNS)

        # Rows of the lines the catalogue orders, whatever their source (the catalogue wins for these lines), plus
        # every catalogue row (a line may have lost its station data).
        catalogue_line_ids = {key[0] for key in line_stations}
        result = await session.execute(
            select(LineStation).where(
                (LineStation.source == CATALOGUE_SOURCE) | LineStation.line_id.in_(catalogue_line_ids)
            )
        )
        existing_places = {
            _values(row, _LINE_STATION_KEY): _values(row, _LINE_STATION_COLUMNS) for row in result.scalars()
        }
        wanted_places = {key: tuple(value[c] for c in _LINE_STATION_COLUMNS) for key, value in line_stations.items()}
        removed = [key for key in existing_places if key not in wanted_places]
        for chunk in _chunks(removed):
            await session.execute(delete(LineStation).where(tuple_(*_key_columns()).in_(chunk)))
        changed_places = [
            {**dict(zip(_LINE_STATION_KEY, key, strict=True)), **line_stations[key]}
            for key, value in wanted_places.items()
            if existing_places.get(key) != value
        ]
        await _upsert(session, database, LineStation, changed_places, _LINE_STATION_KEY, _LINE_STATION_COLUMNS)

    if changed_lines or changed_stations or changed_places or removed:
        logger.info(
            "catalogue synced: %d lines, %d stations, %d line stations written, %d line stations removed",
            len(changed_lines),
            len(changed_stations),
            len(changed_places),
            len(removed),
        )
    else:
        logger.debug("catalogue already in sync")


def _key_columns() -> tuple[Any, ...]:
    return (LineStation.line_id, LineStation.direction, LineStation.branch, LineStation.position)


def _values(row: Any, columns: Iterable[str]) -> tuple[Any, ...]:
    return tuple(getattr(row, column) for column in columns)


def _changed(
    wanted: dict[str, dict[str, Any]], existing: dict[str, tuple[Any, ...]], columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Rows of `wanted` (by id) that are missing from or differ in `existing`."""
    return [
        {"id": ident, **values}
        for ident, values in wanted.items()
        if existing.get(ident) != tuple(values[column] for column in columns)
    ]


def _chunks(rows: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


async def _upsert(
    session: AsyncSession,
    database: Database,
    model: type[Any],
    rows: list[dict[str, Any]],
    key: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    # ON CONFLICT DO UPDATE makes two concurrent syncs inserting the same new row both succeed.
    if not rows:
        return
    statement = dialect_insert(database)(model)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={column: statement.excluded[column] for column in columns}
    )
    # A list of parameter sets: SQLAlchemy batches it ("insertmanyvalues") with one compiled statement.
    await session.execute(statement, rows)


@dataclass
class CatalogueSyncState:
    """What the API knows about its catalogue sync (read by whoever wants to report it)."""

    synced_at: datetime | None = None
    error: str | None = None
    attempts: int = 0


@contextlib.asynccontextmanager
async def catalogue_kept_in_sync(
    database: Database, *, first_attempt_timeout: float = 30.0, retry_seconds: float = 15.0
) -> AsyncIterator[CatalogueSyncState]:
    """Sync the catalogue at start-up; if the database is down or not migrated yet, log it and keep retrying in the
    background until it works (the process starts either way)."""
    state = CatalogueSyncState()

    async def attempt(timeout: float) -> bool:
        state.attempts += 1
        try:
            async with asyncio.timeout(timeout):
                await sync_catalogue(database)
        except Exception as exc:  # noqa: BLE001 - a down or unmigrated database must not stop the process
            state.error = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("catalogue sync failed (attempt %d), retrying: %s", state.attempts, state.error)
            return False
        state.synced_at, state.error = utcnow(), None
        return True

    async def keep_trying() -> None:
        while True:
            await asyncio.sleep(retry_seconds)
            if await attempt(first_attempt_timeout):
                return

    retry: asyncio.Task[None] | None = None
    if not await attempt(first_attempt_timeout):
        retry = asyncio.create_task(keep_trying(), name="catalogue-sync-retry")
    try:
        yield state
    finally:
        if retry is not None:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
