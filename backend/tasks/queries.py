"""Read side of the task pipeline, for the system API: task runs, scheduler runs and the queue.

Nothing here writes. The worker registry is read in `backend.registry`; the Kafka lag in `backend.bus.kafka` (the
router puts them together).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.keyset import decode_cursor, encode_cursor
from backend.db.models import SchedulerRun, TaskRun
from backend.vocabulary import TaskStatus

# --- Tasks and the queue -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskCounts:
    # Task runs by status; the API's database summary shows it as it is (its OpenAPI schema comes from here).
    queued: int
    running: int
    succeeded: int
    partial: Annotated[int, Field(description="Tasks that refreshed some of the line's stops while others failed.")]
    failed: int
    expired: int
    total: int


async def task_counts(session: AsyncSession) -> TaskCounts:
    rows = (await session.execute(select(TaskRun.status, func.count()).group_by(TaskRun.status))).all()
    by_status = {str(status): int(count) for status, count in rows}
    known = {status.value: by_status.get(status, 0) for status in TaskStatus}
    return TaskCounts(**known, total=sum(by_status.values()))


@dataclass(frozen=True)
class QueueState:
    queued: int
    running: int
    last_scheduled_at: datetime | None
    last_run: SchedulerRun | None


async def queue_state(session: AsyncSession) -> QueueState:
    active = (
        await session.execute(
            select(TaskRun.status, func.count()).where(TaskRun.status.in_(TaskStatus.active())).group_by(TaskRun.status)
        )
    ).all()
    counts = {str(status): int(count) for status, count in active}
    last_scheduled_at = (await session.execute(select(func.max(TaskRun.scheduled_at)))).scalar_one_or_none()
    last_run = (
        (await session.execute(select(SchedulerRun).order_by(SchedulerRun.started_at.desc(), SchedulerRun.id.desc())))
        .scalars()
        .first()
    )
    if last_run is not None and (last_scheduled_at is None or last_run.started_at > last_scheduled_at):
        last_scheduled_at = last_run.started_at
    return QueueState(
        queued=counts.get(TaskStatus.QUEUED, 0),
        running=counts.get(TaskStatus.RUNNING, 0),
        last_scheduled_at=last_scheduled_at,
        last_run=last_run,
    )


@dataclass(frozen=True)
class TaskRunPage:
    items: list[TaskRun]
    next_cursor: str | None


async def list_task_runs(
    session: AsyncSession,
    *,
    limit: int,
    status: str | None = None,
    line_id: str | None = None,
    cursor: str | None = None,
) -> TaskRunPage:
    """Task runs, newest scheduled first, `limit` at a time (keyset pagination on (scheduled_at, id))."""
    query = select(TaskRun)
    if status is not None:
        query = query.where(TaskRun.status == status)
    if line_id is not None:
        query = query.where(TaskRun.line_id == line_id)
    if cursor is not None:
        after_at, after_id = decode_cursor(cursor)  # InvalidCursorError for a cursor not issued here
        query = query.where(
            or_(TaskRun.scheduled_at < after_at, and_(TaskRun.scheduled_at == after_at, TaskRun.id < after_id))
        )
    query = query.order_by(TaskRun.scheduled_at.desc(), TaskRun.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].scheduled_at, items[-1].id) if len(rows) > limit else None
    return TaskRunPage(items=items, next_cursor=next_cursor)
