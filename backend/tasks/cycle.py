"""Queueing a cycle: a task for every line of the cycle, coalescing lines still in progress, recorded as a
`scheduler_runs` row. The one service both the scheduler (on its interval) and the API (`POST
/api/system/scheduler/trigger`) call, so that neither reaches into the other."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from backend.catalogue import get_catalogue, parse_line_list
from backend.clock import utcnow
from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import TASK_PRIORITY_PERIODIC, SchedulerRun
from backend.tasks import repository as tasks

logger = logging.getLogger("backend.tasks.cycle")


def cycle_lines(settings: Settings) -> list[str]:
    """The lines of a cycle: SCHEDULER_LINES, or every schedulable line of the catalogue.
    Raises UnknownLineError (naming every bad entry) for an unknown line."""
    if settings.scheduler_lines.strip():
        return [line.id for line in parse_line_list(settings.scheduler_lines)]
    return [line.id for line in get_catalogue().schedulable_lines()]


async def queue_run(
    database: Database,
    settings: Settings,
    line_ids: list[str],
    *,
    trigger: str,
    lines_total: int,
    priority: int = TASK_PRIORITY_PERIODIC,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> SchedulerRun:
    """Queue a task for each of `line_ids` (coalescing lines still in progress) and record the run: when, how many
    of `lines_total` lines, how many coalesced, how long."""
    started = time.perf_counter()
    now = now or utcnow()
    async with database.write_sessions() as session, session.begin():
        run = SchedulerRun(trigger=trigger, requested_by=requested_by, started_at=now, lines_total=lines_total)
        session.add(run)
        await session.flush()
        outcome = await tasks.enqueue(
            session,
            line_ids,
            now=now,
            max_attempts=settings.task_max_attempts,
            trigger=trigger,
            scheduler_run_id=run.id,
            priority=priority,
        )
        run.enqueued = len(outcome.task_ids)
        run.coalesced = outcome.coalesced
        run.finished_at = utcnow()
        run.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return run


async def run_cycle(
    database: Database, settings: Settings, *, trigger: str = "interval", requested_by: str | None = None
) -> SchedulerRun:
    """Queue one task per line of the cycle now, and record the run."""
    line_ids = cycle_lines(settings)
    run = await queue_run(
        database, settings, line_ids, trigger=trigger, lines_total=len(line_ids), requested_by=requested_by
    )
    logger.info(
        "cycle %s (%s): %d lines, %d queued, %d coalesced (still in progress), %.1f ms",
        run.id,
        trigger,
        run.lines_total,
        run.enqueued,
        run.coalesced,
        run.duration_ms,
        extra={"scheduler_run_id": run.id, "trigger": trigger, "enqueued": run.enqueued, "coalesced": run.coalesced},
    )
    return run
