"""The public API (no key): lines, boards, stations, freshness and `/api/meta`, as in docs/API_CONTRACT.md.

A line or station page renews the viewing lease of the lines it shows (backend/api/views.py). The rider reads
build and keep their answers here; a kept answer is served before routing (backend/api/snapshot_hits.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.routers.deps import (
    AppSettings,
    CatalogueLoaded,
    Leases,
    Plans,
    ReadSession,
    catalogue_loaded,
    database_unavailable,
    invalid_input,
    known_query_parameters,
)
from backend.api.schemas import (
    ErrorResponse,
    LineDetail,
    LineFreshness,
    LinesResponse,
    MetaInfo,
    NearbyStation,
    StationDetail,
    StationMatch,
)
from backend.api.snapshot_hits import (
    LINE_PART_MAX_LENGTH,
    LINES_KEY,
    STATION_ID_MAX_LENGTH,
    cache_control,
    etag_matches,
    line_key,
    lines_viewed,
    station_key,
)
from backend.api.snapshots import RiderSnapshots, Snapshot, snapshot_of
from backend.catalogue import UnknownLineError
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.livedata import queries

router = APIRouter(prefix="/api", tags=["public"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "Unknown line or station"}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "The database is down or not migrated"}
}
CACHED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Not modified: the answer is the one the `If-None-Match` ETag names (weak: only "
        "`age_seconds` may differ, the time since `last_success_at`)"
    }
}
JSON = "application/json"
T = TypeVar("T")


def stale_after_seconds(settings: Settings) -> float:
    """Data is stale when its latest answer is older than one scheduler interval plus a grace."""
    return settings.stale_after_seconds


@dataclass(frozen=True, slots=True)
class RiderContext:
    """What a rider read needs, in one dependency (each dependency costs every request its resolution)."""

    settings: Settings
    database: Database
    snapshots: RiderSnapshots


async def rider_context(request: Request) -> RiderContext:
    """The app's settings, database and pre-serialised rider answers, their data versions checked at most every
    `API_SNAPSHOT_CHECK_SECONDS` (see backend/api/snapshots.py)."""
    await catalogue_loaded(request)
    state = request.app.state
    snapshots: RiderSnapshots = state.rider_snapshots
    try:
        await snapshots.refresh_versions()
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc) from exc
    return RiderContext(state.settings, state.database, snapshots)


Rider = Annotated[RiderContext, Depends(rider_context)]


async def _read(database: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in a read session; a database that is down or unmigrated is a 503, not a 500."""
    try:
        async with database.sessions() as session:
            return await work(session)
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc) from exc


def _answer(request: Request, snapshot: Snapshot, now: datetime, settings: Settings) -> Response:
    """What backend/api/snapshot_hits.py sends for a kept answer, for a request that came the full way."""
    headers = {"ETag": snapshot.etag, "Cache-Control": cache_control(snapshot, now, settings.api_cache_max_age_seconds)}
    if etag_matches(request.headers.get("if-none-match"), snapshot.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(snapshot.body(now), media_type=JSON, headers=headers)


@router.get("/meta", response_model=MetaInfo, summary="How this deployment runs")
async def meta(request: Request) -> Response:
    body: bytes | None = getattr(request.app.state, "meta_body", None)
    if body is None:  # constant for the process's life: serialised once
        settings: Settings = request.app.state.settings
        body = (
            MetaInfo(
                demo_mode=settings.demo_mode,
                bus=settings.bus,
                version=request.app.version,
                scheduler_interval_seconds=settings.scheduler_interval_seconds,
                stale_after_seconds=settings.stale_after_seconds,
                prim_configured=bool(settings.prim_api_key.strip()),
                sources=settings.source_names,
            )
            .model_dump_json()
            .encode()
        )
        request.app.state.meta_body = body
    return Response(body, media_type=JSON)


@router.get(
    "/lines",
    response_model=LinesResponse,
    responses={**CACHED, **UNAVAILABLE},
    summary="Every line by network, with colours, traffic status and freshness",
)
async def list_lines(request: Request, rider: Rider) -> Response:
    settings, database = rider.settings, rider.database
    stale_after = stale_after_seconds(settings)

    async def build(tag: Hashable, now: datetime) -> Snapshot:
        async def work(session: AsyncSession) -> tuple[list[queries.NetworkLinesView], datetime | None]:
            networks = await queries.lines_by_network(session, stale_after_seconds=stale_after)
            return networks, await queries.next_board_turning_stale(session, stale_after_seconds=stale_after)

        networks, turning_stale = await _read(database, work)
        summary = queries.live_summary([line for network in networks for line in network.lines])
        model = LinesResponse.model_validate({"networks": networks, "summary": summary})
        return snapshot_of(model, stale_after_seconds=stale_after, now=now, tag=tag, until=turning_stale)

    snapshot, now = await rider.snapshots.get(LINES_KEY, build)
    assert snapshot is not None
    return _answer(request, snapshot, now, settings)


@router.get(
    "/lines/{network}/{code}",
    response_model=LineDetail,
    responses={**NOT_FOUND, **CACHED, **UNAVAILABLE},
    summary="One line: stations per direction with next departures and their freshness, train positions",
)
async def get_line(
    request: Request,
    network: Annotated[
        str, Path(max_length=LINE_PART_MAX_LENGTH, description="`metro`, `rer`, `tram` or `bus`", examples=["metro"])
    ],
    code: Annotated[
        str, Path(max_length=LINE_PART_MAX_LENGTH, description="Line code, case-insensitive", examples=["1"])
    ],
    rider: Rider,
    leases: Leases,
    plans: Plans,
) -> Response:
    try:
        key = line_key(network, code)
    except UnknownLineError as exc:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    line_id = key[1]
    settings, database = rider.settings, rider.database
    stale_after = stale_after_seconds(settings)

    async def build(tag: Hashable, now: datetime) -> Snapshot | None:
        async def work(session: AsyncSession) -> queries.LineDetailView | None:
            return await queries.line_detail(session, line_id, stale_after_seconds=stale_after)

        detail = await _read(database, work)
        if detail is None:
            return None
        model = LineDetail.model_validate(detail)
        # The plan changes slowly; the interval of when the snapshot was built is close enough to tell a rider.
        model.refresh_interval_seconds = await plans.interval_of(line_id)
        # A disruption's period beginning or ending changes the answer: the snapshot lasts until then.
        return snapshot_of(model, stale_after_seconds=stale_after, now=now, tag=tag, until=detail.disruptions_change_at)

    snapshot, now = await rider.snapshots.get(key, build)
    if snapshot is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"line {line_id} is not in the database yet (the catalogue is synced when the API starts)",
        )
    leases.viewed(lines_viewed(key))  # someone is looking (a 304 too): the scheduler keeps it fresh while they do
    return _answer(request, snapshot, now, settings)


@router.get(
    "/stations/search",
    response_model=list[StationMatch],
    responses=UNAVAILABLE,
    dependencies=[known_query_parameters("q", "limit"), CatalogueLoaded],
    summary="Search stations by name (accents and case ignored)",
)
async def search_stations(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            # No `pattern`: "a letter or digit of any alphabet" has no regex that means the same in Python and in
            # ECMA-262 (what OpenAPI, schemathesis and the dashboard's generated types read), so the query checks it.
            description="Part of a station name, with at least one letter or digit (of any alphabet), else a 422. "
            "Accents and case are ignored; other characters separate words; letters with no Latin form match "
            "nothing.",
            examples=["chatel"],
        ),
    ],
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=50, description="Most matches returned")] = 10,
) -> list[StationMatch]:
    try:
        matches = await queries.search_stations(session, q, limit=limit)
    except ValueError as exc:
        raise invalid_input(("query", "q"), str(exc), q) from exc
    return [StationMatch.model_validate(match) for match in matches]


@router.get(
    "/stations/near",
    response_model=list[NearbyStation],
    responses=UNAVAILABLE,
    dependencies=[known_query_parameters("lat", "lon", "limit"), CatalogueLoaded],
    summary="The stations nearest to a point, by straight line, with distance and walking time",
)
async def near_stations(
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS 84 latitude", examples=[48.8566])],
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS 84 longitude", examples=[2.3522])],
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=20, description="Most stations returned")] = 5,
) -> list[NearbyStation]:
    try:
        stations = await queries.nearest_stations(session, lat, lon, limit=limit)
    except ValueError as exc:
        raise invalid_input(("query", "lat"), str(exc), {"lat": lat, "lon": lon}) from exc
    return [NearbyStation.model_validate(station) for station in stations]


@router.get(
    "/stations/{station_id}",
    response_model=StationDetail,
    responses={**NOT_FOUND, **CACHED, **UNAVAILABLE},
    summary="One station: its lines, their next departures there, and their freshness",
)
async def get_station(
    request: Request,
    station_id: Annotated[
        str, Path(max_length=STATION_ID_MAX_LENGTH, description="Station id (a slug)", examples=["chatelet"])
    ],
    rider: Rider,
    leases: Leases,
) -> Response:
    settings, database = rider.settings, rider.database
    key = station_key(station_id)
    wanted = key[1]
    stale_after = stale_after_seconds(settings)

    async def build(tag: Hashable, now: datetime) -> Snapshot | None:
        async def work(session: AsyncSession) -> queries.StationDetailView | None:
            return await queries.station_detail(session, wanted, stale_after_seconds=stale_after)

        detail = await _read(database, work)
        if detail is None:
            return None
        return snapshot_of(StationDetail.model_validate(detail), stale_after_seconds=stale_after, now=now, tag=tag)

    snapshot = None
    if "\x00" not in station_id:  # no station id holds a NUL, and Postgres refuses one in a text parameter
        snapshot, now = await rider.snapshots.get(key, build)
    if snapshot is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"unknown station {station_id!r}: find station ids with GET /api/stations/search?q=...",
        )
    leases.viewed(lines_viewed(key))
    return _answer(request, snapshot, now, settings)


@router.get(
    "/freshness",
    response_model=list[LineFreshness],
    responses=UNAVAILABLE,
    dependencies=[CatalogueLoaded],
    summary="How fresh each line's data is",
)
async def freshness(session: ReadSession, settings: AppSettings) -> list[LineFreshness]:
    rows = await queries.all_freshness(session, stale_after_seconds=stale_after_seconds(settings))
    return [LineFreshness.model_validate(row) for row in rows]
