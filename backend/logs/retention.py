"""Retention: deleting logs older than `LOG_RETENTION_DAYS` and finished task runs older than
`TASK_RUN_RETENTION_DAYS`, in bounded batches so that no delete holds locks for long. Called by the scheduler.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, delete, or_, select

from backend.clock import utcnow
from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import SystemLog, TaskRun
from backend.vocabulary import TaskStatus

DEFAULT_BATCH_SIZE = 5_000


async def prune_logs(
    database: Database, settings: Settings, *, now: dt.datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> int:
    """Delete logs created more than `LOG_RETENTION_DAYS` ago; return how many were deleted."""
    cutoff = (now or utcnow()) - dt.timedelta(days=settings.log_retention_days)
    oldest = (
        select(SystemLog.id)
        .where(SystemLog.created_at < cutoff)
        .order_by(SystemLog.created_at, SystemLog.id)
        .limit(batch_size)
    )
    return await _delete_in_batches(database, SystemLog, SystemLog.id.in_(oldest.scalar_subquery()), batch_size)


async def prune_task_runs(
    database: Database, settings: Settings, *, now: dt.datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> int:
    """Delete finished task runs (succeeded, failed, expired) that finished more than `TASK_RUN_RETENTION_DAYS` ago
    (or, lacking a finish time, were scheduled before that); queued and running ones are never touched."""
    cutoff = (now or utcnow()) - dt.timedelta(days=settings.task_run_retention_days)
    old_finished = (
        select(TaskRun.id)
        .where(
            TaskRun.status.in_(TaskStatus.final()),
            or_(
                TaskRun.finished_at < cutoff,
                and_(TaskRun.finished_at.is_(None), TaskRun.scheduled_at < cutoff),
            ),
        )
        .limit(batch_size)
    )
    return await _delete_in_batches(database, TaskRun, TaskRun.id.in_(old_finished.scalar_subquery()), batch_size)


async def _delete_in_batches(
    database: Database, model: type[SystemLog] | type[TaskRun], condition: ColumnElement[bool], batch_size: int
) -> int:
    total = 0
    while True:
        async with database.write_sessions() as session, session.begin():
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                delete(model).where(condition).execution_options(synchronize_session=False)
            )
        deleted = result.rowcount or 0
        total += deleted
        if deleted < batch_size:
            return total
        await asyncio.sleep(0)  # let other work on this loop run between batches
