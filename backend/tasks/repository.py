"""The task-run state machine: every write to `task_runs`, in one place.

    queued ──start──▶ running ──finish──▶ succeeded (every stop of the line answered)
      ▲                  │  ├──finish, some stops failed──▶ partial (final: the next cycle tries again)
      ▲                  │  └──fail (attempts left)──▶ queued (available later, to republish)
      │                  └─────fail (no attempts left)──▶ failed
      └──reap (lease lapsed: its worker died, stopped, or no longer holds it)
    queued ──reap (published, and no worker started it for too long)──▶ expired

Who is blamed is decided with care, because an outage must not cost work: a lease lapses only when its worker stops
renewing it (the scheduler extends every lease after it could not reach the database itself, so a database outage
costs no attempt), and a task the bus never accepted is never expired: the relay publishes it once the broker is back.

Every transition is a guarded UPDATE (on the status, the worker and the attempt it expects), so a redelivered or
duplicated message can never write a task's final state twice. At most one task per line is active (queued or
running): a partial unique index makes the scheduler's coalescing exact, even with two schedulers. A task's
`priority` orders the queue (a line a rider is looking at passes the periodic cycle's); a line asked for at a higher
priority while its task waits raises that task's priority instead of queuing a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.db.engine import dialect_insert
from backend.db.models import TASK_PRIORITY_PERIODIC, TaskRun, Worker, active_task_predicate
from backend.registry import is_lost
from backend.vocabulary import TaskStatus, WorkerStatus

_ACTIVE_PREDICATE = active_task_predicate()
# Postgres NOTIFY channel: tasks are ready to publish now (delivered at commit; the relay listens on it).
TASKS_QUEUED_CHANNEL = "task_runs_queued"


async def _notify_queued(session: AsyncSession) -> None:
    """Wake the outbox relay when this transaction commits (Postgres; elsewhere the relay polls)."""
    if _dialect(session) == "postgresql":
        await session.execute(text(f"NOTIFY {TASKS_QUEUED_CHANNEL}"))


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _affected(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


@dataclass(frozen=True)
class EnqueueOutcome:
    task_ids: list[str]
    coalesced: int


@dataclass(frozen=True)
class TaskAssignment:
    """A task this worker now runs, as attempt number `attempt`."""

    task_id: str
    line_id: str
    attempt: int
    max_attempts: int
    # The worker whose attempt this one replaces, when the task was taken over from a dead worker.
    taken_over_from: str | None = None


class StartRefusal(Enum):
    UNKNOWN = "unknown"  # no such task (e.g. deleted by retention)
    FINISHED = "finished"  # already succeeded, failed or expired: a redelivery
    NOT_DUE = "not_due"  # waiting for its retry time; it will be published again then
    OWNED = "owned"  # running under a live worker's lease; the reaper takes over if that worker dies


async def enqueue(
    session: AsyncSession,
    line_ids: Sequence[str],
    *,
    now: datetime,
    max_attempts: int,
    trigger: str,
    scheduler_run_id: int | None = None,
    priority: int = TASK_PRIORITY_PERIODIC,
) -> EnqueueOutcome:
    """Queue one task per line, skipping (coalescing) lines that already have an active task; a queued task of a
    coalesced line gets `priority` if it had less."""
    if not line_ids:
        return EnqueueOutcome(task_ids=[], coalesced=0)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "line_id": line_id,
            "status": TaskStatus.QUEUED,
            "attempt": 0,
            "max_attempts": max_attempts,
            "trigger": trigger,
            "scheduler_run_id": scheduler_run_id,
            "scheduled_at": now,
            "available_at": now,
            "priority": priority,
        }
        for line_id in dict.fromkeys(line_ids)
    ]
    # One statement compiled once and cached, its rows sent in batches (SQLAlchemy's "insertmanyvalues"): a VALUES
    # list of every line compiles anew on every cycle, ~0.1 s of the scheduler's CPU for the catalogue.
    statement = (
        dialect_insert(session)(TaskRun.__table__)
        .on_conflict_do_nothing(index_elements=["line_id"], index_where=_ACTIVE_PREDICATE)
        .returning(TaskRun.__table__.c.id)
    )
    inserted = list((await session.execute(statement, rows)).scalars())
    if inserted:
        await _notify_queued(session)
    if len(inserted) < len(rows) and priority > TASK_PRIORITY_PERIODIC:
        await session.execute(
            update(TaskRun)
            .where(
                TaskRun.line_id.in_([row["line_id"] for row in rows]),
                TaskRun.status == TaskStatus.QUEUED,
                TaskRun.priority < priority,
            )
            .values(priority=priority)
            .execution_options(synchronize_session=False)
        )
    return EnqueueOutcome(task_ids=inserted, coalesced=len(rows) - len(inserted))


async def last_scheduled(session: AsyncSession, line_ids: Sequence[str]) -> dict[str, datetime]:
    """When each line's latest task was queued (lines never queued are absent)."""
    if not line_ids:
        return {}
    statement = (
        select(TaskRun.line_id, func.max(TaskRun.scheduled_at))
        .where(TaskRun.line_id.in_(list(line_ids)))
        .group_by(TaskRun.line_id)
    )
    # max() keeps the column's type, so the times come back timezone-aware on both backends.
    return {line_id: at for line_id, at in (await session.execute(statement)).all()}


async def unpublished(session: AsyncSession, *, now: datetime, limit: int) -> list[TaskRun]:
    """Queued tasks the bus has not accepted yet (new, retried or reaped), oldest first."""
    statement = (
        select(TaskRun)
        .where(TaskRun.status == TaskStatus.QUEUED, TaskRun.published_at.is_(None), TaskRun.available_at <= now)
        .order_by(TaskRun.priority.desc(), TaskRun.available_at)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def mark_published(session: AsyncSession, published: Mapping[str, int], *, now: datetime) -> None:
    """Stamp `published_at` on tasks the bus accepted (task id -> the attempt number the message carried).

    A worker may have started (or even finished) a task before this runs: its row is stamped too. Only a row queued
    again since (a failed attempt, a reaped lease) is left alone, so that the relay publishes its new attempt."""
    by_attempt: dict[int, list[str]] = {}
    for task_id, attempt in published.items():
        by_attempt.setdefault(attempt, []).append(task_id)
    for attempt, task_ids in by_attempt.items():
        await session.execute(
            update(TaskRun)
            .where(
                TaskRun.id.in_(task_ids),
                TaskRun.published_at.is_(None),
                or_(TaskRun.status != TaskStatus.QUEUED, TaskRun.attempt == attempt),
            )
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )


async def _owner_stopped(session: AsyncSession, worker_id: str | None) -> bool:
    """Whether the task's worker said it stopped (or is gone from the registry). A stale heartbeat alone proves
    nothing: after a database outage every heartbeat is stale, and the lease (extended by the reaper then) decides."""
    if worker_id is None:
        return True
    owner = await session.get(Worker, worker_id)
    return owner is None or owner.status == WorkerStatus.STOPPED


async def start(
    session: AsyncSession,
    task_id: str,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> TaskAssignment | StartRefusal:
    """Take a task delivered by the bus: queued and due, or running under a lapsed lease or a stopped worker (taken
    over).

    The usual case, a queued task that is due, is one guarded `UPDATE ... RETURNING` (`start_due`); anything else (a
    redelivery, a task not due, a take-over) is decided on the row read `FOR UPDATE`."""
    due = await start_due(session, task_id, worker_id=worker_id, now=now, lease=lease)
    if due is not None:
        return due
    return await _start_otherwise(session, task_id, worker_id=worker_id, now=now, lease=lease)


# The worker's two statements per task, built once (only their parameters change). A start takes one task or many
# at once (a group start, backend/workers/execution.py): each row is guarded on its own, as if started alone.
_START_DUE = (
    update(TaskRun)
    .where(
        TaskRun.id.in_(bindparam("p_task_ids", expanding=True)),
        TaskRun.status == TaskStatus.QUEUED,
        TaskRun.available_at <= bindparam("p_now"),
    )
    .values(
        status=TaskStatus.RUNNING,
        attempt=TaskRun.attempt + 1,
        worker_id=bindparam("p_worker_id"),
        started_at=bindparam("p_now"),
        lease_expires_at=bindparam("p_lease_until"),
        finished_at=None,
        # Delivered by the bus, so published (see `_start_otherwise`).
        published_at=func.coalesce(TaskRun.published_at, bindparam("p_now")),
    )
    .returning(TaskRun.id, TaskRun.line_id, TaskRun.attempt, TaskRun.max_attempts)
    .execution_options(synchronize_session=False)
)
_OWNED = and_(
    TaskRun.id == bindparam("p_task_id"),
    TaskRun.status == TaskStatus.RUNNING,
    TaskRun.worker_id == bindparam("p_worker_id"),
    TaskRun.attempt == bindparam("p_attempt"),
)
_SUCCEED = (
    update(TaskRun)
    .where(_OWNED)
    .values(
        status=bindparam("p_status"),
        finished_at=bindparam("p_now"),
        lease_expires_at=None,
        error=bindparam("p_error"),
        result=bindparam("p_result", type_=TaskRun.__table__.c.result.type),
    )
    .execution_options(synchronize_session=False)
)


async def start_due(
    connection: AsyncSession | AsyncConnection, task_id: str, *, worker_id: str, now: datetime, lease: timedelta
) -> TaskAssignment | None:
    """queued (and due) -> running in one guarded `UPDATE ... RETURNING`, on a session or a Core connection; None
    when the task is in any other state (see `start`)."""
    started = await start_due_many(connection, [task_id], worker_id=worker_id, now=now, lease=lease)
    return started.get(task_id)


async def start_due_many(
    connection: AsyncSession | AsyncConnection,
    task_ids: Sequence[str],
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> dict[str, TaskAssignment]:
    """`start_due` for several tasks in one statement: the ones started, by id (the others are in another state)."""
    parameters = {"p_task_ids": list(task_ids), "p_now": now, "p_worker_id": worker_id, "p_lease_until": now + lease}
    return {
        row.id: TaskAssignment(task_id=row.id, line_id=row.line_id, attempt=row.attempt, max_attempts=row.max_attempts)
        for row in await connection.execute(_START_DUE, parameters)
    }


async def _start_otherwise(
    session: AsyncSession,
    task_id: str,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
) -> TaskAssignment | StartRefusal:
    """Any start but the due queued task's: a redelivery, a task not due, a take-over of a running task whose lease
    lapsed or whose worker said it stopped."""
    # FOR UPDATE on Postgres; SQLite's write transaction already holds the database lock.
    row = (await session.execute(select(TaskRun).where(TaskRun.id == task_id).with_for_update())).scalar()
    if row is None:
        return StartRefusal.UNKNOWN
    if row.status in TaskStatus.final():
        return StartRefusal.FINISHED
    if row.status == TaskStatus.QUEUED and row.available_at > now:
        return StartRefusal.NOT_DUE
    if row.status == TaskStatus.RUNNING:
        lease_over = row.lease_expires_at is None or row.lease_expires_at < now
        if not lease_over and not await _owner_stopped(session, row.worker_id):
            return StartRefusal.OWNED
        if row.attempt >= row.max_attempts:
            await session.execute(
                update(TaskRun)
                .where(TaskRun.id == task_id, TaskRun.status == TaskStatus.RUNNING, TaskRun.attempt == row.attempt)
                .values(
                    status=TaskStatus.FAILED,
                    finished_at=now,
                    lease_expires_at=None,
                    error=f"worker {row.worker_id} was lost during the last attempt ({row.attempt}/{row.max_attempts})",
                )
            )
            return StartRefusal.FINISHED
    # Values read before the UPDATE: the ORM refreshes `row` in place when the UPDATE runs.
    previous_status, previous_attempt, previous_owner = row.status, row.attempt, row.worker_id
    claimed = await session.execute(
        update(TaskRun)
        .where(TaskRun.id == task_id, TaskRun.status == previous_status, TaskRun.attempt == previous_attempt)
        .values(
            status=TaskStatus.RUNNING,
            attempt=previous_attempt + 1,
            worker_id=worker_id,
            started_at=now,
            lease_expires_at=now + lease,
            finished_at=None,
            # Delivered by the bus, so published, even when an earlier message (sent before the task was queued
            # again) got here before the relay published it anew.
            published_at=func.coalesce(TaskRun.published_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if _affected(claimed) != 1:
        return StartRefusal.OWNED
    return TaskAssignment(
        task_id=task_id,
        line_id=row.line_id,
        attempt=previous_attempt + 1,
        max_attempts=row.max_attempts,
        taken_over_from=(previous_owner or "?") if previous_status == TaskStatus.RUNNING else None,
    )


async def claim_next(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta
) -> TaskAssignment | None:
    """The database-backed queue: atomically take the oldest due task (SKIP LOCKED on Postgres; SQLite writers are
    serialised by the write transaction's BEGIN IMMEDIATE)."""
    candidate = (
        select(TaskRun.id)
        .where(TaskRun.status == TaskStatus.QUEUED, TaskRun.available_at <= now)
        .order_by(TaskRun.priority.desc(), TaskRun.available_at, TaskRun.scheduled_at)
        .limit(1)
    )
    if _dialect(session) == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    statement = (
        update(TaskRun)
        .where(TaskRun.id == candidate.scalar_subquery(), TaskRun.status == TaskStatus.QUEUED)
        .values(
            status=TaskStatus.RUNNING,
            attempt=TaskRun.attempt + 1,
            worker_id=worker_id,
            started_at=now,
            lease_expires_at=now + lease,
            finished_at=None,
        )
        .returning(TaskRun.id, TaskRun.line_id, TaskRun.attempt, TaskRun.max_attempts)
    )
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    return TaskAssignment(task_id=row.id, line_id=row.line_id, attempt=row.attempt, max_attempts=row.max_attempts)


def _owned_by(assignment: TaskAssignment, worker_id: str) -> Any:
    return and_(
        TaskRun.id == assignment.task_id,
        TaskRun.status == TaskStatus.RUNNING,
        TaskRun.worker_id == worker_id,
        TaskRun.attempt == assignment.attempt,
    )


async def succeed(
    connection: AsyncSession | AsyncConnection,
    assignment: TaskAssignment,
    *,
    worker_id: str,
    now: datetime,
    result: dict[str, Any],
    partial_error: str | None = None,
) -> bool:
    """Write the final state once: `succeeded`, or `partial` (with what failed) when `partial_error` is given.
    False when this worker no longer owns the attempt (then roll back)."""
    status = TaskStatus.PARTIAL if partial_error is not None else TaskStatus.SUCCEEDED
    parameters = {
        "p_task_id": assignment.task_id,
        "p_worker_id": worker_id,
        "p_attempt": assignment.attempt,
        "p_status": status,
        "p_now": now,
        "p_error": partial_error,
        "p_result": result,
    }
    return _affected(await connection.execute(_SUCCEED, parameters)) == 1


async def fail(
    session: AsyncSession,
    assignment: TaskAssignment,
    *,
    worker_id: str,
    now: datetime,
    error: str,
    retry_backoff: timedelta,
    result: dict[str, Any] | None = None,
) -> str | None:
    """Record a failed attempt: queue a retry with exponential backoff, or fail for good when no attempt is left.
    Returns the new status, or None when this worker no longer owns the attempt."""
    if assignment.attempt < assignment.max_attempts:
        delay = retry_backoff * (2 ** (assignment.attempt - 1))
        values: dict[str, Any] = {
            "status": TaskStatus.QUEUED,
            "available_at": now + delay,
            "published_at": None,
            "lease_expires_at": None,
            "worker_id": None,
            "error": f"attempt {assignment.attempt}/{assignment.max_attempts} failed: {error}",
            "result": result,
        }
    else:
        values = {
            "status": TaskStatus.FAILED,
            "finished_at": now,
            "lease_expires_at": None,
            "error": f"failed after {assignment.attempt} attempts: {error}",
            "result": result,
        }
    done = await session.execute(update(TaskRun).where(_owned_by(assignment, worker_id)).values(**values))
    return str(values["status"]) if _affected(done) == 1 else None


async def hand_back(session: AsyncSession, assignment: TaskAssignment, *, worker_id: str, now: datetime) -> bool:
    """A stopping worker returns an unfinished task to the queue; the attempt does not count against it."""
    done = await session.execute(
        update(TaskRun)
        .where(_owned_by(assignment, worker_id))
        .values(
            status=TaskStatus.QUEUED,
            attempt=assignment.attempt - 1,
            available_at=now,
            published_at=None,
            lease_expires_at=None,
            worker_id=None,
            error=f"handed back by stopping worker {worker_id}",
        )
    )
    if _affected(done) == 1:
        await _notify_queued(session)
        return True
    return False


_RENEW = (
    update(TaskRun)
    .where(
        TaskRun.id.in_(bindparam("p_task_ids", expanding=True)),
        TaskRun.worker_id == bindparam("p_worker_id"),
        TaskRun.status == TaskStatus.RUNNING,
    )
    .values(lease_expires_at=bindparam("p_lease_until"))
    .execution_options(synchronize_session=False)
)


async def renew_leases(
    session: AsyncSession, task_ids: Sequence[str], *, worker_id: str, now: datetime, lease: timedelta
) -> None:
    if task_ids:
        parameters = {"p_task_ids": list(task_ids), "p_worker_id": worker_id, "p_lease_until": now + lease}
        await session.execute(_RENEW, parameters)


@dataclass(frozen=True)
class ReapOutcome:
    requeued: int
    failed: int
    expired: int
    # (task id, worker id, why) of each task taken back from its worker, for the scheduler's log.
    taken_back: list[tuple[str, str, str]] = field(default_factory=list)


def _why_lost(owner: Worker | None, worker_id: str, *, now: datetime, lost_after: timedelta) -> str:
    if owner is None:
        return f"worker {worker_id} is gone from the registry"
    if owner.status == WorkerStatus.STOPPED:
        return f"worker {worker_id} stopped without finishing it"
    if is_lost(owner.status, owner.last_heartbeat_at, now=now, lost_after=lost_after):
        silent = (now - owner.last_heartbeat_at).total_seconds()
        return f"worker {worker_id} stopped heartbeating {silent:.0f} s ago"
    return f"worker {worker_id} is alive but no longer renews its lease (it does not hold the task any more)"


async def extend_leases(session: AsyncSession, *, until: datetime) -> int:
    """Give every running task's worker until `until` to renew its lease: called after the database was unreachable,
    when no worker could renew anything, so that an outage is not mistaken for dead workers."""
    extended = await session.execute(
        update(TaskRun)
        .where(
            TaskRun.status == TaskStatus.RUNNING,
            or_(TaskRun.lease_expires_at.is_(None), TaskRun.lease_expires_at < until),
        )
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return _affected(extended)


async def reap(
    session: AsyncSession,
    *,
    now: datetime,
    lost_after: timedelta,
    queued_expiry: timedelta | None,
    expiry_counts_from_publication: bool,
) -> ReapOutcome:
    """Nothing stays stuck, and nobody is blamed for an outage.

    - A running task whose lease lapsed goes back to the queue (or fails when out of attempts): its worker renews the
      lease of every task it holds with each heartbeat, so a lapsed lease means the worker died, stopped, or lost
      the task. The reason recorded says which, from the worker registry.
    - A queued task expires when it waited longer than `queued_expiry` (None: no expiry on this pass) since the bus
      accepted it (`expiry_counts_from_publication`, Kafka), or since it became due (the database queue, where the
      row is the message). A task Kafka never accepted is not expired: the relay still owes it a publication.
    """
    lapsed = (
        await session.execute(
            select(TaskRun.id, TaskRun.worker_id, TaskRun.attempt, TaskRun.max_attempts).where(
                TaskRun.status == TaskStatus.RUNNING,
                or_(TaskRun.lease_expires_at.is_(None), TaskRun.lease_expires_at < now),
            )
        )
    ).all()
    requeued = failed = 0
    taken_back: list[tuple[str, str, str]] = []
    for task_id, worker_id, attempt, max_attempts in lapsed:
        owner = await session.get(Worker, worker_id) if worker_id else None
        why = _why_lost(owner, worker_id or "?", now=now, lost_after=lost_after)
        guard = and_(
            TaskRun.id == task_id,
            TaskRun.status == TaskStatus.RUNNING,
            TaskRun.attempt == attempt,
            or_(TaskRun.lease_expires_at.is_(None), TaskRun.lease_expires_at < now),
        )
        if attempt < max_attempts:
            values: dict[str, Any] = {
                "status": TaskStatus.QUEUED,
                "available_at": now,
                "published_at": None,
                "lease_expires_at": None,
                "worker_id": None,
                "error": f"attempt {attempt}/{max_attempts} lost: {why}; requeued",
            }
        else:
            values = {
                "status": TaskStatus.FAILED,
                "finished_at": now,
                "lease_expires_at": None,
                "error": f"last attempt ({attempt}/{max_attempts}) lost: {why}",
            }
        done = await session.execute(
            update(TaskRun).where(guard).values(**values).execution_options(synchronize_session=False)
        )
        if _affected(done) == 1:
            taken_back.append((task_id, worker_id or "?", why))
            if values["status"] == TaskStatus.QUEUED:
                requeued += 1
            else:
                failed += 1
    expired = 0
    if queued_expiry is not None:
        waited_since = TaskRun.published_at if expiry_counts_from_publication else TaskRun.available_at
        seconds = int(queued_expiry.total_seconds())
        reason = (
            f"published, but no worker started it within {seconds} s"
            if expiry_counts_from_publication
            else f"due, but no worker took it within {seconds} s"
        )
        expired = _affected(
            await session.execute(
                update(TaskRun)
                .where(
                    TaskRun.status == TaskStatus.QUEUED, waited_since.is_not(None), waited_since < now - queued_expiry
                )
                .values(status=TaskStatus.EXPIRED, finished_at=now, error=reason)
                .execution_options(synchronize_session=False)
            )
        )
    return ReapOutcome(requeued=requeued, failed=failed, expired=expired, taken_back=taken_back)
