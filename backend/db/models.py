"""The data model: every table of the system, shared by all processes.

Schema changes go through Alembic migrations (backend/db/migrations); no process calls `create_all`.
All datetimes are timezone-aware UTC (`UTCDateTime` keeps them so on SQLite too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.vocabulary import BusKind, DepartureStatus, LogLevel, TaskStatus, TrafficLevel, WorkerStatus

TASK_PRIORITY_PERIODIC = 0
TASK_PRIORITY_DEMAND = 10
# The `line_id` of the fleet's traffic task: one read of PRIM's traffic feed for every line (one task per refresh,
# coalesced like a line's), queued by the scheduler and run by any worker.
TRAFFIC_FEED_TASK_LINE = "feed:traffic"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, on Postgres (timestamptz) and on SQLite (naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoredEnum(TypeDecorator[StrEnum]):
    """A `StrEnum` kept as its plain string in a VARCHAR: the columns and stored values are the same as before the
    enums (no migration, no database enum type), and rows read back as members. A value this release does not know
    (written by a newer one) reads back as the string, for the readers that tolerate it (a worker's status)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: StrEnum | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            return value  # type: ignore[return-value]


def active_task_predicate() -> Any:
    """The SQL predicate of an active task (queued or running), from the enum: the partial indexes' WHERE clause."""
    return text("status IN (" + ", ".join(f"'{status.value}'" for status in TaskStatus.active()) + ")")


# JSON on SQLite, JSONB on Postgres.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")
# Autoincrementing 64-bit ids; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class Line(Base):
    """A line of the catalogue (metro, RER, tram, bus), synced from backend/catalogue."""

    __tablename__ = "lines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "metro:1", "rer:A", "bus:38"
    network: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    idfm_line_id: Mapped[str | None] = mapped_column(String(32))
    colour: Mapped[str] = mapped_column(String(7))
    text_colour: Mapped[str] = mapped_column(String(7))
    operator: Mapped[str | None] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Station(Base):
    """A stop place, shared by every line that calls at it."""

    __tablename__ = "stations"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)  # stable slug: "chatelet"
    name: Mapped[str] = mapped_column(String(160))
    search_name: Mapped[str] = mapped_column(String(160), index=True)  # accent- and case-folded
    town: Mapped[str | None] = mapped_column(String(96))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class LineStation(Base):
    """A station's place on a line: ordered per line, direction and branch."""

    __tablename__ = "line_stations"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(1), primary_key=True)  # "A" | "R"
    branch: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    upstream_ref: Mapped[str | None] = mapped_column(String(96))  # e.g. a ratp.fr stop place id, when known
    source: Mapped[str] = mapped_column(String(32), default="catalogue")  # "catalogue" or the fetching source


class LineStopList(Base):
    """Which source gave a bus line's stops (its non-catalogue `line_stations`) and when; refreshed daily."""

    __tablename__ = "line_stop_lists"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # "prim" (Navitia) or "ratp_http"
    fetched_at: Mapped[datetime]
    stations_count: Mapped[int] = mapped_column(Integer)


class LineStopRef(Base):
    """A line's station as an upstream knows it, learnt at run time (PRIM's Navitia, ratp.fr's stop list) rather than
    shipped in the catalogue: kept here so that every worker has it, whichever first looked it up."""

    __tablename__ = "line_stop_refs"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    upstream_name: Mapped[str] = mapped_column(String(200))
    stop_area_id: Mapped[str | None] = mapped_column(String(32))  # PRIM's "STIF:StopArea:SP:<n>:"
    stop_place_ref: Mapped[str | None] = mapped_column(String(64))  # ratp.fr's "ART:IDFM:<n>"
    ratp_line_ref: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    resolved_at: Mapped[datetime]


class LineStopLookup(Base):
    """When a line's stop ids were last looked up at an upstream (`prim:stop_areas`, `ratp_http:stop_points`), found
    or not: no worker asks again until STOP_REFS_REFRESH_HOURS passed or an answer says an id is wrong."""

    __tablename__ = "line_stop_lookups"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    looked_up_at: Mapped[datetime]


class Departure(Base):
    """A next departure on a line's current board; replaced as a whole by each successful fetch of the line."""

    __tablename__ = "departures"
    __table_args__ = (
        Index("ix_departures_line_station_expected", "line_id", "station_id", "expected_at"),
        Index("ix_departures_station_expected", "station_id", "expected_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    station_id: Mapped[str] = mapped_column(String(96))
    direction: Mapped[str] = mapped_column(String(1))
    destination: Mapped[str] = mapped_column(String(160))
    expected_at: Mapped[datetime]
    aimed_at: Mapped[datetime | None]
    status: Mapped[DepartureStatus] = mapped_column(StoredEnum(DepartureStatus, 16))
    is_realtime: Mapped[bool] = mapped_column(Boolean)
    vehicle_at_stop: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]
    task_run_id: Mapped[str | None] = mapped_column(String(36))


class VehiclePosition(Base):
    """A train's position between two stations; replaced as a whole by each fetch of the line."""

    __tablename__ = "vehicle_positions"
    __table_args__ = (Index("ix_vehicle_positions_line", "line_id", "direction"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    vehicle_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(1))
    previous_station_id: Mapped[str | None] = mapped_column(String(96))
    next_station_id: Mapped[str | None] = mapped_column(String(96))
    progress: Mapped[float | None] = mapped_column(Float)
    stop_status: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]


class TrafficStatus(Base):
    """The current traffic status of a line."""

    __tablename__ = "traffic_status"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[TrafficLevel] = mapped_column(StoredEnum(TrafficLevel, 16))
    message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class LineDisruption(Base):
    """One disruption of PRIM's traffic feed as it touches one line, text only (the upstream's HTML never stored).

    Replaced as a whole by every successful read of the feed (`traffic_feed`); its periods say when it applies, and
    readers show as current only those whose period holds now."""

    __tablename__ = "line_disruptions"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    disruption_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16))  # BLOQUANTE, PERTURBEE, INFORMATION
    cause: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    short_message: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)  # plain text
    periods: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # [{"begin", "end"}] UTC ISO
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # [{"from", "to"}] stop names
    whole_line: Mapped[bool] = mapped_column(Boolean, default=False)
    last_update_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]


class TrafficFeed(Base):
    """Where the fleet's read of PRIM's traffic feed stands: while it is fresh, line fetches ask no traffic of their
    own; once it fails or ages, they fall back to one general-message request per line."""

    __tablename__ = "traffic_feed"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)  # prim
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    disruptions_count: Mapped[int] = mapped_column(Integer, default=0)
    lines_count: Mapped[int] = mapped_column(Integer, default=0)  # catalogue lines with a disruption listed
    updated_at: Mapped[datetime]


class LineSnapshot(Base):
    """The freshness of a line's data: the outcome of its latest fetch and of its latest successful one."""

    __tablename__ = "line_snapshots"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # ok, partial, no_data, failed (of the latest fetch)
    reason: Mapped[str | None] = mapped_column(String(32))  # why data is missing: unreachable, rate_limited, ...
    source: Mapped[str | None] = mapped_column(String(32))  # the source the departures came from
    fetched_at: Mapped[datetime]  # the latest attempt
    last_success_at: Mapped[datetime | None]  # the latest fetch in which at least one stop answered
    departures_count: Mapped[int] = mapped_column(Integer, default=0)
    positions_count: Mapped[int] = mapped_column(Integer, default=0)
    stops_total: Mapped[int | None] = mapped_column(Integer)
    stops_failed: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # per-source outcome
    task_run_id: Mapped[str | None] = mapped_column(String(36))


class StopBoard(Base):
    """The freshness of one station's board on one line: each stop answers (or fails) on its own.

    A stop that answered replaces its own departures (no visits empties the board: that is the truth); a stop that
    failed keeps its last good board, dated by `last_success_at`, and goes stale on its own.
    """

    __tablename__ = "stop_boards"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # ok, no_data (answered, nothing announced), failed
    reason: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(32))  # the source of the board on screen
    fetched_at: Mapped[datetime]  # the latest attempt
    last_success_at: Mapped[datetime | None]  # the latest answer
    departures_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    task_run_id: Mapped[str | None] = mapped_column(String(36))


class TaskRun(Base):
    """One "fetch line X" task: the unit of work from scheduler to worker, and its history."""

    __tablename__ = "task_runs"
    __table_args__ = (
        # At most one active (queued or running) task per line: the scheduler coalesces on this.
        Index(
            "uq_task_runs_active_line",
            "line_id",
            unique=True,
            postgresql_where=active_task_predicate(),
            sqlite_where=active_task_predicate(),
        ),
        Index("ix_task_runs_status_available", "status", "available_at"),
        Index("ix_task_runs_scheduled_at", "scheduled_at"),
        Index("ix_task_runs_line_scheduled", "line_id", "scheduled_at"),
        Index(
            "ix_task_runs_unpublished",
            "available_at",
            postgresql_where=text(f"status = '{TaskStatus.QUEUED.value}' AND published_at IS NULL"),
            sqlite_where=text(f"status = '{TaskStatus.QUEUED.value}' AND published_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[TaskStatus] = mapped_column(StoredEnum(TaskStatus, 16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # attempts started so far
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(16), default="interval")  # interval, manual, demand
    # Higher first: a line a rider is looking at (TASK_PRIORITY_DEMAND) passes the periodic cycle's lines.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    scheduler_run_id: Mapped[int | None] = mapped_column(BigInteger)
    scheduled_at: Mapped[datetime]
    available_at: Mapped[datetime]  # not to be started before (retry backoff)
    published_at: Mapped[datetime | None]  # when the bus accepted it (Kafka); NULL = still to publish
    started_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]  # a running task whose lease passed is taken over or failed
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class SchedulerRun(Base):
    """One scheduler cycle (on its interval or triggered now) and what it enqueued."""

    __tablename__ = "scheduler_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(16))  # interval, manual
    requested_by: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)
    coalesced: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class Worker(Base):
    """The worker registry: one row per worker replica, kept fresh by its heartbeat."""

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_last_heartbeat", "last_heartbeat_at"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    status: Mapped[WorkerStatus] = mapped_column(StoredEnum(WorkerStatus, 16))  # never `lost`: derived when read
    bus: Mapped[BusKind] = mapped_column(StoredEnum(BusKind, 16))
    started_at: Mapped[datetime]
    last_heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    current_task_id: Mapped[str | None] = mapped_column(String(36))
    current_line_id: Mapped[str | None] = mapped_column(String(32))
    processed_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    assigned_partitions: Mapped[list[int]] = mapped_column(JSONType, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class FleetSetting(Base):
    """Desired state of the local worker fleet (the supervisor reconciles towards it)."""

    __tablename__ = "fleet_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # "desired_workers"
    value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(128))


class SystemLog(Base):
    """Centralized structured logs from every service."""

    __tablename__ = "system_logs"
    __table_args__ = (
        Index("ix_system_logs_created", "created_at", "id"),
        Index("ix_system_logs_service_created", "service", "created_at"),
        Index("ix_system_logs_level_created", "level_no", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    service: Mapped[str] = mapped_column(String(32))
    level: Mapped[LogLevel] = mapped_column(StoredEnum(LogLevel, 10))
    level_no: Mapped[int] = mapped_column(Integer)
    logger: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class UpstreamUsage(Base):
    """Requests made to an upstream per UTC day, shared by all workers (PRIM quotas)."""

    __tablename__ = "upstream_usage"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    requests: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class UpstreamBudget(Base):
    """What the PRIM key allows on one API and what remains until the reset, shared by every worker.

    Written from PRIM's rate-limit headers (the configured quotas are upper bounds); every request takes one unit of
    `remaining` and the next pacing slot (`next_slot_epoch`, `spacing_seconds` apart) in one guarded UPDATE.
    """

    __tablename__ = "upstream_budgets"

    api: Mapped[str] = mapped_column(String(32), primary_key=True)  # departures, traffic, navitia
    daily_limit: Mapped[int] = mapped_column(Integer)
    daily_limit_source: Mapped[str] = mapped_column(String(16))  # configured | prim (its headers)
    per_second_limit: Mapped[int | None] = mapped_column(Integer)  # None until PRIM says (or configured)
    spacing_seconds: Mapped[float] = mapped_column(Float)  # least time between two requests of the fleet
    next_slot_epoch: Mapped[float] = mapped_column(Float)  # Unix time of the next free pacing slot
    remaining: Mapped[int] = mapped_column(Integer)  # until reset_at: ours and PRIM's count, the lower
    used_today: Mapped[int] = mapped_column(Integer, default=0)
    refused_today: Mapped[int] = mapped_column(Integer, default=0)  # answered 429 by PRIM
    held_back_today: Mapped[int] = mapped_column(Integer, default=0)  # not sent: nothing left until the reset
    day_started_at: Mapped[datetime]  # the row's creation or the latest reset
    reset_at: Mapped[datetime]
    observed_at: Mapped[datetime | None]  # the latest answer whose headers were read
    updated_at: Mapped[datetime]


class UpstreamKeyStatus(Base):
    """Whether an upstream rejected its API key: PRIM fetching stops until the key changes or an operator retries."""

    __tablename__ = "upstream_key_status"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)  # prim
    state: Mapped[str] = mapped_column(String(16))  # ok | rejected
    key_id: Mapped[str] = mapped_column(String(16))  # a digest of the key, never the key
    message: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime]


class LineView(Base):
    """A viewing lease: someone has a line (or a station on it) open; renewed by the dashboard's polling."""

    __tablename__ = "line_views"
    __table_args__ = (Index("ix_line_views_expires", "expires_at"),)

    line_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_viewed_at: Mapped[datetime]
    last_viewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    views: Mapped[int] = mapped_column(Integer, default=0)
