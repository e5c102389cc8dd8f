"""The scheduler process: cycles on its interval, the Kafka relay, the reaper and housekeeping, side by side.

The relay is a transactional outbox: a task is first committed as `queued` with `published_at` NULL, then
published, then marked published. A crash between any two steps leaves a row the relay publishes (again) on its
next pass; a duplicate message is harmless because workers act on the row's state, not on the message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError

from backend.bus.kafka import TaskPublisher, ensure_topic, message_for
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.lifecycle import sleep_or_stop
from backend.logs.retention import prune_logs, prune_task_runs
from backend.scheduler.planner import RefreshPlanner, tick_seconds
from backend.tasks import repository as tasks
from backend.workers.registry import prune_workers

logger = logging.getLogger("backend.scheduler")

RELAY_INTERVAL_SECONDS = 0.5
RELAY_BATCH = 500
REAPER_INTERVAL_SECONDS = 2.0
HOUSEKEEPING_INTERVAL_SECONDS = 60.0


class SchedulerService:
    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._publisher: TaskPublisher | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        loops: list[Callable[[asyncio.Event], Awaitable[None]]] = [self._cycles, self._reaper, self._housekeeping]
        if self._settings.uses_kafka:
            loops.append(self._relay)
        try:
            await asyncio.gather(*(loop(stopping) for loop in loops))
        finally:
            if self._publisher is not None:
                await self._publisher.stop()

    # --- cycles --------------------------------------------------------------------------------------------------

    async def _cycles(self, stopping: asyncio.Event) -> None:
        """Every tick, queue the lines the plan says are due (see planner.py)."""
        planner = RefreshPlanner(self._database, self._settings)
        tick = tick_seconds(self._settings)
        next_at = time.monotonic()
        while not stopping.is_set():
            try:
                await planner.tick()
            except DATABASE_ERRORS as exc:
                logger.warning("planning skipped, database unavailable: %s", exc)
            next_at += tick
            if next_at < time.monotonic():  # a tick (or an outage) overran: don't burst to catch up
                next_at = time.monotonic() + tick
            await sleep_or_stop(stopping, next_at - time.monotonic())

    # --- the outbox relay (Kafka) --------------------------------------------------------------------------------

    async def _relay(self, stopping: asyncio.Event) -> None:
        backoff = 1.0
        while not stopping.is_set():
            try:
                published = await self.relay_once()
                backoff = 1.0
                if published < RELAY_BATCH:
                    await sleep_or_stop(stopping, RELAY_INTERVAL_SECONDS)
            except (KafkaError, OSError, RuntimeError) as exc:
                logger.warning("publishing tasks failed (%s); retrying in %.0f s", exc, backoff)
                await self._reset_publisher()
                await sleep_or_stop(stopping, backoff)
                backoff = min(backoff * 2, 30.0)
            except DATABASE_ERRORS as exc:
                logger.warning("relay paused, database unavailable: %s", exc)
                await sleep_or_stop(stopping, backoff)
                backoff = min(backoff * 2, 30.0)

    async def relay_once(self) -> int:
        """Publish queued tasks the bus has not accepted yet; returns how many were published."""
        async with self._database.sessions() as session:
            pending = await tasks.unpublished(session, now=datetime.now(UTC), limit=RELAY_BATCH)
        if not pending:
            return 0
        publisher = await self._ensure_publisher()
        accepted = await publisher.publish([message_for(t.id, t.line_id, t.attempt, t.scheduled_at) for t in pending])
        async with self._database.write_sessions() as session, session.begin():
            await tasks.mark_published(session, accepted, now=datetime.now(UTC))
        if len(accepted) < len(pending):
            raise RuntimeError(f"broker accepted {len(accepted)} of {len(pending)} task messages")
        logger.debug("published %d tasks", len(accepted))
        return len(accepted)

    async def _ensure_publisher(self) -> TaskPublisher:
        if self._publisher is None:
            await ensure_topic(self._settings)
            publisher = TaskPublisher(self._settings)
            await publisher.start()
            self._publisher = publisher
        return self._publisher

    async def _reset_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            try:
                await publisher.stop()
            except (KafkaError, OSError) as exc:
                logger.debug("closing the producer failed: %s", exc)

    # --- the reaper ----------------------------------------------------------------------------------------------

    async def _reaper(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.reap_once()
            except DATABASE_ERRORS as exc:
                logger.warning("reaper skipped, database unavailable: %s", exc)
            await sleep_or_stop(stopping, REAPER_INTERVAL_SECONDS)

    async def reap_once(self) -> tasks.ReapOutcome:
        settings = self._settings
        async with self._database.write_sessions() as session, session.begin():
            outcome = await tasks.reap(
                session,
                now=datetime.now(UTC),
                hard_timeout=timedelta(seconds=settings.task_timeout_seconds * 2 + 10),
                queued_expiry=timedelta(
                    seconds=settings.scheduler_interval_seconds * settings.scheduler_queued_expiry_cycles
                ),
            )
        if outcome.requeued or outcome.failed or outcome.expired:
            logger.warning(
                "reaper: %d tasks requeued (their worker was lost), %d failed (no attempt left), %d expired "
                "(queued too long)",
                outcome.requeued,
                outcome.failed,
                outcome.expired,
                extra={"requeued": outcome.requeued, "failed": outcome.failed, "expired": outcome.expired},
            )
        return outcome

    # --- housekeeping --------------------------------------------------------------------------------------------

    async def _housekeeping(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await sleep_or_stop(stopping, HOUSEKEEPING_INTERVAL_SECONDS)
            if stopping.is_set():
                return
            try:
                async with self._database.write_sessions() as session, session.begin():
                    pruned = await prune_workers(
                        session,
                        now=datetime.now(UTC),
                        older_than=timedelta(seconds=self._settings.worker_prune_after_seconds),
                    )
                if pruned:
                    logger.info("pruned %d lost or stopped workers from the registry", pruned)
                logs_deleted = await prune_logs(self._database, self._settings)
                runs_deleted = await prune_task_runs(self._database, self._settings)
                if logs_deleted or runs_deleted:
                    logger.info(
                        "retention: deleted %d log records older than %d days and %d task runs older than %d days",
                        logs_deleted,
                        self._settings.log_retention_days,
                        runs_deleted,
                        self._settings.task_run_retention_days,
                    )
            except DATABASE_ERRORS as exc:
                logger.warning("housekeeping skipped, database unavailable: %s", exc)


async def prepare_bus(settings: Settings, stopping: asyncio.Event) -> None:
    """On Kafka: create or grow the task topic before anything is published, retrying until the broker answers."""
    if not settings.uses_kafka:
        return
    backoff = 1.0
    while not stopping.is_set():
        try:
            partitions = await ensure_topic(settings)
            logger.info("topic %s ready with %d partitions", settings.kafka_task_topic, partitions)
            return
        except (KafkaError, OSError) as exc:
            logger.warning("Kafka not reachable yet (%s); retrying in %.0f s", exc, backoff)
            await sleep_or_stop(stopping, backoff)
            backoff = min(backoff * 2, 30.0)
