"""The public API (no key): lines, boards, stations, freshness and `/api/meta`, as in docs/API_CONTRACT.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from backend.api.routers.deps import AppSettings, ReadSession, invalid_input, known_query_parameters
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
from backend.catalogue import UnknownLineError, get_catalogue
from backend.config import Settings
from backend.livedata import queries

router = APIRouter(prefix="/api", tags=["public"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "Unknown line or station"}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "The database is down or not migrated"}
}


def stale_after_seconds(settings: Settings) -> float:
    """Data is stale when its latest answer is older than one scheduler interval plus a grace."""
    return settings.stale_after_seconds


@router.get("/meta", response_model=MetaInfo, summary="How this deployment runs")
async def meta(request: Request, settings: AppSettings) -> MetaInfo:
    return MetaInfo(
        demo_mode=settings.demo_mode,
        bus="kafka" if settings.uses_kafka else "database",
        version=request.app.version,
        scheduler_interval_seconds=settings.scheduler_interval_seconds,
        stale_after_seconds=settings.stale_after_seconds,
        prim_configured=bool(settings.prim_api_key.strip()),
        sources=settings.source_names,
    )


@router.get(
    "/lines",
    response_model=LinesResponse,
    responses=UNAVAILABLE,
    summary="Every line by network, with colours, traffic status and freshness",
)
async def list_lines(session: ReadSession, settings: AppSettings) -> LinesResponse:
    networks = await queries.lines_by_network(session, stale_after_seconds=stale_after_seconds(settings))
    summary = queries.live_summary([line for network in networks for line in network.lines])
    return LinesResponse.model_validate({"networks": networks, "summary": summary})


@router.get(
    "/lines/{network}/{code}",
    response_model=LineDetail,
    responses={**NOT_FOUND, **UNAVAILABLE},
    summary="One line: stations per direction with next departures and their freshness, train positions",
)
async def get_line(
    network: Annotated[str, Path(max_length=32, description="`metro`, `rer`, `tram` or `bus`", examples=["metro"])],
    code: Annotated[str, Path(max_length=32, description="Line code, case-insensitive", examples=["1"])],
    session: ReadSession,
    settings: AppSettings,
) -> LineDetail:
    try:
        line = get_catalogue().find(network, code)
    except UnknownLineError as exc:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    detail = await queries.line_detail(session, line.id, stale_after_seconds=stale_after_seconds(settings))
    if detail is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"line {line.id} is not in the database yet (the catalogue is synced when the API starts)",
        )
    return LineDetail.model_validate(detail)


@router.get(
    "/stations/search",
    response_model=list[StationMatch],
    responses=UNAVAILABLE,
    dependencies=[known_query_parameters("q", "limit")],
    summary="Search stations by name (accents and case ignored)",
)
async def search_stations(
    q: Annotated[str, Query(min_length=1, max_length=100, description="Part of a station name", examples=["chatel"])],
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
    dependencies=[known_query_parameters("lat", "lon", "limit")],
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
    responses={**NOT_FOUND, **UNAVAILABLE},
    summary="One station: its lines, their next departures there, and their freshness",
)
async def get_station(
    station_id: Annotated[str, Path(max_length=96, description="Station id (a slug)", examples=["chatelet"])],
    session: ReadSession,
    settings: AppSettings,
) -> StationDetail:
    detail = None
    if "\x00" not in station_id:  # no station id holds a NUL, and Postgres refuses one in a text parameter
        detail = await queries.station_detail(
            session, station_id.strip().lower(), stale_after_seconds=stale_after_seconds(settings)
        )
    if detail is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"unknown station {station_id!r}: find station ids with GET /api/stations/search?q=...",
        )
    return StationDetail.model_validate(detail)


@router.get(
    "/freshness",
    response_model=list[LineFreshness],
    responses=UNAVAILABLE,
    summary="How fresh each line's data is",
)
async def freshness(session: ReadSession, settings: AppSettings) -> list[LineFreshness]:
    rows = await queries.all_freshness(session, stale_after_seconds=stale_after_seconds(settings))
    return [LineFreshness.model_validate(row) for row in rows]
