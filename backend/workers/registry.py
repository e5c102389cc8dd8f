"""The worker registry row of this worker replica: its heartbeat, status, counters and assigned partitions."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from backend.config import Settings, host_name
from backend.db.engine import dialect_insert
from backend.db.models import Worker


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
    status: str = "starting"
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
        "stopped_at": now if state.status == "stopped" else None,
        "current_task_id": task_id,
        "current_line_id": line_id,
        "processed_count": state.processed,
        "failed_count": state.failed,
        "last_error": state.last_error,
        "assigned_partitions": sorted(state.assigned_partitions),
        "metrics": {**state.metrics, "in_flight": len(state.in_flight)},
    }
    statement = dialect_insert(session)(Worker).values(**values)
    updates = {key: statement.excluded[key] for key in values if key not in ("id", "started_at")}
    await session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=updates))


async def prune_workers(session: AsyncSession, *, now: datetime, older_than: timedelta) -> int:
    """Forget workers that stopped, or stopped heartbeating, longer than `older_than` ago."""
    result = await session.execute(delete(Worker).where(Worker.last_heartbeat_at < now - older_than))
    return int(cast(CursorResult[Any], result).rowcount)
