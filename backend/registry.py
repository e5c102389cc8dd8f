"""The worker registry (the `workers` table), in one place: a worker's heartbeat (its status, counters and assigned
partitions), the reads of the API and the scalers, the scheduler's pruning, and the `lost` rule.

A worker writes its own status (never `lost`); `lost` is derived when read: not stopped, and no heartbeat for
WORKER_LOST_AFTER_SECONDS. May import `config`, `clock`, `vocabulary` and `db` only.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import utcnow
from backend.config import Settings, host_name
from backend.db.engine import upsert
from backend.db.models import Worker
from backend.vocabulary import WorkerStatus


def new_worker_id(settings: Settings) -> str:
    """Unique per replica, even when compose scales one service: host, pid and a random suffix."""
    if settings.worker_id:
        return settings.worker_id
    return f"{host_name()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class WorkerState:
    """What this worker reports in its heartbeat; mutated by the consumption loop."""

    id: str
    bus: str
    status: WorkerStatus = WorkerStatus.STARTING
    started_at: datetime | None = None
    processed: int = 0
    failed: int = 0
    last_error: str | None = None
    in_flight: dict[str, str] = field(default_factory=dict)  # task id -> line id
    assigned_partitions: list[int] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def current(self) -> tuple[str | None, str | None]:
        for task_id, line_id in self.in_flight.items():
            return task_id, line_id
        return None, None


_WORKERS = cast(Table, Worker.__table__)
# Everything a heartbeat says but the worker's id and when it started (the first heartbeat's).
_HEARTBEAT_REPLACES = (
    "host",
    "pid",
    "status",
    "bus",
    "last_heartbeat_at",
    "stopped_at",
    "current_task_id",
    "current_line_id",
    "processed_count",
    "failed_count",
    "last_error",
    "assigned_partitions",
    "metrics",
)


async def write_heartbeat(session: AsyncSession, state: WorkerState, *, now: datetime) -> None:
    task_id, line_id = state.current()
    values: dict[str, Any] = {
        "id": state.id,
        "host": host_name(),
        "pid": os.getpid(),
        "status": state.status,
        "bus": state.bus,
        "started_at": state.started_at or now,
        "last_heartbeat_at": now,
        "stopped_at": now if state.status == WorkerStatus.STOPPED else None,
        "current_task_id": task_id,
        "current_line_id": line_id,
        "processed_count": state.processed,
        "failed_count": state.failed,
        "last_error": state.last_error,
        "assigned_partitions": sorted(state.assigned_partitions),
        "metrics": {**state.metrics, "in_flight": len(state.in_flight)},
    }
    await session.execute(upsert(session, _WORKERS, key=("id",), replace=_HEARTBEAT_REPLACES), values)


async def prune_workers(session: AsyncSession, *, now: datetime, older_than: timedelta) -> int:
    """Forget workers that stopped, or stopped heartbeating, longer than `older_than` ago."""
    result = await session.execute(delete(Worker).where(Worker.last_heartbeat_at < now - older_than))
    return int(cast(CursorResult[Any], result).rowcount)


# --- Reading the registry ----------------------------------------------------------------------------------------


def is_lost(status: str, last_heartbeat_at: datetime, *, now: datetime, lost_after: timedelta) -> bool:
    """The `lost` rule: a worker that did not say it stopped, and whose heartbeat is older than `lost_after`."""
    return status != WorkerStatus.STOPPED and now - last_heartbeat_at > lost_after


def status_seen(status: str, last_heartbeat_at: datetime, *, now: datetime, lost_after: timedelta) -> WorkerStatus:
    """A worker's status as seen now: its own, or `lost`; a status this code does not know (a newer worker) shows as
    alive (`idle`)."""
    if is_lost(status, last_heartbeat_at, now=now, lost_after=lost_after):
        return WorkerStatus.LOST
    try:
        return WorkerStatus(status)
    except ValueError:
        return WorkerStatus.IDLE


@dataclass(frozen=True)
class SeenWorker:
    """A registry row with its status as seen now (`lost` derived from the heartbeat's age) and the heartbeat's age;
    every other attribute is the row's, so the API's `WorkerInfo` reads it as it would the row."""

    row: Worker
    status: WorkerStatus
    heartbeat_age_seconds: float

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


def _seen(worker: Worker, *, now: datetime, lost_after: timedelta) -> SeenWorker:
    return SeenWorker(
        row=worker,
        status=status_seen(worker.status, worker.last_heartbeat_at, now=now, lost_after=lost_after),
        heartbeat_age_seconds=round(max(0.0, (now - worker.last_heartbeat_at).total_seconds()), 3),
    )


_STATUS_ORDER = {
    WorkerStatus.BUSY: 0,
    WorkerStatus.IDLE: 1,
    WorkerStatus.STARTING: 2,
    WorkerStatus.DRAINING: 3,
    WorkerStatus.LOST: 4,
    WorkerStatus.STOPPED: 5,
}


async def list_workers(session: AsyncSession, *, lost_after_seconds: float) -> list[SeenWorker]:
    """Every worker in the registry: live ones first, then lost, then stopped; oldest first within each."""
    now = utcnow()
    rows = (await session.execute(select(Worker))).scalars().all()
    seen = [_seen(row, now=now, lost_after=timedelta(seconds=lost_after_seconds)) for row in rows]
    return sorted(seen, key=lambda worker: (_STATUS_ORDER[worker.status], worker.row.started_at, worker.row.id))


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
    lost_after = timedelta(seconds=lost_after_seconds)
    rows = (await session.execute(select(Worker.status, Worker.last_heartbeat_at))).all()
    counts = dict.fromkeys(WorkerStatus, 0)
    for status, last_heartbeat_at in rows:
        counts[status_seen(status, last_heartbeat_at, now=now, lost_after=lost_after)] += 1
    return WorkerCounts(**{status.value: count for status, count in counts.items()}, total=len(rows))
