"""Read side of the task pipeline, for the system API: task runs, scheduler runs, the queue and the worker registry.

Nothing here writes. A worker's `lost` status is derived when read: not stopped, and no heartbeat for
WORKER_LOST_AFTER_SECONDS.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.bus.kafka import consumer_group_lag
from backend.config import Settings
from backend.db.models import (
    TASK_QUEUED,
    TASK_RUNNING,
    TASK_STATUSES,
    WORKER_STATUSES,
    SchedulerRun,
    TaskRun,
    Worker,
    utcnow,
)

WORKER_LOST = "lost"


# --- Worker registry ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerView:
    """A registry row with its status as seen now (`lost` derived from the heartbeat's age)."""

    id: str
    host: str
    pid: int
    status: str
    bus: str
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


def worker_status(worker: Worker, *, now: datetime, lost_after_seconds: float) -> str:
    if worker.status == "stopped":
        return "stopped"
    if now - worker.last_heartbeat_at > timedelta(seconds=lost_after_seconds):
        return WORKER_LOST
    # A status this code does not know (a newer worker) still shows as alive.
    return worker.status if worker.status in WORKER_STATUSES else "idle"


def _worker_view(worker: Worker, *, now: datetime, lost_after_seconds: float) -> WorkerView:
    partitions = worker.assigned_partitions if isinstance(worker.assigned_partitions, list) else []
    return WorkerView(
        id=worker.id,
        host=worker.host,
        pid=worker.pid,
        status=worker_status(worker, now=now, lost_after_seconds=lost_after_seconds),
        bus=worker.bus,
        started_at=worker.started_at,
        last_heartbeat_at=worker.last_heartbeat_at,
        heartbeat_age_seconds=round(max(0.0, (now - worker.last_heartbeat_at).total_seconds()), 3),
        current_task_id=worker.current_task_id,
        current_line_id=worker.current_line_id,
        processed_count=worker.processed_count or 0,
        failed_count=worker.failed_count or 0,
        last_error=worker.last_error,
        assigned_partitions=[int(p) for p in partitions if isinstance(p, int)],
        metrics=worker.metrics if isinstance(worker.metrics, dict) else {},
    )


_STATUS_ORDER = {"busy": 0, "idle": 1, "starting": 2, "draining": 3, WORKER_LOST: 4, "stopped": 5}


async def list_workers(session: AsyncSession, *, lost_after_seconds: float) -> list[WorkerView]:
    """Every worker in the registry: live ones first, then lost, then stopped; oldest first within each."""
    now = utcnow()
    rows = (await session.execute(select(Worker))).scalars().all()
    views = [_worker_view(row, now=now, lost_after_seconds=lost_after_seconds) for row in rows]
    return sorted(views, key=lambda view: (_STATUS_ORDER.get(view.status, 9), view.started_at, view.id))


@dataclass(frozen=True)
class WorkerCounts:
    starting: int
    idle: int
    busy: int
    draining: int
    stopped: int
    lost: int
    total: int

    @property
    def live(self) -> int:
        return self.starting + self.idle + self.busy


async def worker_counts(session: AsyncSession, *, lost_after_seconds: float) -> WorkerCounts:
    # (status, heartbeat) pairs only: the registry is small and `lost` needs the heartbeat's age anyway.
    now = utcnow()
    lost_before = now - timedelta(seconds=lost_after_seconds)
    rows = (await session.execute(select(Worker.status, Worker.last_heartbeat_at))).all()
    counts = dict.fromkeys(("starting", "idle", "busy", "draining", "stopped", WORKER_LOST), 0)
    for status, last_heartbeat_at in rows:
        if status == "stopped":
            counts["stopped"] += 1
        elif last_heartbeat_at < lost_before:
            counts[WORKER_LOST] += 1
        else:
            counts[status if status in counts else "idle"] += 1
    return WorkerCounts(**counts, total=len(rows))


# --- Tasks and the queue -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskCounts:
    queued: int
    running: int
    succeeded: int
    partial: int
    failed: int
    expired: int
    total: int


async def task_counts(session: AsyncSession) -> TaskCounts:
    rows = (await session.execute(select(TaskRun.status, func.count()).group_by(TaskRun.status))).all()
    by_status = {str(status): int(count) for status, count in rows}
    known = {status: by_status.get(status, 0) for status in TASK_STATUSES}
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
            select(TaskRun.status, func.count())
            .where(TaskRun.status.in_((TASK_QUEUED, TASK_RUNNING)))
            .group_by(TaskRun.status)
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
        queued=counts.get(TASK_QUEUED, 0),
        running=counts.get(TASK_RUNNING, 0),
        last_scheduled_at=last_scheduled_at,
        last_run=last_run,
    )


class InvalidCursorError(ValueError):
    """A `cursor` that this API did not hand out."""


@dataclass(frozen=True)
class TaskRunPage:
    items: list[TaskRun]
    next_cursor: str | None


def encode_cursor(scheduled_at: datetime, task_id: str) -> str:
    raw = json.dumps([scheduled_at.isoformat(), task_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        scheduled_at_text, task_id = json.loads(raw)
        # In UTC here: an offset that pushes the date out of range (year 1 at +23:59) fails now, not in the query.
        scheduled_at = datetime.fromisoformat(scheduled_at_text)
        if scheduled_at.tzinfo is None:
            raise ValueError("no time zone")
        scheduled_at = scheduled_at.astimezone(UTC)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidCursorError("invalid cursor: pass the next_cursor of a previous page unchanged") from exc
    if not isinstance(task_id, str) or "\x00" in task_id:
        raise InvalidCursorError("invalid cursor: pass the next_cursor of a previous page unchanged")
    return scheduled_at, task_id


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
        after_at, after_id = decode_cursor(cursor)
        query = query.where(
            or_(TaskRun.scheduled_at < after_at, and_(TaskRun.scheduled_at == after_at, TaskRun.id < after_id))
        )
    query = query.order_by(TaskRun.scheduled_at.desc(), TaskRun.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].scheduled_at, items[-1].id) if len(rows) > limit else None
    return TaskRunPage(items=items, next_cursor=next_cursor)


# --- Kafka lag ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionLagView:
    partition: int
    committed: int | None
    end_offset: int
    lag: int


@dataclass(frozen=True)
class KafkaLagView:
    topic: str
    partitions: int
    lag_total: int
    lag_by_partition: list[PartitionLagView]
    members: int


async def kafka_lag(settings: Settings, *, timeout: float) -> tuple[KafkaLagView | None, str | None]:
    """The worker group's lag on Kafka, or (None, why) when the broker does not answer within `timeout`.

    (None, None) on the database queue.
    """
    if not settings.uses_kafka:
        return None, None
    try:
        lag = await asyncio.wait_for(consumer_group_lag(settings), timeout)
    except TimeoutError:
        return None, (
            f"the consumer group lag could not be read from {settings.kafka_bootstrap_servers} within {timeout:g} s "
            "(the broker is down or slow, or the task topic does not exist yet)"
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure is reported, never raised to the client
        return None, f"could not read the consumer group lag from {settings.kafka_bootstrap_servers}: " + (
            f"{type(exc).__name__}: {exc}"[:300]
        )
    if lag is None:
        return None, None
    return (
        KafkaLagView(
            topic=lag.topic,
            partitions=lag.partitions,
            lag_total=lag.total,
            lag_by_partition=[
                PartitionLagView(partition=p.partition, committed=p.committed, end_offset=p.end_offset, lag=p.lag)
                for p in lag.by_partition
            ],
            members=lag.members,
        ),
        None,
    )
