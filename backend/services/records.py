"""Normalised records that a line fetch produces: what the worker persists, whatever source the data came from.

Frozen dataclasses only, no behaviour: the sources build them and the worker stores them. All datetimes are
timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DepartureStatus = Literal["on_time", "delayed", "cancelled", "at_platform", "unknown"]
TrafficLevel = Literal["normal", "disrupted", "closed", "unknown"]
FetchStatus = Literal["ok", "partial", "no_data"]


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
class StationRecord:
    line_id: str
    direction: str
    branch: int
    position: int
    station_id: str
    name: str
    upstream_ref: str | None


@dataclass(frozen=True)
class LineFetchResult:
    line_id: str
    departures: tuple[DepartureRecord, ...]
    positions: tuple[VehiclePositionRecord, ...]
    traffic: TrafficStatusRecord | None
    attempts: tuple[SourceAttempt, ...]
    stations: tuple[StationRecord, ...]  # only for bus lines (fetched at run time); () otherwise
    status: FetchStatus
    error: str | None  # readable summary when not ok
