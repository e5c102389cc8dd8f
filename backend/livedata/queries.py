"""Read side of the live data, for the public API: lines with traffic and freshness, boards, station search.

Freshness comes from `line_snapshots` (the line) and `stop_boards` (each station's board), boards from `departures`
(never one whose time has passed: only a train reported at the platform by a recent answer stays listed up to a
minute after its time), train positions from `vehicle_positions`, traffic from `traffic_status`. Data older than
`stale_after_seconds` is stale, and says so with its age, per line and per stop. The objects returned carry the
field names of the API's response models, which read them as attributes. Values written by other code that this
API does not know (a new departure status, say) are shown as "unknown" rather than failing the response.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue import normalise_name
from backend.clock import utcnow
from backend.db.models import (
    Departure,
    Line,
    LineDisruption,
    LineSnapshot,
    LineStation,
    Station,
    StopBoard,
    TrafficStatus,
    VehiclePosition,
)
from backend.services.records import FreshnessReason, PeriodRecord, SectionRecord, SourceAttempt
from backend.vocabulary import DepartureStatus, TrafficLevel

# A train a recent answer saw at the platform stays listed up to this long after its time (it has not left yet).
AT_PLATFORM_GRACE = timedelta(minutes=1)
BOARD_DEPARTURES = 4
NETWORK_LABELS = {"metro": "Métro", "rer": "RER", "tram": "Tramway", "bus": "Bus"}
NETWORK_ORDER = tuple(NETWORK_LABELS)

_DEPARTURE_STATUSES = frozenset(DepartureStatus)
_FETCH_STATUSES = frozenset({"ok", "partial", "no_data", "failed"})
_STOP_STATUSES = frozenset({"ok", "no_data", "failed"})
_REASONS: frozenset[str] = frozenset(get_args(FreshnessReason))
_TRAFFIC_LEVELS = frozenset(TrafficLevel)
_DIRECTIONS = frozenset({"A", "R"})


# --- Value objects -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopFreshnessView:
    status: str
    reason: str | None
    source: str | None
    fetched_at: datetime | None
    last_success_at: datetime | None
    age_seconds: float | None
    stale: bool


@dataclass(frozen=True)
class FreshnessView:
    status: str
    reason: str | None
    source: str | None
    fetched_at: datetime | None
    last_success_at: datetime | None
    age_seconds: float | None
    stale: bool
    stale_after_seconds: float
    stops_total: int | None
    stops_failed: int | None
    stops_stale: int | None


@dataclass(frozen=True)
class LiveSummaryView:
    lines_total: int
    lines_live: int
    lines_stale: int
    lines_failed: int
    lines_no_data: int
    reason: str | None
    last_success_at: datetime | None


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
    freshness: StopFreshnessView


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
class DisruptionView:
    id: str
    severity: str  # blocking, disturbed, information
    cause: str | None
    title: str
    short_message: str | None
    message: str | None
    current: bool
    period: PeriodRecord
    periods: list[PeriodRecord]
    sections: list[SectionRecord]
    updated_at: datetime | None


@dataclass(frozen=True)
class LineDetailView:
    line: LineSummaryView
    directions: list[DirectionView]
    vehicles: list[VehiclePosition]
    disruptions: list[DisruptionView] = field(default_factory=list)
    # When the clock alone changes the disruptions shown (a period begins or ends); None: never.
    disruptions_change_at: datetime | None = None


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
class NearbyStationView:
    station_id: str
    name: str
    town: str | None
    lat: float
    lon: float
    distance_m: int
    walking_minutes: int
    lines: list[LineRefView]


@dataclass(frozen=True)
class LineFreshnessView:
    line_id: str
    freshness: FreshnessView
    stop: StopFreshnessView | None = None


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


def _age(last_success_at: datetime | None, now: datetime) -> float | None:
    return round(max(0.0, (now - last_success_at).total_seconds()), 1) if last_success_at else None


def _judged(
    written: str,
    written_reason: str | None,
    last_success_at: datetime | None,
    known: frozenset[str],
    now: datetime,
    stale_after_seconds: float,
) -> tuple[str, str | None, float | None, bool]:
    """The rule lines and boards share: (status, reason, age, stale) from what the latest fetch wrote. Data older
    than the window is `stale` (nothing refreshed it); a failure stays `failed`, with a reason."""
    age = _age(last_success_at, now)
    stale = age is None or age > stale_after_seconds
    status = written if written in known else "failed"
    reason = written_reason if written_reason in _REASONS else None
    if stale and status != "failed":
        status, reason = "stale", reason or "not_fetched"
    if status == "failed" and reason is None:
        reason = "upstream_error"
    return status, reason, age, stale


def _board_not_fresh(now: datetime, stale_after_seconds: float) -> Any:
    """SQL: a board that failed, was never answered, or whose answer is older than the window."""
    cutoff = now - timedelta(seconds=stale_after_seconds)
    return or_(StopBoard.status == "failed", StopBoard.last_success_at.is_(None), StopBoard.last_success_at < cutoff)


def freshness_of(
    snapshot: LineSnapshot | None, *, now: datetime, stale_after_seconds: float, stops_stale: int | None = None
) -> FreshnessView:
    """A line's freshness. The latest fetch's outcome, except that data older than `stale_after_seconds` is `stale`
    (nothing refreshed it) and a failed fetch stays `failed` (its boards, if any, are from `last_success_at`)."""
    if snapshot is None:
        return FreshnessView(
            "never", "not_fetched", None, None, None, None, True, stale_after_seconds, None, None, None
        )
    status, reason, age, stale = _judged(
        snapshot.status, snapshot.reason, snapshot.last_success_at, _FETCH_STATUSES, now, stale_after_seconds
    )
    return FreshnessView(
        status=status,
        reason=reason,
        source=snapshot.source,
        fetched_at=snapshot.fetched_at,
        last_success_at=snapshot.last_success_at,
        age_seconds=age,
        stale=stale,
        stale_after_seconds=stale_after_seconds,
        stops_total=snapshot.stops_total,
        stops_failed=snapshot.stops_failed,
        stops_stale=stops_stale,
    )


def stop_freshness_of(board: StopBoard | None, *, now: datetime, stale_after_seconds: float) -> StopFreshnessView:
    """One board's freshness: `ok`/`no_data` as last answered, `stale` once that answer is too old, `failed` when
    its latest request failed (the departures shown, if any, are from `last_success_at`), `never`."""
    if board is None:
        return StopFreshnessView("never", "not_fetched", None, None, None, None, True)
    status, reason, age, stale = _judged(
        board.status, board.reason, board.last_success_at, _STOP_STATUSES, now, stale_after_seconds
    )
    return StopFreshnessView(status, reason, board.source, board.fetched_at, board.last_success_at, age, stale)


def _traffic(row: TrafficStatus | None) -> TrafficView | None:
    if row is None:
        return None
    level = row.level if row.level in _TRAFFIC_LEVELS else "unknown"
    return TrafficView(level=level, message=row.message, source=row.source, updated_at=row.updated_at)


def _line_ref(line: Line) -> LineRefView:
    return LineRefView(line.id, line.network, line.code, line.name, line.colour, line.text_colour)


def _line_summary(
    line: Line,
    traffic: TrafficStatus | None,
    snapshot: LineSnapshot | None,
    *,
    now: datetime,
    stale_after: float,
    stops_stale: int | None = None,
) -> LineSummaryView:
    return LineSummaryView(
        id=line.id,
        network=line.network,
        code=line.code,
        name=line.name,
        colour=line.colour,
        text_colour=line.text_colour,
        traffic=_traffic(traffic),
        freshness=freshness_of(snapshot, now=now, stale_after_seconds=stale_after, stops_stale=stops_stale),
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
    """Departures matching `where` still to come at `:now` (or at the platform in an answer from `:recent` on, up to
    AT_PLATFORM_GRACE after their time), at most BOARD_DEPARTURES per board (the rows sharing the `per_board`
    columns), soonest first. The cut is made in SQL, however many a source stored."""
    rank = (
        func.row_number()
        .over(partition_by=per_board, order_by=(Departure.expected_at, Departure.id))
        .label("board_rank")
    )
    ranked = (
        select(*_DEPARTURE_COLUMNS, Departure.id, rank)
        .where(
            *where,
            or_(
                Departure.expected_at >= bindparam("now"),
                and_(
                    Departure.vehicle_at_stop.is_(True),
                    Departure.expected_at >= bindparam("recent"),
                    Departure.fetched_at >= bindparam("recent"),
                ),
            ),
        )
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


def _attempt(raw: Any) -> SourceAttempt | None:
    if not isinstance(raw, dict) or not raw.get("source"):
        return None

    def number(key: str) -> float:
        value = raw.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    error = raw.get("error")
    return SourceAttempt(
        source=str(raw["source"]),
        ok=bool(raw.get("ok")),
        error=str(error) if error is not None else None,
        duration_ms=number("duration_ms"),
        requests=int(number("requests")),
        items=int(number("items")),
    )


# --- Queries -------------------------------------------------------------------------------------------------------


async def _stale_stop_counts(session: AsyncSession, *, now: datetime, stale_after_seconds: float) -> dict[str, int]:
    """Per line, how many of its boards are stale or failed."""
    rows = await session.execute(
        select(StopBoard.line_id, func.count())
        .where(_board_not_fresh(now, stale_after_seconds))
        .group_by(StopBoard.line_id)
    )
    return {line_id: int(count) for line_id, count in rows}


async def next_board_turning_stale(session: AsyncSession, *, stale_after_seconds: float) -> datetime | None:
    """When the next board that is fresh now turns stale (the per-line counts of stale boards change then)."""
    now = utcnow()
    oldest_fresh = (
        await session.execute(
            select(func.min(StopBoard.last_success_at)).where(
                ~_board_not_fresh(now, stale_after_seconds), StopBoard.last_success_at.is_not(None)
            )
        )
    ).scalar_one_or_none()
    return oldest_fresh + timedelta(seconds=stale_after_seconds) if oldest_fresh is not None else None


async def _stop_boards(session: AsyncSession, *where: Any) -> dict[tuple[str, str], StopBoard]:
    boards = (await session.execute(select(StopBoard).where(*where))).scalars()
    return {(board.line_id, board.station_id): board for board in boards}


def live_summary(lines: Sequence[LineSummaryView]) -> LiveSummaryView:
    """How many of the lines the fleet fetches have live data now, and the main reason the others do not."""
    fetched = [line.freshness for line in lines if line.freshness.status != "never"]
    live = [f for f in fetched if f.status in ("ok", "partial") and not f.stale]
    reasons = Counter(f.reason for f in fetched if f not in live and f.reason)
    successes = [f.last_success_at for f in fetched if f.last_success_at is not None]
    return LiveSummaryView(
        lines_total=len(fetched),
        lines_live=len(live),
        lines_stale=sum(1 for f in fetched if f.status == "stale"),
        lines_failed=sum(1 for f in fetched if f.status == "failed"),
        lines_no_data=sum(1 for f in fetched if f.status == "no_data" and not f.stale),
        reason=reasons.most_common(1)[0][0] if reasons else (None if fetched else "not_fetched"),
        last_success_at=max(successes) if successes else None,
    )


async def lines_by_network(session: AsyncSession, *, stale_after_seconds: float) -> list[NetworkLinesView]:
    """Every line with its traffic and freshness, grouped by network (metro, RER, tram, bus), catalogue order."""
    now = utcnow()
    result = await session.execute(
        select(Line, TrafficStatus, LineSnapshot)
        .outerjoin(TrafficStatus, TrafficStatus.line_id == Line.id)
        .outerjoin(LineSnapshot, LineSnapshot.line_id == Line.id)
        .order_by(Line.sort_order, Line.id)
    )
    stale_stops = await _stale_stop_counts(session, now=now, stale_after_seconds=stale_after_seconds)
    grouped: dict[str, list[LineSummaryView]] = defaultdict(list)
    for line, traffic, snapshot in result:
        grouped[line.network].append(
            _line_summary(
                line,
                traffic,
                snapshot,
                now=now,
                stale_after=stale_after_seconds,
                stops_stale=stale_stops.get(line.id, 0) if snapshot is not None else None,
            )
        )
    networks = [network for network in NETWORK_ORDER if network in grouped]
    networks += sorted(network for network in grouped if network not in NETWORK_LABELS)
    return [
        NetworkLinesView(network=network, label=NETWORK_LABELS.get(network, network.title()), lines=grouped[network])
        for network in networks
    ]


def _board_parameters(now: datetime) -> dict[str, datetime]:
    return {"now": now, "recent": now - AT_PLATFORM_GRACE}


async def line_detail(session: AsyncSession, line_id: str, *, stale_after_seconds: float) -> LineDetailView | None:
    """A line's stations per direction and branch with their next departures and each board's freshness, and its
    trains; None when the line is not in the database."""
    now = utcnow()
    head = (await session.execute(_LINE_HEAD, {"line_id": line_id})).first()
    if head is None:
        return None
    line, traffic, snapshot = head

    places = (await session.execute(_LINE_PLACES, {"line_id": line_id})).all()
    boards: dict[tuple[str, str], list[DepartureView]] = defaultdict(list)
    for row in await session.execute(_LINE_DEPARTURES, {"line_id": line_id, **_board_parameters(now)}):
        departure = _departure(row)
        boards[(departure.station_id, departure.direction)].append(departure)
    stop_boards = await _stop_boards(session, StopBoard.line_id == line_id)
    stop_freshness = {
        station_id: stop_freshness_of(board, now=now, stale_after_seconds=stale_after_seconds)
        for (_line, station_id), board in stop_boards.items()
    }
    never = stop_freshness_of(None, now=now, stale_after_seconds=stale_after_seconds)

    branches: dict[str, dict[int, list[StationBoardView]]] = defaultdict(lambda: defaultdict(list))
    for direction, branch, position, station_id, name in places:
        branches[direction][branch].append(
            StationBoardView(
                station_id=station_id,
                name=name,
                position=position,
                departures=boards.get((station_id, direction), []),
                freshness=stop_freshness.get(station_id, never),
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
    disruptions, disruptions_change_at = await _line_disruptions(session, line_id, now)
    stale_stops = sum(1 for f in stop_freshness.values() if f.stale or f.status == "failed")
    return LineDetailView(
        line=_line_summary(
            line,
            traffic,
            snapshot,
            now=now,
            stale_after=stale_after_seconds,
            stops_stale=stale_stops if snapshot is not None else None,
        ),
        directions=directions,
        vehicles=vehicles,
        disruptions=disruptions,
        disruptions_change_at=disruptions_change_at,
    )


_SEVERITY = {"BLOQUANTE": "blocking", "PERTURBEE": "disturbed", "INFORMATION": "information"}
_SEVERITY_ORDER = {"blocking": 0, "disturbed": 1, "information": 2}
_PERIODS_SHOWN = 10


async def _line_disruptions(
    session: AsyncSession, line_id: str, now: datetime
) -> tuple[list[DisruptionView], datetime | None]:
    """The line's disruptions of the traffic feed that are current or to come at `now` (current first, most
    serious first), and the next moment one of their periods begins or ends."""
    rows = (await session.execute(select(LineDisruption).where(LineDisruption.line_id == line_id))).scalars()
    views: list[DisruptionView] = []
    changes: list[datetime] = []
    for row in rows:
        periods = sorted(
            (PeriodRecord(_aware(p["begin"]), _aware(p["end"])) for p in row.periods or []), key=lambda p: p.begin
        )
        left = [period for period in periods if period.end > now]
        if not left:
            continue  # over, though the feed lists entries for about an hour after they end
        holding = next((period for period in left if period.begin <= now), None)
        changes.extend(moment for period in left for moment in (period.begin, period.end) if moment > now)
        views.append(
            DisruptionView(
                id=row.disruption_id,
                severity=_SEVERITY.get(row.severity, "information"),
                cause=row.cause,
                title=row.title,
                short_message=row.short_message,
                message=row.message,
                current=holding is not None,
                period=holding or left[0],
                periods=left[:_PERIODS_SHOWN],
                sections=[SectionRecord(s["from"], s["to"]) for s in row.sections or []],
                updated_at=row.last_update_at,
            )
        )
    views.sort(key=lambda view: (not view.current, _SEVERITY_ORDER[view.severity], view.period.begin, view.id))
    return views, min(changes, default=None)


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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

    Raises ValueError when the query has no letter or digit. Letters of any alphabet are accepted; those with no
    Latin form (e.g. "þ", "щ") match no station, since station names are written in French."""
    needle = normalise_name(query)
    if not needle:
        if any(char.isalnum() for char in query):
            return []
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


# The area the network serves, with a margin: Île-de-France's bounding box and RER D's terminus at Creil (Oise).
SERVED_LAT = (48.0, 49.4)
SERVED_LON = (1.3, 3.7)
EARTH_RADIUS_M = 6_371_000.0
# A steady walk, 4.5 km/h, along the straight line (streets are longer: a lower bound, and labelled so).
WALKING_METRES_PER_MINUTE = 75.0


def straight_line_metres(lat: float, lon: float, other_lat: float, other_lon: float) -> float:
    """Great-circle distance (haversine), exact to well under a metre at the scale of a city."""
    phi, other_phi = math.radians(lat), math.radians(other_lat)
    half_dphi = (other_phi - phi) / 2
    half_dlambda = math.radians(other_lon - lon) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi) * math.cos(other_phi) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def check_served_area(lat: float, lon: float) -> None:
    """Raises ValueError naming the served area when the point is far outside it."""
    if not (SERVED_LAT[0] <= lat <= SERVED_LAT[1] and SERVED_LON[0] <= lon <= SERVED_LON[1]):
        raise ValueError(
            f"({lat}, {lon}) is outside the area the network serves (Île-de-France: latitude "
            f"{SERVED_LAT[0]}..{SERVED_LAT[1]}, longitude {SERVED_LON[0]}..{SERVED_LON[1]})"
        )


async def nearest_stations(session: AsyncSession, lat: float, lon: float, *, limit: int) -> list[NearbyStationView]:
    """The `limit` stations nearest to (lat, lon) by straight line, among those a line calls at and whose point is
    known, nearest first, with the distance and a walking time along that line. Raises ValueError for a point
    outside the served area."""
    check_served_area(lat, lon)
    # A box around the point keeps the scan small. It is widened until its `limit` nearest stations lie within the
    # circle it contains (half_side degrees of latitude, about 111 km each; the longitude side is 1.5 times as many
    # degrees, which at 48-49.4 N is at least as long), so that no nearer station can lie outside it.
    ranked: list[tuple[float, str, Station]] = []
    for half_side in (0.02, 0.06, 0.2, 2.0):
        stations = (
            await session.execute(
                select(Station).where(
                    Station.lat.between(lat - half_side, lat + half_side),
                    Station.lon.between(lon - half_side * 1.5, lon + half_side * 1.5),
                    Station.id.in_(select(LineStation.station_id)),
                )
            )
        ).scalars()
        ranked = sorted(
            (
                (straight_line_metres(lat, lon, station.lat, station.lon), station.id, station)
                for station in stations
                if station.lat is not None and station.lon is not None
            ),
            key=lambda item: item[:2],
        )[:limit]
        if len(ranked) == limit and ranked[-1][0] <= half_side * 110_000:
            break
    lines = await _lines_at(session, [station.id for _, _, station in ranked])
    return [
        NearbyStationView(
            station_id=station.id,
            name=station.name,
            town=station.town,
            lat=station.lat,
            lon=station.lon,
            distance_m=round(distance),
            walking_minutes=max(1, math.ceil(distance / WALKING_METRES_PER_MINUTE)),
            lines=[_line_ref(line) for line in lines.get(station.id, [])],
        )
        for distance, _, station in ranked
        if station.lat is not None and station.lon is not None  # always: the query asked for them
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
    parameters = {"station_id": station.id, **_board_parameters(now)}
    departures = [_departure(row) for row in await session.execute(_STATION_DEPARTURES, parameters)]
    line_ids = list(dict.fromkeys([line.id for line in lines] + [d.line_id for d in departures]))
    snapshots = {
        snapshot.line_id: snapshot
        for snapshot in (
            await session.execute(select(LineSnapshot).where(LineSnapshot.line_id.in_(line_ids)))
        ).scalars()
    }
    stop_boards = await _stop_boards(session, StopBoard.station_id == station.id)
    return StationDetailView(
        station=StationInfoView(id=station.id, name=station.name, town=station.town),
        lines=[_line_ref(line) for line in lines],
        departures=departures,
        freshness=[
            LineFreshnessView(
                line_id=line_id,
                freshness=freshness_of(snapshots.get(line_id), now=now, stale_after_seconds=stale_after_seconds),
                stop=stop_freshness_of(
                    stop_boards.get((line_id, station.id)), now=now, stale_after_seconds=stale_after_seconds
                ),
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
        await session.execute(select(func.count()).select_from(Departure).where(Departure.expected_at >= utcnow()))
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
            .where(Departure.expected_at >= utcnow())
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


# --- Line health, for operators (system API) -----------------------------------------------------------------------


@dataclass(frozen=True)
class StopProblemView:
    station_id: str
    name: str
    status: str
    reason: str | None
    error: str | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class StationRefView:
    station_id: str
    name: str


@dataclass(frozen=True)
class LineHealthView:
    line_id: str
    status: str
    stale: bool
    reason: str | None
    error: str | None
    fetched_at: datetime | None
    last_success_at: datetime | None
    age_seconds: float | None
    task_run_id: str | None
    attempts: list[SourceAttempt]
    failed_stops: list[StopProblemView]
    stations_without_ids: list[StationRefView]


async def line_health(
    session: AsyncSession, *, stale_after_seconds: float, problems_only: bool = True
) -> list[LineHealthView]:
    """Every fetched line's latest outcome with the technical detail: errors, per-source attempts, the stops that
    failed and why, the stations no stop id is known for. `problems_only`: lines that are not ok or lack ids."""
    now = utcnow()
    snapshots = (
        await session.execute(
            select(LineSnapshot).join(Line, Line.id == LineSnapshot.line_id).order_by(Line.sort_order, Line.id)
        )
    ).scalars()
    problems: dict[str, list[StopProblemView]] = defaultdict(list)
    without_ids: dict[str, list[StationRefView]] = defaultdict(list)
    rows = await session.execute(
        select(StopBoard, Station.name)
        .outerjoin(Station, Station.id == StopBoard.station_id)
        .where(_board_not_fresh(now, stale_after_seconds))
        .order_by(StopBoard.line_id, StopBoard.station_id)
    )
    for board, name in rows:
        label = name or board.station_id
        if board.reason == "no_stop_ids":
            without_ids[board.line_id].append(StationRefView(board.station_id, label))
        board_freshness = stop_freshness_of(board, now=now, stale_after_seconds=stale_after_seconds)
        problems[board.line_id].append(
            StopProblemView(
                board.station_id,
                label,
                board_freshness.status,
                board_freshness.reason,
                board.error,
                board.last_success_at,
            )
        )
    health = []
    for snapshot in snapshots:
        freshness = freshness_of(snapshot, now=now, stale_after_seconds=stale_after_seconds)
        line_id = snapshot.line_id
        if problems_only and freshness.status == "ok" and not problems.get(line_id) and not without_ids.get(line_id):
            continue
        raw_attempts = snapshot.attempts if isinstance(snapshot.attempts, list) else []
        health.append(
            LineHealthView(
                line_id=line_id,
                status=freshness.status,
                stale=freshness.stale,
                reason=freshness.reason,
                error=snapshot.error,
                fetched_at=snapshot.fetched_at,
                last_success_at=snapshot.last_success_at,
                age_seconds=freshness.age_seconds,
                task_run_id=snapshot.task_run_id,
                attempts=[attempt for attempt in map(_attempt, raw_attempts) if attempt is not None],
                failed_stops=problems.get(line_id, []),
                stations_without_ids=without_ids.get(line_id, []),
            )
        )
    return health
