"""`python -m backend.scheduler`: run the scheduler until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import sys

from backend.catalogue import UnknownLineError
from backend.config import get_settings
from backend.db.engine import Database
from backend.db.migrate import SchemaNotReadyError, wait_for_schema
from backend.lifecycle import install_stop_signals, run_process
from backend.livedata.catalogue_sync import wait_for_catalogue
from backend.scheduler.service import SchedulerService, prepare_bus
from backend.tasks.cycle import cycle_lines
from backend.vocabulary import Service

logger = logging.getLogger("backend.scheduler")


async def _main() -> int:
    settings = get_settings()
    try:
        lines = cycle_lines(settings)
    except UnknownLineError as exc:
        logger.error("SCHEDULER_LINES is invalid: %s", exc)
        return 2
    stopping = asyncio.Event()
    install_stop_signals(stopping, "scheduler")
    database = Database(settings, "scheduler")
    try:
        await wait_for_schema(database.engine, timeout=300, stopping=stopping)
        # The migrate step copies the lines in; tasks for lines the database lacks could not be recorded.
        if not await wait_for_catalogue(database, stopping):
            logger.info("scheduler stopped before the catalogue was in the database")
            return 0
        await prepare_bus(settings, stopping)
        logger.info(
            "scheduler started: %d lines every %g s on the %s bus",
            len(lines),
            settings.scheduler_interval_seconds,
            settings.bus,
        )
        await SchedulerService(settings, database).run(stopping)
    except SchemaNotReadyError as exc:
        logger.error("scheduler cannot start: %s", exc)
        return 3
    finally:
        await database.dispose()
    logger.info("scheduler stopped")
    return 0


def main() -> int:
    return run_process(Service.SCHEDULER, lambda _logs: _main())


if __name__ == "__main__":
    sys.exit(main())
