"""Reading the pipeline's state from its database, as an operator would.

Tasks are the lines' tasks: the fleet's traffic task (`TRAFFIC_FEED_TASK_LINE`, one read of PRIM's traffic feed per
refresh, queued whenever PRIM is used) is left out of the counts; tests/pipeline/test_traffic_feed.py reads it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from backend.catalogue import get_catalogue
from backend.db.engine import Database
from backend.db.models import TRAFFIC_FEED_TASK_LINE, TaskRun, Worker
from backend.tests.support.databases import settings_for


def lines_for(count: int) -> list[str]:
    """`count` distinct catalogue lines: rail first, then buses."""
    lines = [line.id for line in get_catalogue().lines]
    assert len(lines) >= count
    return lines[:count]


class PipelineProbe:
    def __init__(self, database_url: str) -> None:
        self.database = Database(settings_for(database_url), "test-probe")

    async def close(self) -> None:
        await self.database.dispose()

    async def task_statuses(self) -> Counter[str]:
        async with self.database.sessions() as session:
            rows = (
                await session.execute(
                    select(TaskRun.status, func.count())
                    .where(TaskRun.line_id != TRAFFIC_FEED_TASK_LINE)
                    .group_by(TaskRun.status)
                )
            ).all()
        return Counter({status: count for status, count in rows})

    async def tasks(self) -> list[TaskRun]:
        async with self.database.sessions() as session:
            statement = select(TaskRun).where(TaskRun.line_id != TRAFFIC_FEED_TASK_LINE)
            return list((await session.execute(statement)).scalars())

    async def workers(self) -> list[Worker]:
        async with self.database.sessions() as session:
            return list((await session.execute(select(Worker).order_by(Worker.started_at))).scalars())

    async def live_workers(self) -> list[Worker]:
        return [w for w in await self.workers() if w.status in ("idle", "busy")]

    async def all_succeeded(self, total: int) -> Counter[str] | None:
        statuses = await self.task_statuses()
        return statuses if statuses.get("succeeded", 0) == total and sum(statuses.values()) == total else None

    async def snapshot(self) -> dict[str, Any]:
        return {
            "tasks": dict(await self.task_statuses()),
            "workers": [(w.id, w.status, w.processed_count, w.assigned_partitions) for w in await self.workers()],
        }
