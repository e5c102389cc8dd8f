"""Copies the line catalogue into the database: lines, stations and the stations' order on each rail line.

`sync_catalogue` is run by the migrate step only (`python -m backend.migrate`, right after the schema upgrade), so a
release's migrate step brings both the schema and the catalogue to what its code expects. It is idempotent and safe
to run from several processes at once: it compares the database with the catalogue and writes only what differs,
with upserts, in one write transaction. Station lists of lines the catalogue has no stations for (bus lines, whose
stops a source fetches at run time with a `source` other than "catalogue") are left alone; for rail lines the
catalogue is the truth.

The other processes only read: `missing_lines` says which of the code's lines the database lacks,
`catalogue_watched` (the API) and `wait_for_catalogue` (the scheduler) report a database the migrate step has not
prepared, naming the command, instead of writing the catalogue themselves.
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
from backend.db.engine import DATABASE_ERRORS, Database, dialect_insert
from backend.db.models import Line, LineStation, Station

logger = logging.getLogger("backend.livedata.catalogue_sync")

CATALOGUE_SOURCE = "catalogue"
MIGRATE_COMMAND = "python -m backend.migrate"
_CHUNK = 500

_LINE_COLUMNS = ("network", "code", "name", "idfm_line_id", "colour", "text_colour", "operator", "sort_order")
_STATION_COLUMNS = ("name", "search_name", "town", "lat", "lon")
_LINE_STATION_KEY = ("line_id", "direction", "branch", "position")
_LINE_STATION_COLUMNS = ("station_id", "upstream_ref", "source")


@dataclass(frozen=True)
class CatalogueChanges:
    """What one sync wrote: rows inserted or updated, and line stations removed (all zero when already in sync)."""

    lines: int
    stations: int
    line_stations: int
    line_stations_removed: int

    @property
    def any(self) -> bool:
        return bool(self.lines or self.stations or self.line_stations or self.line_stations_removed)

    def __str__(self) -> str:
        return (
            f"{self.lines} lines, {self.stations} stations, {self.line_stations} line stations written, "
            f"{self.line_stations_removed} line stations removed"
        )


async def sync_catalogue(database: Database, catalogue: Catalogue | None = None) -> CatalogueChanges:
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

    changes = CatalogueChanges(len(changed_lines), len(changed_stations), len(changed_places), len(removed))
    if changes.any:
        logger.info("catalogue synced: %s", changes)
    else:
        logger.info("catalogue already in sync")
    return changes


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


async def missing_lines(database: Database, catalogue: Catalogue | None = None) -> list[str]:
    """The catalogue's line ids that the database lacks (every one on a database the migrate step never seeded)."""
    catalogue = catalogue or get_catalogue()
    async with database.sessions() as session:
        present = set((await session.execute(select(Line.id))).scalars())
    return [line.id for line in catalogue.lines if line.id not in present]


async def catalogue_problem(database: Database) -> str | None:
    """Why the database cannot serve this code's catalogue (with the command that fixes it), or None when it can.
    Database errors propagate."""
    missing = await missing_lines(database)
    if not missing:
        return None
    total = len(get_catalogue().lines)
    if len(missing) == total:
        found = "the line catalogue is not in the database"
    else:
        found = f"{len(missing)} of the catalogue's {total} lines are not in the database (e.g. {missing[0]})"
    return f"{found}: run the migrate step, `{MIGRATE_COMMAND}`"


@dataclass
class CatalogueState:
    """What a process knows of the catalogue in its database (read by whoever reports it)."""

    found_at: datetime | None = None  # when the catalogue was first seen complete
    problem: str | None = None


@contextlib.asynccontextmanager
async def catalogue_watched(database: Database, *, retry_seconds: float = 15.0) -> AsyncIterator[CatalogueState]:
    """Check at start-up that the migrate step put the catalogue in the database; when it did not (or the database is
    down or unmigrated), log why with the command to run, and check again in the background until it is there. The
    process starts either way and writes nothing."""
    state = CatalogueState()

    async def check() -> bool:
        try:
            async with asyncio.timeout(30.0):
                problem = await catalogue_problem(database)
        except Exception as exc:  # noqa: BLE001 - a down or unmigrated database must not stop the process
            problem = f"database not ready: {type(exc).__name__}: {exc}"[:400] + "; see GET /health"
        if problem is not None:
            if problem != state.problem:
                logger.error("catalogue not available, checking again every %g s: %s", retry_seconds, problem)
            state.problem = problem
            return False
        if state.problem is not None:
            logger.info("catalogue found in the database")
        state.found_at, state.problem = utcnow(), None
        return True

    async def keep_checking() -> None:
        while True:
            await asyncio.sleep(retry_seconds)
            if await check():
                return

    watch: asyncio.Task[None] | None = None
    if not await check():
        watch = asyncio.create_task(keep_checking(), name="catalogue-watch")
    try:
        yield state
    finally:
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch


async def wait_for_catalogue(database: Database, stopping: asyncio.Event, *, retry_seconds: float = 15.0) -> bool:
    """Wait until the catalogue is in the database, logging why not (with the command to run) whenever the reason
    changes and every minute meanwhile; False when `stopping` is set first."""
    reported: tuple[str | None, float] = (None, float("-inf"))
    while not stopping.is_set():
        try:
            problem = await catalogue_problem(database)
        except DATABASE_ERRORS as exc:
            problem = f"database not ready: {type(exc).__name__}: {exc}"[:400]
        if problem is None:
            return True
        now = asyncio.get_running_loop().time()
        if problem != reported[0] or now - reported[1] >= 60.0:
            logger.error("waiting for the catalogue: %s", problem)
            reported = (problem, now)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=retry_seconds)
    return False
