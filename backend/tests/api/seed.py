"""Rows for API tests, written the way workers and the scheduler write them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.clock import utcnow
from backend.db.engine import Database
from backend.db.models import (
    Departure,
    LineSnapshot,
    SchedulerRun,
    TaskRun,
    TrafficStatus,
    VehiclePosition,
    Worker,
)


async def add(database: Database, *rows: Any) -> None:
    async with database.write_sessions() as session, session.begin():
        session.add_all(rows)


def departure(
    line_id: str,
    station_id: str,
    direction: str,
    in_minutes: float,
    *,
    destination: str = "Terminus",
    status: str = "on_time",
    now: datetime | None = None,
    **extra: Any,
) -> Departure:
    now = now or utcnow()
    values: dict[str, Any] = {
        "line_id": line_id,
        "station_id": station_id,
        "direction": direction,
        "destination": destination,
        "expected_at": now + timedelta(minutes=in_minutes),
        "aimed_at": None,
        "status": status,
        "is_realtime": True,
        "vehicle_at_stop": False,
        "source": "prim",
        "fetched_at": now,
    }
    values.update(extra)
    return Departure(**values)


def snapshot(
    line_id: str, *, status: str = "ok", success_age_seconds: float | None = 10.0, **extra: Any
) -> LineSnapshot:
    now = utcnow()
    values: dict[str, Any] = {
        "line_id": line_id,
        "status": status,
        "source": "prim",
        "fetched_at": now,
        "last_success_at": now - timedelta(seconds=success_age_seconds) if success_age_seconds is not None else None,
        "departures_count": 0,
        "positions_count": 0,
        "error": None,
        "attempts": [],
    }
    values.update(extra)
    return LineSnapshot(**values)


def traffic(line_id: str, level: str = "disrupted", message: str | None = "Trafic perturbé") -> TrafficStatus:
    return TrafficStatus(line_id=line_id, level=level, message=message, source="prim", updated_at=utcnow())


def vehicle(line_id: str, vehicle_id: str, direction: str = "A", **extra: Any) -> VehiclePosition:
    now = utcnow()
    values: dict[str, Any] = {
        "line_id": line_id,
        "vehicle_id": vehicle_id,
        "direction": direction,
        "previous_station_id": None,
        "next_station_id": None,
        "progress": None,
        "stop_status": "in_transit",
        "recorded_at": now,
        "source": "vmtr",
        "fetched_at": now,
    }
    values.update(extra)
    return VehiclePosition(**values)


def worker(worker_id: str, *, status: str = "idle", heartbeat_age_seconds: float = 1.0, **extra: Any) -> Worker:
    now = utcnow()
    values: dict[str, Any] = {
        "id": worker_id,
        "host": "test-host",
        "pid": 4242,
        "status": status,
        "bus": "database",
        "started_at": now - timedelta(minutes=5),
        "last_heartbeat_at": now - timedelta(seconds=heartbeat_age_seconds),
        "stopped_at": None,
        "processed_count": 3,
        "failed_count": 1,
        "assigned_partitions": [],
        "metrics": {"in_flight": 0},
    }
    values.update(extra)
    return Worker(**values)


def task_run(line_id: str, *, status: str = "succeeded", scheduled_at: datetime | None = None, **extra: Any) -> TaskRun:
    scheduled_at = scheduled_at or utcnow()
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "line_id": line_id,
        "status": status,
        "attempt": 1,
        "max_attempts": 3,
        "trigger": "interval",
        "scheduled_at": scheduled_at,
        "available_at": scheduled_at,
    }
    values.update(extra)
    return TaskRun(**values)


def scheduler_run(**extra: Any) -> SchedulerRun:
    now = utcnow()
    values: dict[str, Any] = {
        "trigger": "interval",
        "started_at": now,
        "finished_at": now,
        "lines_total": 22,
        "enqueued": 20,
        "coalesced": 2,
        "duration_ms": 12.5,
    }
    values.update(extra)
    return SchedulerRun(**values)
