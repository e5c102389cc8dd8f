"""Normalised records that a line fetch produces: what the worker persists, whatever source the data came from.

Frozen dataclasses only, no behaviour: the sources build them and the worker stores them. All datetimes are
timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from backend.services.stop_refs import LineStopRefs

# The sources write these as string literals; `backend.vocabulary` has them as enums for the database and the API
# (tests/foundation/test_vocabulary.py keeps the two equal until the sources build the enums' members).
DepartureStatus = Literal["on_time", "delayed", "cancelled", "at_platform", "unknown"]
TrafficLevel = Literal["normal", "disrupted", "closed", "unknown"]
# What became of a line's departures in one fetch: every stop answered ("ok"; "no_data" when none announced any),
# some stops failed ("partial"), or no stop answered ("failed").
FetchStatus = Literal["ok", "partial", "no_data", "failed"]
# Why data is missing or old, as a code the dashboard turns into a sentence; the technical text goes elsewhere.
FreshnessReason = Literal[
    "no_key",
    "not_configured",
    "unreachable",
    "rate_limited",
    "quota",
    "rejected",
    "blocked",
    "upstream_error",
    "paused",
    "no_stop_ids",
    "not_fetched",
]


@dataclass(frozen=True)
class DepartureRecord:
    line_id: str
    station_id: str
    direction: str  # "A" | "R"
    destination: str
    expected_at: datetime
    aimed_at: datetime | None
    status: DepartureStatus
    is_realtime: bool
    vehicle_at_stop: bool
    source: str
    fetched_at: datetime


@dataclass(frozen=True)
class VehiclePositionRecord:
    line_id: str
    vehicle_id: str
    direction: str
    previous_station_id: str | None
    next_station_id: str | None
    progress: float | None  # 0..1 between the previous and the next station
    stop_status: str | None
    recorded_at: datetime
    source: str


@dataclass(frozen=True)
class TrafficStatusRecord:
    line_id: str
    level: TrafficLevel
    message: str | None
    source: str
    updated_at: datetime


@dataclass(frozen=True)
class SourceAttempt:
    source: str
    ok: bool
    error: str | None
    duration_ms: float
    requests: int
    items: int


@dataclass(frozen=True)
class StopOutcome:
    """What one station's board got in one fetch: an answer (possibly with no departures) or a failure."""

    station_id: str
    source: str | None  # the source that answered, or the last one tried
    answered: bool
    departures: int
    reason: FreshnessReason | None  # set when not answered
    error: str | None  # the technical cause, for operators; "not attempted: ..." when no request was sent
    cause: str | None = None  # the same in a few words naming no request ("HTTP 400", "timeout")


@dataclass(frozen=True)
class StationRecord:
    line_id: str
    direction: str
    branch: int
    position: int
    station_id: str
    name: str
    upstream_ref: str | None  # "stop_area:IDFM:<n>" (PRIM's Navitia) or "ART:IDFM:<n>" (ratp.fr's stop list)
    town: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class StopList:
    """The stops an upstream gave for a line without catalogue stations (a bus line), as kept in the database: the
    workers reuse it until it is `BUS_STOPS_REFRESH_HOURS` old, then ask again."""

    line_id: str
    source: str  # "prim" (Navitia) or "ratp_http"
    fetched_at: datetime
    stations: tuple[StationRecord, ...]


@dataclass(frozen=True)
class LineFetchResult:
    line_id: str
    departures: tuple[DepartureRecord, ...]
    positions: tuple[VehiclePositionRecord, ...]
    traffic: TrafficStatusRecord | None
    attempts: tuple[SourceAttempt, ...]
    stations: tuple[StationRecord, ...]  # a bus line's stops when this fetch asked an upstream for them; () otherwise
    status: FetchStatus
    error: str | None  # readable summary when not ok
    stops: tuple[StopOutcome, ...] = ()  # one per station of the line asked for
    reason: FreshnessReason | None = None  # the main reason when not ok
    dropped: tuple[tuple[str, int], ...] = ()  # upstream entries that could not be used, by reason
    stations_source: str | None = None  # the source of `stations` ("prim", "ratp_http")
    stop_refs: LineStopRefs | None = None  # stop ids learnt or corrected by this fetch, to persist

    @property
    def failed_stops(self) -> tuple[StopOutcome, ...]:
        return tuple(stop for stop in self.stops if not stop.answered)


@dataclass(frozen=True)
class PeriodRecord:
    """When a disruption applies: [begin, end)."""

    begin: datetime
    end: datetime


@dataclass(frozen=True)
class SectionRecord:
    """The stretch of a line a disruption affects, by stop names."""

    from_name: str
    to_name: str
