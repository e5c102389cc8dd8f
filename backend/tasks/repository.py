"""The task-run state machine: every write to `task_runs`, in one place.

    queued ──start──▶ running ──finish──▶ succeeded (every stop of the line answered)
      ▲                  │  ├──finish, some stops failed──▶ partial (final: the next cycle tries again)
      ▲                  │  └──fail (attempts left)──▶ queued (available later, to republish)
      │                  └─────fail (no attempts left)──▶ failed
      └──reap (lease expired: its worker died or hung)
    queued ──reap (nobody took it for too long)──▶ expired

Every transition is a guarded UPDATE (on the status, the worker and the attempt it expects), so a redelivered or
duplicated message can never write a task's final state twice. At most one task per line is active (queued or
running): a partial unique index makes the scheduler's coalescing exact, even with two schedulers. A task's
`priority` orders the queue (a line a rider is looking at passes the periodic cycle's); a line asked for at a higher
priority while its task waits raises that task's priority instead of queuing a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from sqlalchemy import and_, func, literal, or_, select, text, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import dialect_insert
from backend.db.models import (
    TASK_ACTIVE_STATUSES,
    TASK_EXPIRED,
    TASK_FAILED,
    TASK_FINAL_STATUSES,
    TASK_PARTIAL,
    TASK_PRIORITY_PERIODIC,
    TASK_QUEUED,
    TASK_RUNNING,
    TASK_SUCCEEDED,
    TaskRun,
    Worker,
)

_ACTIVE_PREDICATE = text("status IN ('queued', 'running')")


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
            "status": TASK_QUEUED,
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
    statement = (
        dialect_insert(session)(TaskRun)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["line_id"], index_where=_ACTIVE_PREDICATE)
        .returning(TaskRun.id)
    )
    inserted = list((await session.execute(statement)).scalars())
    if len(inserted) < len(rows) and priority > TASK_PRIORITY_PERIODIC:
        await session.execute(
            update(TaskRun)
            .where(
                TaskRun.line_id.in_([row["line_id"] for row in rows]),
                TaskRun.status == TASK_QUEUED,
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
        .where(TaskRun.status == TASK_QUEUED, TaskRun.published_at.is_(None), TaskRun.available_at <= now)
        .order_by(TaskRun.priority.desc(), TaskRun.available_at)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def mark_published(session: AsyncSession, task_ids: Sequence[str], *, now: datetime) -> None:
    if task_ids:
        await session.execute(
            update(TaskRun).where(TaskRun.id.in_(task_ids), TaskRun.status == TASK_QUEUED).values(published_at=now)
        )


async def _owner_alive(session: AsyncSession, worker_id: str | None, now: datetime, lost_after: timedelta) -> bool:
    if worker_id is None:
        return False
    owner = await session.get(Worker, worker_id)
    return owner is not None and owner.status != "stopped" and owner.last_heartbeat_at >= now - lost_after


async def start(
    session: AsyncSession,
    task_id: str,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    lost_after: timedelta,
) -> TaskAssignment | StartRefusal:
    """Take a task delivered by the bus: queued and due, or running under a dead worker (taken over)."""
    # FOR UPDATE on Postgres; SQLite's write transaction already holds the database lock.
    row = (await session.execute(select(TaskRun).where(TaskRun.id == task_id).with_for_update())).scalar()
    if row is None:
        return StartRefusal.UNKNOWN
    if row.status in TASK_FINAL_STATUSES:
        return StartRefusal.FINISHED
    if row.status == TASK_QUEUED and row.available_at > now:
        return StartRefusal.NOT_DUE
    if row.status == TASK_RUNNING:
        lease_over = row.lease_expires_at is None or row.lease_expires_at < now
        if not lease_over and await _owner_alive(session, row.worker_id, now, lost_after):
            return StartRefusal.OWNED
        if row.attempt >= row.max_attempts:
            await session.execute(
                update(TaskRun)
                .where(TaskRun.id == task_id, TaskRun.status == TASK_RUNNING, TaskRun.attempt == row.attempt)
                .values(
                    status=TASK_FAILED,
                    finished_at=now,
                    lease_expires_at=None,
                    error=f"worker {row.worker_id} was lost during the last attempt ({row.attempt}/{row.max_attempts})",
                )
            )
            return StartRefusal.FINISHED
    # Values read before the UPDATE: the ORM refreshes `row` in place when the UPDATE runs.
    previous_status, previous_attempt = row.status, row.attempt
    claimed = await session.execute(
        update(TaskRun)
        .where(TaskRun.id == task_id, TaskRun.status == previous_status, TaskRun.attempt == previous_attempt)
        .values(
            status=TASK_RUNNING,
            attempt=previous_attempt + 1,
            worker_id=worker_id,
            started_at=now,
            lease_expires_at=now + lease,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if _affected(claimed) != 1:
        return StartRefusal.OWNED
    return TaskAssignment(
        task_id=task_id, line_id=row.line_id, attempt=previous_attempt + 1, max_attempts=row.max_attempts
    )


async def claim_next(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta
) -> TaskAssignment | None:
    """The database-backed queue: atomically take the oldest due task (SKIP LOCKED on Postgres; SQLite writers are
    serialised by the write transaction's BEGIN IMMEDIATE)."""
    candidate = (
        select(TaskRun.id)
        .where(TaskRun.status == TASK_QUEUED, TaskRun.available_at <= now)
        .order_by(TaskRun.priority.desc(), TaskRun.available_at, TaskRun.scheduled_at)
        .limit(1)
    )
    if _dialect(session) == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    statement = (
        update(TaskRun)
        .where(TaskRun.id == candidate.scalar_subquery(), TaskRun.status == TASK_QUEUED)
        .values(
            status=TASK_RUNNING,
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
        TaskRun.status == TASK_RUNNING,
        TaskRun.worker_id == worker_id,
        TaskRun.attempt == assignment.attempt,
    )


async def succeed(
    session: AsyncSession,
    assignment: TaskAssignment,
    *,
    worker_id: str,
    now: datetime,
    result: dict[str, Any],
    partial_error: str | None = None,
) -> bool:
    """Write the final state once: `succeeded`, or `partial` (with what failed) when `partial_error` is given.
    False when this worker no longer owns the attempt (then roll back)."""
    status = TASK_PARTIAL if partial_error is not None else TASK_SUCCEEDED
    done = await session.execute(
        update(TaskRun)
        .where(_owned_by(assignment, worker_id))
        .values(status=status, finished_at=now, lease_expires_at=None, error=partial_error, result=result)
    )
    return _affected(done) == 1


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
            "status": TASK_QUEUED,
            "available_at": now + delay,
            "published_at": None,
            "lease_expires_at": None,
            "worker_id": None,
            "error": f"attempt {assignment.attempt}/{assignment.max_attempts} failed: {error}",
            "result": result,
        }
    else:
        values = {
            "status": TASK_FAILED,
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
            status=TASK_QUEUED,
            attempt=assignment.attempt - 1,
            available_at=now,
            published_at=None,
            lease_expires_at=None,
            worker_id=None,
            error=f"handed back by stopping worker {worker_id}",
        )
    )
    return _affected(done) == 1


async def renew_leases(
    session: AsyncSession, task_ids: Sequence[str], *, worker_id: str, now: datetime, lease: timedelta
) -> None:
    if task_ids:
        await session.execute(
            update(TaskRun)
            .where(TaskRun.id.in_(task_ids), TaskRun.worker_id == worker_id, TaskRun.status == TASK_RUNNING)
            .values(lease_expires_at=now + lease)
        )


@dataclass(frozen=True)
class ReapOutcome:
    requeued: int
    failed: int
    expired: int


async def reap(
    session: AsyncSession, *, now: datetime, hard_timeout: timedelta, queued_expiry: timedelta
) -> ReapOutcome:
    """Nothing stays stuck: running tasks whose lease lapsed (dead or hung worker) or that ran past the hard
    timeout go back to the queue (or fail when out of attempts); queued tasks nobody took in time expire."""
    stuck = or_(TaskRun.lease_expires_at < now, TaskRun.started_at < now - hard_timeout)
    requeued = await session.execute(
        update(TaskRun)
        .where(TaskRun.status == TASK_RUNNING, stuck, TaskRun.attempt < TaskRun.max_attempts)
        .values(
            status=TASK_QUEUED,
            available_at=now,
            published_at=None,
            lease_expires_at=None,
            error=literal("worker ").concat(func.coalesce(TaskRun.worker_id, "?")).concat(" lost the task; requeued"),
            worker_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    failed = await session.execute(
        update(TaskRun)
        .where(TaskRun.status == TASK_RUNNING, stuck, TaskRun.attempt >= TaskRun.max_attempts)
        .values(
            status=TASK_FAILED,
            finished_at=now,
            lease_expires_at=None,
            error=literal("worker ")
            .concat(func.coalesce(TaskRun.worker_id, "?"))
            .concat(" lost the task on the last attempt"),
        )
        .execution_options(synchronize_session=False)
    )
    expired = await session.execute(
        update(TaskRun)
        .where(TaskRun.status == TASK_QUEUED, TaskRun.available_at < now - queued_expiry)
        .values(
            status=TASK_EXPIRED,
            finished_at=now,
            error=f"not picked up within {int(queued_expiry.total_seconds())} s: no worker took it",
        )
        .execution_options(synchronize_session=False)
    )
    return ReapOutcome(
        requeued=_affected(requeued),
        failed=_affected(failed),
        expired=_affected(expired),
    )


async def active_count(session: AsyncSession) -> int:
    statement = select(func.count()).select_from(TaskRun).where(TaskRun.status.in_(TASK_ACTIVE_STATUSES))
    return int((await session.execute(statement)).scalar_one())
