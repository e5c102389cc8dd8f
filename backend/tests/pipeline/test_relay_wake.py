"""The outbox relay is woken by an enqueue from any process (Postgres NOTIFY at commit), not only by its poll."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from backend.db.engine import Database
from backend.scheduler.service import SchedulerService
from backend.tasks import repository as tasks
from backend.tests.support.databases import settings_for


async def test_an_enqueue_committed_elsewhere_wakes_the_relay(postgres_url: str) -> None:
    settings = settings_for(postgres_url)
    listening = Database(settings, "scheduler")
    other_process = Database(settings, "api")
    service = SchedulerService(settings, listening)
    stopping = asyncio.Event()
    listener = asyncio.create_task(service._listen_for_tasks(stopping))
    try:
        # The listener sets the event once when it starts listening (whatever was queued meanwhile): wait for that.
        await asyncio.wait_for(service._tasks_queued.wait(), timeout=30)
        service._tasks_queued.clear()

        async with other_process.write_sessions() as session, session.begin():
            outcome = await tasks.enqueue(session, ["metro:1"], now=datetime.now(UTC), max_attempts=3, trigger="manual")
            assert outcome.task_ids
            await asyncio.sleep(0.2)
            assert not service._tasks_queued.is_set()  # NOTIFY is delivered at commit, not before

        await asyncio.wait_for(service._tasks_queued.wait(), timeout=30)
    finally:
        stopping.set()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await listening.dispose()
        await other_process.dispose()
