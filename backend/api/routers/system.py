"""The system API under /api/system (X-API-Key): worker scaling, the database summary, the worker registry, the
queue, task runs and the scheduler trigger. (`/api/system/logs` lives with the centralized logging.)

Scale and trigger need the admin key, are rate limited, and are written to the `backend.api.audit` log with who
asked, what, and the outcome.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from backend import registry
from backend.api.ratelimit import RateLimitedAdminCaller
from backend.api.routers.deps import (
    AppDatabase,
    AppSettings,
    ReadSession,
    invalid_input,
    known_query_parameters,
)
from backend.api.schemas import (
    DbSummary,
    ErrorResponse,
    LineHealth,
    QueueInfo,
    ScaleRequest,
    ScaleResult,
    SchedulerRunInfo,
    TaskRunPage,
    WorkerInfo,
)
from backend.api.security import Caller, ReadCaller, require_read_key
from backend.bus.kafka import read_group_lag
from backend.catalogue import UnknownLineError, get_catalogue
from backend.db.engine import DATABASE_ERRORS
from backend.db.keyset import InvalidCursorError
from backend.db.models import TRAFFIC_FEED_TASK_LINE
from backend.livedata.queries import line_health, live_data_counts, recent_departures
from backend.scaling import InvalidScaleRequestError, ScalingError, scale_workers, scaler_for
from backend.tasks import queries as tasks
from backend.tasks.cycle import run_cycle
from backend.vocabulary import TaskStatus

audit = logging.getLogger("backend.api.audit")

KAFKA_LAG_TIMEOUT_SECONDS = 3.0

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing X-API-Key header"},
    403: {"model": ErrorResponse, "description": "Wrong key (or the read-only key on a change)"},
    503: {"model": ErrorResponse, "description": "The database is down or not migrated"},
}
_MUTATION_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body could not be parsed (not JSON, or not UTF-8)"},
    413: {"model": ErrorResponse, "description": "The body is larger than API_MAX_BODY_BYTES"},
    429: {"model": ErrorResponse, "description": "Too many changes a minute; see Retry-After"},
}

# The key is checked first, before any parameter: an anonymous caller gets a 401, not a list of parameters.
router = APIRouter(
    prefix="/api/system", tags=["system"], responses=_AUTH_ERRORS, dependencies=[Depends(require_read_key)]
)


def _audit(caller: Caller, action: str, request: dict[str, Any], outcome: str, status_code: int, **extra: Any) -> None:
    audit.log(
        logging.INFO if status_code < 400 else logging.WARNING,
        "%s by %s: %s",
        action,
        caller.label,
        outcome,
        extra={
            "action": action,
            "caller": caller.label,
            "request": request,
            "outcome": outcome,
            "status_code": status_code,
            **extra,
        },
    )


@router.post(
    "/workers/scale",
    response_model=ScaleResult,
    responses={
        **_MUTATION_ERRORS,
        422: {"model": ErrorResponse, "description": "Not exactly one of count/delta, or out of 0..WORKER_MAX_COUNT"},
        502: {"model": ErrorResponse, "description": "The scaling command failed (its output is in the detail)"},
        503: {"model": ErrorResponse, "description": "The scaling backend is unavailable or did not answer in time"},
    },
    summary="Resize the worker pool",
)
async def scale(
    body: ScaleRequest, caller: RateLimitedAdminCaller, settings: AppSettings, database: AppDatabase
) -> ScaleResult:
    request = body.model_dump(exclude_none=True)
    try:
        scaler = await scaler_for(settings, database)
        outcome = await scale_workers(
            scaler,
            count=body.count,
            delta=body.delta,
            max_count=settings.worker_max_count,
            requested_by=caller.label,
        )
    except InvalidScaleRequestError as exc:
        _audit(caller, "workers.scale", request, f"refused: {exc}", 422)
        raise invalid_input(("body", "delta" if body.delta is not None else "count"), str(exc), request) from exc
    except ScalingError as exc:
        _audit(caller, "workers.scale", request, f"failed ({exc.backend}): {exc.message}", exc.status_code)
        raise HTTPException(status_code=exc.status_code, detail=exc.message) from exc
    except DATABASE_ERRORS as exc:
        _audit(caller, "workers.scale", request, f"failed: database error {type(exc).__name__}", 503)
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"cannot scale: the database is unavailable ({type(exc).__name__}); see GET /health",
        ) from exc
    _audit(
        caller,
        "workers.scale",
        request,
        f"{outcome.backend}: {outcome.previous} -> {outcome.requested} (observed {outcome.observed})",
        200,
        backend=outcome.backend,
        previous=outcome.previous,
        requested=outcome.requested,
        observed=outcome.observed,
    )
    return ScaleResult.model_validate(outcome)


@router.get("/db/summary", response_model=DbSummary, summary="Task, worker and departure counts")
async def db_summary(_caller: ReadCaller, session: ReadSession, settings: AppSettings) -> DbSummary:
    task_counts = await tasks.task_counts(session)
    worker_counts = await registry.worker_counts(session, lost_after_seconds=settings.worker_lost_after_seconds)
    live = await live_data_counts(session)
    highlights = await recent_departures(session, limit=10)
    return DbSummary.model_validate(
        {
            "tasks": task_counts,
            "workers": worker_counts,
            "departures": live.departures,
            "lines_with_data": live.lines_with_data,
            "recent_departures": highlights,
        }
    )


@router.get(
    "/lines",
    response_model=list[LineHealth],
    dependencies=[known_query_parameters("problems")],
    summary="Each line's latest fetch with its technical detail: errors, attempts, failed stops, missing stop ids",
)
async def list_line_health(
    _caller: ReadCaller,
    session: ReadSession,
    settings: AppSettings,
    problems: Annotated[
        bool, Query(description="Only lines that are not ok, have stale boards or stations without stop ids.")
    ] = True,
) -> list[LineHealth]:
    rows = await line_health(session, stale_after_seconds=settings.stale_after_seconds, problems_only=problems)
    return [LineHealth.model_validate(row) for row in rows]


@router.get("/workers", response_model=list[WorkerInfo], summary="The worker registry")
async def list_workers(_caller: ReadCaller, session: ReadSession, settings: AppSettings) -> list[WorkerInfo]:
    workers = await registry.list_workers(session, lost_after_seconds=settings.worker_lost_after_seconds)
    return [WorkerInfo.model_validate(worker) for worker in workers]


@router.get("/queue", response_model=QueueInfo, summary="Queued and running tasks, last schedule, Kafka lag")
async def queue(_caller: ReadCaller, session: ReadSession, settings: AppSettings) -> QueueInfo:
    state = await tasks.queue_state(session)
    lag, lag_error = await read_group_lag(settings, timeout=KAFKA_LAG_TIMEOUT_SECONDS)
    return QueueInfo.model_validate(
        {
            "bus": settings.bus,
            "queued": state.queued,
            "running": state.running,
            "last_scheduled_at": state.last_scheduled_at,
            "last_run": state.last_run,
            "kafka": lag,
            "kafka_error": lag_error,
        }
    )


@router.get(
    "/tasks",
    response_model=TaskRunPage,
    responses={422: {"model": ErrorResponse, "description": "Unknown status or line, bad limit or cursor"}},
    dependencies=[known_query_parameters("status", "line", "limit", "cursor")],
    summary="Recent task runs, newest first",
)
async def list_tasks(
    _caller: ReadCaller,
    session: ReadSession,
    status_filter: Annotated[TaskStatus | None, Query(alias="status", description="Only runs in this state")] = None,
    line: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only runs of this line (`feed:traffic`: the reads of PRIM's traffic feed)",
            examples=["metro:1"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Runs per page")] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` of the previous page, unchanged: an opaque URL-safe base64 token (A-Z, a-z, "
            "0-9, `-`, `_`, no padding). Any other value is a 422.",
        ),
    ] = None,
) -> TaskRunPage:
    line_id = None
    if line == TRAFFIC_FEED_TASK_LINE:  # the fleet's traffic task, not a catalogue line
        line_id = line
    elif line is not None:
        try:
            line_id = get_catalogue().get(line).id
        except UnknownLineError as exc:
            raise invalid_input(("query", "line"), str(exc), line) from exc
    try:
        page = await tasks.list_task_runs(session, limit=limit, status=status_filter, line_id=line_id, cursor=cursor)
    except InvalidCursorError as exc:
        raise invalid_input(("query", "cursor"), str(exc), cursor) from exc
    return TaskRunPage.model_validate(page)


@router.post(
    "/scheduler/trigger",
    response_model=SchedulerRunInfo,
    responses={
        **_MUTATION_ERRORS,
        503: {"model": ErrorResponse, "description": "The database is down, or SCHEDULER_LINES is misconfigured"},
    },
    summary="Enqueue one task per line now (lines still active are coalesced)",
)
async def trigger_scheduler(
    caller: RateLimitedAdminCaller, settings: AppSettings, database: AppDatabase
) -> SchedulerRunInfo:
    try:
        run = await run_cycle(database, settings, trigger="manual", requested_by=caller.label)
    except UnknownLineError as exc:
        _audit(caller, "scheduler.trigger", {}, f"failed: {exc}", 503)
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"SCHEDULER_LINES is misconfigured: {exc}"
        ) from exc
    except DATABASE_ERRORS as exc:
        _audit(caller, "scheduler.trigger", {}, f"failed: database error {type(exc).__name__}", 503)
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"cannot trigger the scheduler: the database is unavailable ({type(exc).__name__}); see GET /health",
        ) from exc
    outcome = f"run {run.id}: {run.enqueued} enqueued, {run.coalesced} coalesced of {run.lines_total} lines"
    if run.error:
        outcome += f" (error: {run.error})"
    _audit(caller, "scheduler.trigger", {}, outcome, 200, scheduler_run_id=run.id)
    return SchedulerRunInfo.model_validate(run)
