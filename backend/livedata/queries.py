"""Read side of the live data, for the public API: lines with traffic and freshness, boards, station search.

Freshness comes from `line_snapshots`, boards from `departures` (only those expected from a minute ago on),
train positions from `vehicle_positions`, traffic from `traffic_status`. The objects returned carry the field names
of the API's response models, which read them as attributes. Values written by other code that this API does not
know (a new departure status, say) are shown as "unknown" rather than failing the response.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue import normalise_name
from backend.db.models import (
    Departure,
    Line,
    LineSnapshot,
    LineStation,
    Station,
    TrafficStatus,
    VehiclePosition,
    utcnow,
)

# Departures stay on the boards until a minute after their expected time.
DEPARTED_GRACE = timedelta(minutes=1)
BOARD_DEPARTURES = 4
NETWORK_LABELS = {"metro": "Métro", "rer": "RER", "tram": "Tramway", "bus": "Bus"}
NETWORK_ORDER = tuple(NETWORK_LABELS)

_DEPARTURE_STATUSES = frozenset({"on_time", "delayed", "cancelled", "at_platform", "unknown"})
_FRESHNESS_STATUSES = frozenset({"ok", "partial", "no_data", "failed"})
_TRAFFIC_LEVELS = frozenset({"normal", "disrupted", "closed", "unknown"})
_DIRECTIONS = frozenset({"A", "R"})


# --- Value objects -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FreshnessView:
    status: str
    source: str | None
    fetched_at: datetime | None
    last_success_at: datetime | None
    age_seconds: float | None
    stale: bool
    error: str | None


@dataclass(frozen=True)
class TrafficView:
    level: str
    message: str | None
    source: str
    updated_at: datetime


@dataclass(frozen=True)
class LineRefView:
    id: str
    network: str
    code: str
    name: str
    colour: str
    text_colour: str


@dataclass(frozen=True)
class LineSummaryView(LineRefView):
    traffic: TrafficView | None
    freshness: FreshnessView


@dataclass(frozen=True)
class NetworkLinesView:
    network: str
    label: str
    lines: list[LineSummaryView]


@dataclass(slots=True)  # built by the hundred per request: slots, and not frozen (frozen init is slower)
class DepartureView:
    line_id: str
    station_id: str
    direction: str
    destination: str
    expected_at: datetime
    aimed_at: datetime | None
    status: str
    is_realtime: bool
    vehicle_at_stop: bool
    source: str
    fetched_at: datetime


@dataclass(slots=True)
class StationBoardView:
    station_id: str
    name: str
    position: int
    departures: list[DepartureView]


@dataclass(frozen=True)
class BranchView:
    branch: int
    stations: list[StationBoardView]


@dataclass(frozen=True)
class DirectionView:
    direction: str
    terminus: str
    branches: list[BranchView]


@dataclass(frozen=True)
class SourceAttemptView:
    source: str
    ok: bool
    error: str | None
    duration_ms: float
    requests: int
    items: int


@dataclass(frozen=True)
class LineDetailView:
    line: LineSummaryView
    directions: list[DirectionView]
    vehicles: list[VehiclePosition]
    attempts: list[SourceAttemptView]


@dataclass(frozen=True)
class StationInfoView:
    id: str
    name: str
    town: str | None


@dataclass(frozen=True)
class StationMatchView:
    station_id: str
    name: str
    town: str | None
    lines: list[LineRefView]


@dataclass(frozen=True)
class LineFreshnessView:
    line_id: str
    freshness: FreshnessView


@dataclass(frozen=True)
class StationDetailView:
    station: StationInfoView
    lines: list[LineRefView]
    departures: list[DepartureView]
    freshness: list[LineFreshnessView]


@dataclass(frozen=True)
class DepartureHighlightView:
    line: LineRefView
    station_id: str
    station_name: str
    direction: str
    destination: str
    expected_at: datetime
    status: str
    is_realtime: bool


# --- Shaping -------------------------------------------------------------------------------------------------------


def freshness_of(snapshot: LineSnapshot | None, *, now: datetime, stale_after_seconds: float) -> FreshnessView:
    """A line's freshness; stale when the latest success is older than `stale_after_seconds`, or never happened."""
    if snapshot is None:
        return FreshnessView("never", None, None, None, None, True, None)
    age = (now - snapshot.last_success_at).total_seconds() if snapshot.last_success_at else None
    return FreshnessView(
        status=snapshot.status if snapshot.status in _FRESHNESS_STATUSES else "failed",
        source=snapshot.source,
        fetched_at=snapshot.fetched_at,
        last_success_at=snapshot.last_success_at,
        age_seconds=round(max(0.0, age), 1) if age is not None else None,
        stale=age is None or age > stale_after_seconds,
        error=snapshot.error,
    )


def _traffic(row: TrafficStatus | None) -> TrafficView | None:
    if row is None:
        return None
    level = row.level if row.level in _TRAFFIC_LEVELS else "unknown"
    return TrafficView(level=level, message=row.message, source=row.source, updated_at=row.updated_at)


def _line_ref(line: Line) -> LineRefView:
    return LineRefView(line.id, line.network, line.code, line.name, line.colour, line.text_colour)


def _line_summary(
    line: Line, traffic: TrafficStatus | None, snapshot: LineSnapshot | None, *, now: datetime, stale_after: float
) -> LineSummaryView:
    return LineSummaryView(
        id=line.id,
        network=line.network,
        code=line.code,
        name=line.name,
        colour=line.colour,
        text_colour=line.text_colour,
        traffic=_traffic(traffic),
        freshness=freshness_of(snapshot, now=now, stale_after_seconds=stale_after),
    )


_DEPARTURE_COLUMNS = (
    Departure.line_id,
    Departure.station_id,
    Departure.direction,
    Departure.destination,
    Departure.expected_at,
    Departure.aimed_at,
    Departure.status,
    Departure.is_realtime,
    Departure.vehicle_at_stop,
    Departure.source,
    Departure.fetched_at,
)


def _departure(row: Any) -> DepartureView:
    """A departure from a row of `_DEPARTURE_COLUMNS` (in that order)."""
    (
        line_id,
        station_id,
        direction,
        destination,
        expected_at,
        aimed_at,
        status,
        is_realtime,
        vehicle_at_stop,
        source,
        fetched_at,
    ) = row[:11]
    return DepartureView(
        line_id,
        station_id,
        direction if direction in _DIRECTIONS else "A",
        destination,
        expected_at,
        aimed_at,
        status if status in _DEPARTURE_STATUSES else "unknown",
        bool(is_realtime),
        bool(vehicle_at_stop),
        source,
        fetched_at,
    )


def _next_departures_query(*where: Any, per_board: tuple[Any, ...]) -> Any:
    """Departures matching `where` and expected from `:departed_before` on, at most BOARD_DEPARTURES per board (the
    rows sharing the `per_board` columns), soonest first. The cut is made in SQL, however many a source stored."""
    rank = (
        func.row_number()
        .over(partition_by=per_board, order_by=(Departure.expected_at, Departure.id))
        .label("board_rank")
    )
    ranked = (
        select(*_DEPARTURE_COLUMNS, Departure.id, rank)
        .where(*where, Departure.expected_at >= bindparam("departed_before"))
        .subquery()
    )
    return select(ranked).where(ranked.c.board_rank <= BOARD_DEPARTURES).order_by(ranked.c.expected_at, ranked.c.id)


# The statements of the most polled endpoints, built once (only their parameters change between requests).
_LINE_HEAD = (
    select(Line, TrafficStatus, LineSnapshot)
    .outerjoin(TrafficStatus, TrafficStatus.line_id == Line.id)
    .outerjoin(LineSnapshot, LineSnapshot.line_id == Line.id)
    .where(Line.id == bindparam("line_id"))
)
_LINE_PLACES = (
    select(LineStation.direction, LineStation.branch, LineStation.position, Station.id, Station.name)
    .join(Station, Station.id == LineStation.station_id)
    .where(LineStation.line_id == bindparam("line_id"))
    .order_by(LineStation.direction, LineStation.branch, LineStation.position)
)
_LINE_DEPARTURES = _next_departures_query(
    Departure.line_id == bindparam("line_id"), per_board=(Departure.station_id, Departure.direction)
)
_LINE_VEHICLES = (
    select(VehiclePosition)
    .where(VehiclePosition.line_id == bindparam("line_id"), VehiclePosition.direction.in_(_DIRECTIONS))
    .order_by(VehiclePosition.direction, VehiclePosition.vehicle_id)
)
_STATION_DEPARTURES = _next_departures_query(
    Departure.station_id == bindparam("station_id"), per_board=(Departure.line_id, Departure.direction)
)


def _attempt(raw: Any) -> SourceAttemptView | None:
    if not isinstance(raw, dict) or not raw.get("source"):
        return None

    def number(key: str) -> float:
        value = raw.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    error = raw.get("error")
    return SourceAttemptView(
        source=str(raw["source"]),
        ok=bool(raw.get("ok")),
        error=str(error) if error is not None else None,
        duration_ms=number("duration_ms"),
        requests=int(number("requests")),
        items=int(number("items")),
    )


# --- Queries -------------------------------------------------------------------------------------------------------


async def lines_by_network(session: AsyncSession, *, stale_after_seconds: float) -> list[NetworkLinesView]:
    """Every line with its traffic and freshness, grouped by network (metro, RER, tram, bus), catalogue order."""
    now = utcnow()
    result = await session.execute(
        select(Line, TrafficStatus, LineSnapshot)
        .outerjoin(TrafficStatus, TrafficStatus.line_id == Line.id)
        .outerjoin(LineSnapshot, LineSnapshot.line_id == Line.id)
        .order_by(Line.sort_order, Line.id)
    )
    grouped: dict[str, list[LineSummaryView]] = defaultdict(list)
    for line, traffic, snapshot in result:
        grouped[line.network].append(_line_summary(line, traffic, snapshot, now=now, stale_after=stale_after_seconds))
    networks = [network for network in NETWORK_ORDER if network in grouped]
    networks += sorted(network for network in grouped if network not in NETWORK_LABELS)
    return [
        NetworkLinesView(network=network, label=NETWORK_LABELS.get(network, network.title()), lines=grouped[network])
        for network in networks
    ]


async def line_detail(session: AsyncSession, line_id: str, *, stale_after_seconds: float) -> LineDetailView | None:
    """A line's stations per direction and branch with their next departures, its trains, and its latest fetch;
    None when the line is not in the database."""
    now = utcnow()
    head = (await session.execute(_LINE_HEAD, {"line_id": line_id})).first()
    if head is None:
        return None
    line, traffic, snapshot = head

    places = (await session.execute(_LINE_PLACES, {"line_id": line_id})).all()
    boards: dict[tuple[str, str], list[DepartureView]] = defaultdict(list)
    parameters = {"line_id": line_id, "departed_before": now - DEPARTED_GRACE}
    for row in await session.execute(_LINE_DEPARTURES, parameters):
        departure = _departure(row)
        boards[(departure.station_id, departure.direction)].append(departure)

    branches: dict[str, dict[int, list[StationBoardView]]] = defaultdict(lambda: defaultdict(list))
    for direction, branch, position, station_id, name in places:
        branches[direction][branch].append(
            StationBoardView(
                station_id=station_id, name=name, position=position, departures=boards.get((station_id, direction), [])
            )
        )
    directions = []
    for direction in sorted(branches):
        by_branch = branches[direction]
        termini = list(dict.fromkeys(stations[-1].name for _, stations in sorted(by_branch.items()) if stations))
        directions.append(
            DirectionView(
                direction=direction,
                terminus=" / ".join(termini),
                branches=[BranchView(branch=b, stations=stations) for b, stations in sorted(by_branch.items())],
            )
        )

    vehicles = list((await session.execute(_LINE_VEHICLES, {"line_id": line_id})).scalars())
    raw_attempts = snapshot.attempts if snapshot is not None and isinstance(snapshot.attempts, list) else []
    attempts = [attempt for attempt in map(_attempt, raw_attempts) if attempt is not None]
    return LineDetailView(
        line=_line_summary(line, traffic, snapshot, now=now, stale_after=stale_after_seconds),
        directions=directions,
        vehicles=vehicles,
        attempts=attempts,
    )


async def _lines_at(session: AsyncSession, station_ids: Sequence[str]) -> dict[str, list[Line]]:
    if not station_ids:
        return {}
    rows = (
        await session.execute(
            select(LineStation.station_id, Line)
            .join(Line, Line.id == LineStation.line_id)
            .where(LineStation.station_id.in_(station_ids))
            .distinct()
            .order_by(LineStation.station_id, Line.sort_order, Line.id)
        )
    ).all()
    lines: dict[str, list[Line]] = defaultdict(list)
    for station_id, line in rows:
        lines[station_id].append(line)
    return lines


async def search_stations(session: AsyncSession, query: str, *, limit: int) -> list[StationMatchView]:
    """Stations whose name contains every word of `query`, accents and case ignored; exact and prefix matches first.

    Raises ValueError when the query has no letter or digit."""
    needle = normalise_name(query)
    if not needle:
        raise ValueError("the search needs at least one letter or digit")
    # normalise_name leaves only [a-z0-9 ], so no LIKE wildcard can reach the pattern.
    words = needle.split()
    rank = case(
        (Station.search_name == needle, 0),
        (Station.search_name.like(f"{needle}%"), 1),
        (Station.search_name.like(f"% {words[0]}%"), 2),
        else_=3,
    )
    stations = (
        (
            await session.execute(
                select(Station)
                .where(*(Station.search_name.like(f"%{word}%") for word in words))
                .order_by(rank, func.length(Station.search_name), Station.search_name, Station.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    lines = await _lines_at(session, [station.id for station in stations])
    return [
        StationMatchView(
            station_id=station.id,
            name=station.name,
            town=station.town,
            lines=[_line_ref(line) for line in lines.get(station.id, [])],
        )
        for station in stations
    ]


async def station_detail(
    session: AsyncSession, station_id: str, *, stale_after_seconds: float
) -> StationDetailView | None:
    """A station, the lines calling at it, their next departures there (at most 4 per line and direction, soonest
    first) and their freshness; None for an unknown station."""
    now = utcnow()
    station = await session.get(Station, station_id)
    if station is None:
        return None
    lines = (await _lines_at(session, [station.id])).get(station.id, [])
    parameters = {"station_id": station.id, "departed_before": now - DEPARTED_GRACE}
    departures = [_departure(row) for row in await session.execute(_STATION_DEPARTURES, parameters)]
    line_ids = list(dict.fromkeys([line.id for line in lines] + [d.line_id for d in departures]))
    snapshots = {
        snapshot.line_id: snapshot
        for snapshot in (
            await session.execute(select(LineSnapshot).where(LineSnapshot.line_id.in_(line_ids)))
        ).scalars()
    }
    return StationDetailView(
        station=StationInfoView(id=station.id, name=station.name, town=station.town),
        lines=[_line_ref(line) for line in lines],
        departures=departures,
        freshness=[
            LineFreshnessView(
                line_id=line_id,
                freshness=freshness_of(snapshots.get(line_id), now=now, stale_after_seconds=stale_after_seconds),
            )
            for line_id in line_ids
        ],
    )


async def all_freshness(session: AsyncSession, *, stale_after_seconds: float) -> list[LineFreshnessView]:
    """The freshness of every line, in catalogue order."""
    now = utcnow()
    result = await session.execute(
        select(Line.id, LineSnapshot)
        .outerjoin(LineSnapshot, LineSnapshot.line_id == Line.id)
        .order_by(Line.sort_order, Line.id)
    )
    return [
        LineFreshnessView(
            line_id=line_id, freshness=freshness_of(snapshot, now=now, stale_after_seconds=stale_after_seconds)
        )
        for line_id, snapshot in result
    ]


# --- Counts for the operations console ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveDataCounts:
    departures: int
    lines_with_data: int


async def live_data_counts(session: AsyncSession) -> LiveDataCounts:
    departures = (
        await session.execute(
            select(func.count()).select_from(Departure).where(Departure.expected_at >= utcnow() - DEPARTED_GRACE)
        )
    ).scalar_one()
    lines_with_data = (
        await session.execute(
            select(func.count()).select_from(LineSnapshot).where(LineSnapshot.last_success_at.is_not(None))
        )
    ).scalar_one()
    return LiveDataCounts(departures=int(departures), lines_with_data=int(lines_with_data))


async def recent_departures(session: AsyncSession, *, limit: int = 10) -> list[DepartureHighlightView]:
    """The next departures of the most recently fetched boards, across lines."""
    rows = (
        await session.execute(
            select(Departure, Line, Station.name)
            .join(Line, Line.id == Departure.line_id)
            .outerjoin(Station, Station.id == Departure.station_id)
            .where(Departure.expected_at >= utcnow() - DEPARTED_GRACE)
            .order_by(Departure.fetched_at.desc(), Departure.expected_at, Departure.id)
            .limit(limit)
        )
    ).all()
    return [
        DepartureHighlightView(
            line=_line_ref(line),
            station_id=departure.station_id,
            station_name=station_name or departure.station_id,
            direction=departure.direction if departure.direction in _DIRECTIONS else "A",
            destination=departure.destination,
            expected_at=departure.expected_at,
            status=departure.status if departure.status in _DEPARTURE_STATUSES else "unknown",
            is_realtime=departure.is_realtime,
        )
        for departure, line, station_name in rows
    ]
