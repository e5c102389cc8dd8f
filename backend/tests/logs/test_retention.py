"""Retention: old logs and old finished task runs go, in batches; recent ones and active task runs stay."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from backend.config import Settings
from backend.db.engine import WRITE_OPTIONS, Database
from backend.db.models import TaskRun
from backend.logs.retention import prune_logs, prune_task_runs
from backend.tests.logs.conftest import all_logs, insert_logs, log_row
from backend.tests.support.databases import settings_for

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def test_prune_logs_deletes_only_logs_older_than_the_retention_in_batches(
    database_url: str, database: Database
) -> None:
    settings = settings_for(database_url, log_retention_days=14)
    cutoff = NOW - dt.timedelta(days=14)
    old = [log_row(f"old {n}", created_at=cutoff - dt.timedelta(minutes=n + 1)) for n in range(23)]
    kept = [log_row(f"kept {n}", created_at=cutoff + dt.timedelta(minutes=n)) for n in range(5)]
    await insert_logs(database, old + kept)

    assert await prune_logs(database, settings, now=NOW, batch_size=7) == 23
    assert sorted(row.message for row in await all_logs(database)) == sorted(row["message"] for row in kept)
    assert await prune_logs(database, settings, now=NOW, batch_size=7) == 0


def _task(
    task_id: str, status: str, *, scheduled_at: dt.datetime, finished_at: dt.datetime | None
) -> dict[str, object]:
    return {
        "id": task_id,
        "line_id": f"metro:{task_id}",
        "status": status,
        "attempt": 1,
        "max_attempts": 3,
        "trigger": "interval",
        "scheduled_at": scheduled_at,
        "available_at": scheduled_at,
        "finished_at": finished_at,
    }


async def test_prune_task_runs_deletes_only_old_finished_runs(database_url: str, database: Database) -> None:
    settings: Settings = settings_for(database_url, task_run_retention_days=7)
    long_ago = NOW - dt.timedelta(days=30)
    recently = NOW - dt.timedelta(days=1)
    runs = [
        _task("old-ok", "succeeded", scheduled_at=long_ago, finished_at=long_ago),
        _task("old-failed", "failed", scheduled_at=long_ago, finished_at=long_ago),
        _task("old-expired", "expired", scheduled_at=long_ago, finished_at=None),
        _task("old-queued", "queued", scheduled_at=long_ago, finished_at=None),
        _task("old-running", "running", scheduled_at=long_ago, finished_at=None),
        _task("new-ok", "succeeded", scheduled_at=recently, finished_at=recently),
        # Scheduled long ago but finished recently: kept until it is old by its finish time.
        _task("late-ok", "succeeded", scheduled_at=long_ago, finished_at=recently),
    ]
    async with database.engine.execution_options(**WRITE_OPTIONS).begin() as connection:
        await connection.execute(insert(TaskRun), runs)

    assert await prune_task_runs(database, settings, now=NOW, batch_size=2) == 3
    async with database.sessions() as session:
        left = set((await session.scalars(select(TaskRun.id))).all())
    assert left == {"old-queued", "old-running", "new-ok", "late-ok"}
