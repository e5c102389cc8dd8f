"""One scheduler cycle: queue a task for every line of the cycle, coalescing lines still in progress."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from backend.catalogue import get_catalogue, parse_line_list
from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import SchedulerRun
from backend.tasks import repository as tasks

logger = logging.getLogger("backend.scheduler.cycle")


def cycle_lines(settings: Settings) -> list[str]:
    """The lines of a cycle: SCHEDULER_LINES, or every schedulable line of the catalogue.
    Raises UnknownLineError (naming every bad entry) for an unknown line."""
    if settings.scheduler_lines.strip():
        return [line.id for line in parse_line_list(settings.scheduler_lines)]
    return [line.id for line in get_catalogue().schedulable_lines()]


async def run_cycle(
    database: Database, settings: Settings, *, trigger: str = "interval", requested_by: str | None = None
) -> SchedulerRun:
    """Queue one task per line now and record the run (when, how many, how many coalesced, how long)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    line_ids = cycle_lines(settings)
    async with database.write_sessions() as session, session.begin():
        run = SchedulerRun(trigger=trigger, requested_by=requested_by, started_at=now, lines_total=len(line_ids))
        session.add(run)
        await session.flush()
        outcome = await tasks.enqueue(
            session,
            line_ids,
            now=now,
            max_attempts=settings.task_max_attempts,
            trigger=trigger,
            scheduler_run_id=run.id,
        )
        run.enqueued = len(outcome.task_ids)
        run.coalesced = outcome.coalesced
        run.finished_at = datetime.now(UTC)
        run.duration_ms = round((time.perf_counter() - started) * 1000, 2)
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
