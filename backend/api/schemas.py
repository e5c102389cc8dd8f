"""Response and request models of the public and system APIs, as agreed in docs/API_CONTRACT.md.

These are the shapes the dashboard's generated client is built from: change them only together with the contract.
Models read from the query layer's objects (`from_attributes`), so routers only validate, call and return.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, computed_field, model_validator
from pydantic_core import PydanticCustomError

from backend.registry import WorkerCounts
from backend.services.records import FreshnessReason
from backend.tasks.queries import TaskCounts
from backend.vocabulary import BusKind, CircuitState, DepartureStatus, TaskStatus, TrafficLevel, WorkerStatus

Network = Literal["metro", "rer", "tram", "bus"]
DirectionCode = Literal["A", "R"]
FreshnessStatus = Literal["ok", "partial", "stale", "no_data", "failed", "never"]
StopFreshnessStatus = Literal["ok", "stale", "no_data", "failed", "never"]
FRESHNESS_STATUS_DESCRIPTION = (
    "`ok`: every stop answered in the latest fetch, within the freshness window; `partial`: some stops answered, "
    "others failed (their boards are older, see each board's freshness); `stale`: the newest data is older than "
    "`stale_after_seconds` (nothing refreshed it); `no_data`: the sources answered, with no departures; `failed`: "
    "the latest fetch errored at every stop (the departures shown, if any, are from `last_success_at`); `never`: "
    "not fetched yet."
)
REASON_DESCRIPTION = (
    "Why data is missing or old, as a code (null when fresh): `no_key` (no PRIM API key configured), "
    "`not_configured` (no source can serve it), `unreachable` (timeouts, connection or DNS failures), "
    "`rate_limited` (HTTP 429), `quota` (the daily quota is spent), `rejected` (the API key was refused), "
    "`blocked` (refused, e.g. a bot challenge), `upstream_error` (error or unusable answers), `paused` (a source "
    "paused after repeated failures), `no_stop_ids` (no upstream stop id known), `not_fetched` (not refreshed)."
)

LINE_ID_DESCRIPTION = "Line id `<network>:<code>`, e.g. `metro:1`, `metro:3bis`, `rer:A`, `tram:T3a`, `bus:38`."


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer: a machine-readable `detail` and, where given, a readable `message`."""

    detail: Any = Field(description="What went wrong: a sentence, or the list of validation errors.")
    message: str | None = Field(default=None, description="One readable sentence summing up the error.")


# --- Public ------------------------------------------------------------------------------------------------------


class MetaInfo(ApiModel):
    """How this deployment runs, for the dashboard's header."""

    demo_mode: bool = Field(description="True when the data is replayed from recordings (`serve.sh up --demo`).")
    bus: BusKind = Field(description="The task bus in use: Kafka, or the database-backed queue.")
    version: str = Field(description="API version.", examples=["0.1.0"])
    scheduler_interval_seconds: float = Field(description="Seconds between two refreshes of every line.")
    stale_after_seconds: float = Field(description="Data older than this is shown as stale.")
    prim_configured: bool = Field(description="True when a PRIM API key is configured.")
    sources: list[str] = Field(description="The sources in the order they are asked (SOURCE_ORDER).")


class Freshness(ApiModel):
    """How fresh a line's data is, from its latest fetch and its latest answer."""

    status: FreshnessStatus = Field(description=FRESHNESS_STATUS_DESCRIPTION)
    reason: FreshnessReason | None = Field(description=REASON_DESCRIPTION)
    source: str | None = Field(description="The source the departures came from.", examples=["prim"])
    fetched_at: datetime | None = Field(description="When the latest fetch ended.")
    last_success_at: datetime | None = Field(description="When the latest fetch in which some stop answered ended.")
    age_seconds: float | None = Field(description="Seconds since `last_success_at`.", examples=[42.5])
    stale: bool = Field(description="True when `last_success_at` is older than `stale_after_seconds`, or never.")
    stale_after_seconds: float = Field(description="The freshness window (1.5 scheduler intervals by default).")
    stops_total: int | None = Field(description="Stops asked for in the latest fetch.")
    stops_failed: int | None = Field(description="Stops whose request failed in the latest fetch.")
    stops_stale: int | None = Field(description="Stops whose board is stale or failed now.")


class StopFreshness(ApiModel):
    """How fresh one station's board on one line is: each stop answers, or fails, on its own."""

    status: StopFreshnessStatus = Field(
        description="`ok`: answered within the window; `no_data`: answered, with no departures; `stale`: the "
        "latest answer is older than the window; `failed`: the latest request failed (departures shown, if any, "
        "are from `last_success_at`); `never`: not fetched yet."
    )
    reason: FreshnessReason | None = Field(description=REASON_DESCRIPTION)
    source: str | None = Field(examples=["prim"])
    fetched_at: datetime | None = Field(description="When the latest request for this board ended.")
    last_success_at: datetime | None = Field(description="When this board was last answered.")
    age_seconds: float | None = Field(description="Seconds since `last_success_at`.")
    stale: bool = Field(description="True when `last_success_at` is older than the window, or never.")


class TrafficInfo(ApiModel):
    """The line's current traffic status."""

    level: TrafficLevel
    message: str | None = Field(description="The operator's message, when there is one.")
    source: str = Field(examples=["prim"])
    updated_at: datetime


class LineRef(ApiModel):
    """A line, with the colours to draw its badge."""

    id: str = Field(description=LINE_ID_DESCRIPTION, examples=["metro:1"])
    network: Network
    code: str = Field(examples=["1"])
    name: str = Field(examples=["Métro 1"])
    colour: str = Field(description="Badge colour, `#RRGGBB`.", examples=["#FFCD00"])
    text_colour: str = Field(description="Text colour readable on `colour`.", examples=["#000000"])


class LineSummary(LineRef):
    """A line with its traffic status and the freshness of its data."""

    traffic: TrafficInfo | None = Field(description="Null when no traffic status was fetched yet.")
    freshness: Freshness


class NetworkLines(ApiModel):
    network: Network
    label: str = Field(examples=["Métro"])
    lines: list[LineSummary]


class LiveSummary(ApiModel):
    """How many of the lines the fleet fetches have live data now, and why the others do not."""

    lines_total: int = Field(description="Lines fetched at least once.")
    lines_live: int = Field(description="Lines `ok` or `partial`, and not stale.")
    lines_stale: int
    lines_failed: int
    lines_no_data: int
    reason: FreshnessReason | None = Field(description="The most common reason among the lines not live.")
    last_success_at: datetime | None = Field(description="The newest answer across lines.")


class LinesResponse(ApiModel):
    """Every line, grouped by network in the usual order (metro, RER, tram, bus), and a summary of their freshness."""

    networks: list[NetworkLines]
    summary: LiveSummary


class Departure(ApiModel):
    """One next departure of a line at a station."""

    line_id: str = Field(description=LINE_ID_DESCRIPTION, examples=["metro:1"])
    station_id: str = Field(examples=["chatelet"])
    direction: DirectionCode = Field(description="`A` runs the line in its listed order, `R` the other way.")
    destination: str = Field(examples=["La Défense"])
    expected_at: datetime = Field(description="When the train is expected (real time when `is_realtime`).")
    aimed_at: datetime | None = Field(description="The timetabled time, when known.")
    status: DepartureStatus
    is_realtime: bool
    vehicle_at_stop: bool = Field(description="The train is at the platform now.")
    source: str = Field(examples=["prim"])
    fetched_at: datetime


class StationBoard(ApiModel):
    """A station on a line's direction, with the next departures of that line and direction there."""

    station_id: str = Field(examples=["chatelet"])
    name: str = Field(examples=["Châtelet"])
    position: int = Field(description="Order within the branch, from 0.")
    departures: list[Departure] = Field(
        description="Soonest first, at most 4; none whose time has passed (a train at the platform in a recent "
        "answer stays up to a minute)."
    )
    freshness: StopFreshness


class Branch(ApiModel):
    branch: int = Field(description="Branch number (0 for unbranched lines).")
    stations: list[StationBoard]


class Direction(ApiModel):
    direction: DirectionCode
    terminus: str = Field(description="Where this direction ends (branch termini joined by ` / `).")
    branches: list[Branch]


class VehiclePosition(ApiModel):
    """A train between two stations."""

    vehicle_id: str
    direction: DirectionCode
    previous_station_id: str | None
    next_station_id: str | None
    progress: float | None = Field(description="0 at the previous station, 1 at the next one.")
    stop_status: str | None = Field(examples=["at_stop", "in_transit"])
    recorded_at: datetime


class SourceAttempt(ApiModel):
    """How one source did during the line's latest fetch."""

    source: str = Field(examples=["prim"])
    ok: bool
    error: str | None
    duration_ms: float
    requests: int
    items: int


DisruptionSeverity = Literal["blocking", "disturbed", "information"]


class DisruptionPeriod(ApiModel):
    begin: datetime
    end: datetime


class AffectedSection(ApiModel):
    """A stretch of the line the disruption touches, by the names PRIM gives its ends."""

    from_name: str = Field(examples=["Château de Vincennes"])
    to_name: str = Field(examples=["Nation"])


class LineDisruption(ApiModel):
    """A disruption of the line from PRIM's traffic feed, current or to come (those whose periods all ended are left
    out, whatever the feed still lists)."""

    id: str
    severity: DisruptionSeverity = Field(
        description="PRIM's BLOQUANTE (`blocking`: service stopped on the line or part of it), PERTURBEE "
        "(`disturbed`), INFORMATION (`information`)"
    )
    cause: str | None = Field(examples=["TRAVAUX", "PERTURBATION"])
    title: str
    short_message: str | None
    message: str | None = Field(description="The full message as plain text (PRIM's HTML reduced to its words)")
    current: bool = Field(description="One of its periods holds now")
    period: DisruptionPeriod = Field(description="The period holding now, or else the next one")
    periods: list[DisruptionPeriod] = Field(description="Its periods not ended yet, first ten")
    sections: list[AffectedSection]
    updated_at: datetime | None = Field(description="When PRIM last changed it")


class LineDetail(ApiModel):
    """One line: its stations per direction with their next departures and each board's freshness, its trains."""

    line: LineSummary
    directions: list[Direction]
    vehicles: list[VehiclePosition]
    disruptions: list[LineDisruption] = Field(
        default_factory=list,
        description="From PRIM's traffic feed: current ones first, most serious first; empty when none (or the "
        "feed was never read: see `line.traffic`)",
    )
    refresh_interval_seconds: float | None = Field(
        default=None,
        description="How often the line is planned to be refreshed while someone looks at it, with what the PRIM "
        "key has left today; longer than `stale_after_seconds` means boards get that old between refreshes. Null "
        "when no refresh is planned (no PRIM allowance left, or PRIM not used).",
    )


class StationInfo(ApiModel):
    id: str = Field(examples=["chatelet"])
    name: str = Field(examples=["Châtelet"])
    town: str | None = Field(examples=["Paris"])


class StationMatch(ApiModel):
    """A station matching a search, with the lines calling at it."""

    station_id: str = Field(examples=["chatelet"])
    name: str = Field(examples=["Châtelet"])
    town: str | None
    lines: list[LineRef]


class NearbyStation(ApiModel):
    """A station near a point, by straight line, with the lines calling at it."""

    station_id: str = Field(examples=["chatelet"])
    name: str = Field(examples=["Châtelet"])
    town: str | None
    lat: float = Field(description="WGS 84 latitude of the station.", examples=[48.858565])
    lon: float = Field(description="WGS 84 longitude of the station.", examples=[2.346928])
    distance_m: int = Field(description="Straight-line distance from the given point, in metres.", examples=[240])
    walking_minutes: int = Field(
        description="Walking time along that straight line at 4.5 km/h, rounded up (streets make it longer).",
        examples=[4],
    )
    lines: list[LineRef]


class LineFreshness(ApiModel):
    line_id: str = Field(description=LINE_ID_DESCRIPTION, examples=["metro:1"])
    freshness: Freshness
    stop: StopFreshness | None = Field(
        default=None, description="In a station's detail: that line's board at this station."
    )


class StationDetail(ApiModel):
    """A station: the lines calling at it, their next departures there (soonest first) and their freshness."""

    station: StationInfo
    lines: list[LineRef]
    departures: list[Departure]
    freshness: list[LineFreshness]


# --- System ------------------------------------------------------------------------------------------------------


def _exactly_one_of_count_or_delta(schema: dict[str, Any]) -> None:
    """The schema says what the endpoint accepts: an object with exactly one of two integers (never null)."""
    schema["properties"]["count"] = {"type": "integer", "minimum": 0, "description": "Worker pool size wanted."}
    schema["properties"]["delta"] = {"type": "integer", "description": "Workers to add, or remove when negative."}
    schema["oneOf"] = [{"required": ["count"]}, {"required": ["delta"]}]
    schema["examples"] = [{"count": 4}, {"delta": 2}]


class ScaleRequest(BaseModel):
    """Give exactly one of `count` (the pool size wanted) or `delta` (workers to add, or remove when negative)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_of_count_or_delta)

    count: StrictInt | None = Field(default=None, ge=0, description="Worker pool size wanted (0..WORKER_MAX_COUNT).")
    delta: StrictInt | None = Field(default=None, description="Workers to add (positive) or remove (negative).")

    @model_validator(mode="before")
    @classmethod
    def _no_infinite_numbers(cls, data: Any) -> Any:
        # JSON like 1e400 parses to inf, which no JSON error response could echo back: keep it as text.
        if isinstance(data, dict):
            return {k: repr(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> ScaleRequest:
        if (self.count is None) == (self.delta is None) or len(self.model_fields_set) != 1:
            raise PydanticCustomError(
                "count_or_delta", 'give exactly one of "count" or "delta", e.g. {"count": 4} or {"delta": 2}'
            )
        return self


class ScaleResult(ApiModel):
    """What the scaling backend did."""

    backend: Literal["docker", "local"]
    previous: int | None = Field(description="Workers before the request, when known.")
    requested: int = Field(description="The pool size asked for.")
    observed: int | None = Field(description="Workers seen running afterwards, when known.")
    message: str


class DepartureHighlight(ApiModel):
    """A recently fetched departure, to eyeball live boards from the admin console."""

    line: LineRef
    station_id: str
    station_name: str
    direction: DirectionCode
    destination: str
    expected_at: datetime
    status: DepartureStatus
    is_realtime: bool


class DbSummary(ApiModel):
    """Counts from the database, to confirm scaling and see the pipeline work."""

    # The counts as the task queries and the registry return them (`tasks/queries.py`, `registry.py`).
    tasks: TaskCounts
    workers: WorkerCounts
    departures: int = Field(description="Departures currently on the boards.")
    lines_with_data: int = Field(description="Lines with at least one successful fetch.")
    recent_departures: list[DepartureHighlight]


class StopProblem(ApiModel):
    """A board that is not fresh: the stop failed in the latest fetch, or its answer is too old."""

    station_id: str
    name: str
    status: StopFreshnessStatus
    reason: FreshnessReason | None
    error: str | None = Field(description="The technical cause.")
    last_success_at: datetime | None


class StationRef(ApiModel):
    station_id: str
    name: str


class LineHealth(ApiModel):
    """A line's latest fetch with its technical detail, for operators."""

    line_id: str = Field(description=LINE_ID_DESCRIPTION, examples=["metro:1"])
    status: FreshnessStatus = Field(description=FRESHNESS_STATUS_DESCRIPTION)
    stale: bool
    reason: FreshnessReason | None = Field(description=REASON_DESCRIPTION)
    error: str | None = Field(description="What went wrong in the latest fetch, technically (sources, causes).")
    fetched_at: datetime | None
    last_success_at: datetime | None
    age_seconds: float | None
    task_run_id: str | None = Field(description="The task whose fetch wrote this.")
    attempts: list[SourceAttempt] = Field(description="How each source did in the latest fetch.")
    failed_stops: list[StopProblem]
    stations_without_ids: list[StationRef] = Field(
        description="Stations for which no upstream stop id is known: they get no live departures."
    )


class SourceCircuit(ApiModel):
    """A source's circuit breaker in one worker, as of its last heartbeat: `open` while the source is paused after
    failures (or a 429), `half_open` while one probe request may go out."""

    name: str = Field(examples=["prim", "ratp_http", "vmtr"])
    state: CircuitState
    consecutive_failures: int
    last_error: str | None
    retry_in_seconds: float = Field(description="How long the circuit stays open after the heartbeat; 0 otherwise.")


class WorkerInfo(ApiModel):
    """A worker replica in the registry; `lost` when its heartbeat is older than WORKER_LOST_AFTER_SECONDS."""

    id: str
    host: str
    pid: int
    status: WorkerStatus
    bus: str = Field(examples=["kafka"])
    started_at: datetime
    last_heartbeat_at: datetime
    heartbeat_age_seconds: float
    current_task_id: str | None
    current_line_id: str | None
    processed_count: int
    failed_count: int
    last_error: str | None
    assigned_partitions: list[int]
    metrics: dict[str, Any]

    @computed_field(description="Each source's circuit breaker in this worker, from its heartbeat's metrics.")  # type: ignore[prop-decorator]
    @property
    def circuits(self) -> list[SourceCircuit]:
        upstream = self.metrics.get("upstream")
        breakers = upstream.get("breakers") if isinstance(upstream, dict) else None
        circuits = []
        for breaker in breakers if isinstance(breakers, list) else []:
            try:
                circuits.append(SourceCircuit.model_validate(breaker))
            except ValidationError:  # a heartbeat written by another version: shown without it
                continue
        return circuits


class SchedulerRunInfo(ApiModel):
    """One scheduler cycle and what it enqueued."""

    id: int
    trigger: str = Field(examples=["interval", "manual"])
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    lines_total: int
    enqueued: int
    coalesced: int = Field(description="Lines skipped because their previous task was still queued or running.")
    duration_ms: float | None
    error: str | None


class PartitionLag(ApiModel):
    partition: int
    committed: int | None = Field(description="The group's committed offset; null when it never committed.")
    end_offset: int
    lag: int


class KafkaLag(ApiModel):
    """The worker consumer group's lag on the task topic."""

    topic: str
    partitions: int
    lag_total: int
    lag_by_partition: list[PartitionLag]
    members: int = Field(description="Consumers in the group.")


class QueueInfo(ApiModel):
    """The task queue: what waits, what runs, when the scheduler last ran, and the Kafka lag."""

    bus: BusKind
    queued: int
    running: int
    last_scheduled_at: datetime | None
    last_run: SchedulerRunInfo | None
    kafka: KafkaLag | None = Field(description="Null on the database queue, or when the broker did not answer.")
    kafka_error: str | None = Field(default=None, description="Why `kafka` is null on a Kafka bus.")


class TaskRunInfo(ApiModel):
    id: str
    line_id: str
    status: TaskStatus
    attempt: int
    max_attempts: int
    worker_id: str | None
    trigger: str
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None


class TaskRunPage(ApiModel):
    """Task runs, newest first; pass `next_cursor` as `cursor` for the next page (null on the last page)."""

    items: list[TaskRunInfo]
    next_cursor: str | None
