"""Consuming tasks from the database-backed queue (no broker): claim atomically, run, repeat.

Same task semantics as Kafka: the claim, the outcome and the retry are the same guarded transitions of
backend.tasks.repository; a worker that dies leaves a running task whose lease lapses, and the reaper queues it again.
"""

from __future__ import annotations

import asyncio
import logging

from backend.backoff import retries
from backend.config import Settings
from backend.lifecycle import sleep_or_stop
from backend.registry import WorkerState
from backend.tasks.repository import TaskAssignment
from backend.vocabulary import WorkerStatus
from backend.workers.execution import DatabaseUnavailableError, TaskExecutor

logger = logging.getLogger("backend.workers.database")

IDLE_POLL_SECONDS = 0.5


class DatabaseTaskLoop:
    def __init__(self, settings: Settings, executor: TaskExecutor, state: WorkerState) -> None:
        self._settings = settings
        self._executor = executor
        self._state = state
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if len(self._tasks) >= self._settings.worker_concurrency:
                await asyncio.wait(list(self._tasks.values()), return_when=asyncio.FIRST_COMPLETED, timeout=1.0)
                continue
            assignment = None
            async for attempt in retries(
                retry_on=DatabaseUnavailableError,
                first=IDLE_POLL_SECONDS,
                cap=10.0,
                stopping=stopping,
                on_retry=self._claim_failed,
            ):
                with attempt:
                    assignment = await self._executor.claim()
            if assignment is None:
                self._state.status = WorkerStatus.BUSY if self._tasks else WorkerStatus.IDLE
                await sleep_or_stop(stopping, IDLE_POLL_SECONDS)
                continue
            self._state.status = WorkerStatus.BUSY
            self._tasks[assignment.task_id] = asyncio.create_task(self._run(assignment))
        self._state.status = WorkerStatus.DRAINING
        await self._drain()

    async def _run(self, assignment: TaskAssignment) -> None:
        try:
            async for attempt in retries(
                retry_on=DatabaseUnavailableError, first=0.5, cap=10.0, on_retry=self._database_failed
            ):
                with attempt:
                    await self._executor.run(assignment)
        except asyncio.CancelledError:
            await asyncio.shield(self._executor.hand_back(assignment))
            raise
        except Exception:  # the reaper requeues the task once its lease lapses
            logger.exception("unexpected error running task %s", assignment.task_id)
        finally:
            self._tasks.pop(assignment.task_id, None)

    def _claim_failed(self, exc: BaseException, delay: float) -> None:
        self._database_failed(exc, delay)
        logger.warning("database unavailable; retrying in %.1f s", delay)

    def _database_failed(self, exc: BaseException, _delay: float) -> None:
        self._state.last_error = f"database: {exc}"[:300]

    async def _drain(self) -> None:
        """On shutdown: finish in-flight tasks within the task timeout, hand back the rest."""
        if not self._tasks:
            return
        grace = self._settings.task_timeout_seconds + 5.0
        logger.info("waiting up to %.0f s for %d in-flight tasks", grace, len(self._tasks))
        _, still_running = await asyncio.wait(list(self._tasks.values()), timeout=grace)
        for task in still_running:
            task.cancel()
        await asyncio.gather(*still_running, return_exceptions=True)
