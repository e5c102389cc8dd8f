"""The scheduler process: cycles on its interval, the Kafka relay, the reaper and housekeeping, side by side.

The relay is a transactional outbox: a task is first committed as `queued` with `published_at` NULL, then
published, then marked published. A crash between any two steps leaves a row the relay publishes (again) on its
next pass; a duplicate message is harmless because workers act on the row's state, not on the message. The relay
is woken as soon as tasks are queued: by this process's cycles, and on Postgres by the `NOTIFY` that every enqueue
(from any process: a manual cycle through the API, say) and every hand-back sends at commit. It still looks every
`RELAY_INTERVAL_SECONDS` for retries coming due and anything a lost notification left behind.

Outages are nobody's fault: the scheduler remembers when it last saw the database or the broker fail. After the
database was unreachable (and at start-up, not knowing what came before) the reaper first extends every running
task's lease by WORKER_LOST_AFTER_SECONDS, since no worker could renew one meanwhile; and no queued task expires until
a whole expiry window has passed without any outage, since no worker could start one meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError

from backend.backoff import retries
from backend.bus.kafka import TaskPublisher, ensure_topic, message_for
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.lifecycle import sleep_or_stop
from backend.logs.retention import prune_logs, prune_task_runs
from backend.registry import prune_workers
from backend.scheduler.planner import RefreshPlanner, tick_seconds
from backend.tasks import repository as tasks

logger = logging.getLogger("backend.scheduler")

RELAY_INTERVAL_SECONDS = 0.5
RELAY_BATCH = 500
PUBLISH_STALL_SECONDS = 2.0
REAPER_INTERVAL_SECONDS = 2.0
HOUSEKEEPING_INTERVAL_SECONDS = 60.0
# Failures of a publication that are the broker's (or the publisher's) rather than the database's.
_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (KafkaError, OSError, RuntimeError)


class SchedulerService:
    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._publisher: TaskPublisher | None = None
        self._tasks_queued = asyncio.Event()  # wakes the relay
        # The last time a loop saw the database or the broker fail (start-up counts: what came before is unknown).
        self._disturbed_at = datetime.now(UTC)
        # When the publication in progress began (monotonic): a broker that does not answer makes it hang, not fail.
        self._publishing_since: float | None = None
        # True until the reaper has extended the leases that workers could not renew while it was unreachable.
        self._leases_owed = True

    def _disturbed(self, *, database: bool) -> None:
        self._disturbed_at = datetime.now(UTC)
        if database:
            self._leases_owed = True

    async def run(self, stopping: asyncio.Event) -> None:
        loops: list[Callable[[asyncio.Event], Awaitable[None]]] = [self._cycles, self._reaper, self._housekeeping]
        if self._settings.uses_kafka:
            loops += [self._relay, self._listen_for_tasks]
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
                self._tasks_queued.set()
            except DATABASE_ERRORS as exc:
                self._disturbed(database=True)
                logger.warning("planning skipped, database unavailable: %s", exc)
            next_at += tick
            if next_at < time.monotonic():  # a tick (or an outage) overran: don't burst to catch up
                next_at = time.monotonic() + tick
            await sleep_or_stop(stopping, next_at - time.monotonic())

    # --- the outbox relay (Kafka) --------------------------------------------------------------------------------

    async def _relay(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            published = RELAY_BATCH
            async for attempt in retries(
                retry_on=(*_PUBLISH_ERRORS, *DATABASE_ERRORS),
                first=1.0,
                cap=30.0,
                stopping=stopping,
                on_retry=self._relay_failed,
            ):
                with attempt:
                    self._tasks_queued.clear()  # before reading: a wake-up during the pass means another pass
                    try:
                        published = await self.relay_once()
                    except _PUBLISH_ERRORS:
                        await self._reset_publisher()
                        raise
            if published < RELAY_BATCH:
                await self._until_tasks_queued(stopping, RELAY_INTERVAL_SECONDS)

    def _relay_failed(self, exc: BaseException, delay: float) -> None:
        if isinstance(exc, _PUBLISH_ERRORS):
            self._disturbed(database=False)
            logger.warning("publishing tasks failed (%s); retrying in %.0f s", exc, delay)
        else:
            self._disturbed(database=True)
            logger.warning("relay paused, database unavailable: %s", exc)

    async def _until_tasks_queued(self, stopping: asyncio.Event, timeout: float) -> None:
        waits = [asyncio.ensure_future(self._tasks_queued.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _listen_for_tasks(self, stopping: asyncio.Event) -> None:
        """Postgres: LISTEN for enqueues on a connection of its own; without it the relay still polls."""
        if self._database.is_sqlite:
            return
        while not stopping.is_set():
            try:
                async with self._database.engine.connect() as connection:
                    raw = (await connection.get_raw_connection()).driver_connection
                    assert raw is not None

                    def wake(*_: object) -> None:
                        self._tasks_queued.set()

                    await raw.add_listener(tasks.TASKS_QUEUED_CHANNEL, wake)
                    try:
                        self._tasks_queued.set()  # whatever was queued while nobody listened
                        while not stopping.is_set() and not raw.is_closed():
                            await sleep_or_stop(stopping, 5.0)
                    finally:
                        if not raw.is_closed():
                            await raw.remove_listener(tasks.TASKS_QUEUED_CHANNEL, wake)
            except DATABASE_ERRORS as exc:
                logger.debug("listening for queued tasks failed (%s); the relay polls meanwhile", exc)
            await sleep_or_stop(stopping, 5.0)

    async def relay_once(self) -> int:
        """Publish queued tasks the bus has not accepted yet; returns how many were published."""
        async with self._database.sessions() as session:
            pending = await tasks.unpublished(session, now=datetime.now(UTC), limit=RELAY_BATCH)
        if not pending:
            return 0
        self._publishing_since = time.monotonic()
        try:
            publisher = await self._ensure_publisher()
            accepted = await publisher.publish(
                [message_for(t.id, t.line_id, t.attempt, t.scheduled_at) for t in pending]
            )
        finally:
            self._publishing_since = None
        attempts = {t.id: t.attempt for t in pending}
        async with self._database.write_sessions() as session, session.begin():
            await tasks.mark_published(session, {i: attempts[i] for i in accepted}, now=datetime.now(UTC))
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
                self._disturbed(database=True)
                logger.warning("reaper skipped, database unavailable: %s", exc)
            await sleep_or_stop(stopping, REAPER_INTERVAL_SECONDS)

    async def reap_once(self) -> tasks.ReapOutcome:
        settings = self._settings
        now = datetime.now(UTC)
        lost_after = timedelta(seconds=settings.worker_lost_after_seconds)
        expiry = timedelta(seconds=settings.scheduler_interval_seconds * settings.scheduler_queued_expiry_cycles)
        if self._publishing_since is not None and time.monotonic() - self._publishing_since > PUBLISH_STALL_SECONDS:
            self._disturbed(database=False)  # the broker is not answering: no worker can be blamed meanwhile
        leases_owed = self._leases_owed
        async with self._database.write_sessions() as session, session.begin():
            extended = await tasks.extend_leases(session, until=now + lost_after) if leases_owed else 0
            outcome = await tasks.reap(
                session,
                now=now,
                lost_after=lost_after,
                queued_expiry=expiry if self._disturbed_at < now - expiry else None,
                expiry_counts_from_publication=settings.uses_kafka,
            )
        if leases_owed:
            self._leases_owed = False
            if extended:
                logger.info(
                    "reaper: %d running tasks' leases extended by %.0f s (the database was unreachable, or the "
                    "scheduler just started: their workers could not renew them)",
                    extended,
                    lost_after.total_seconds(),
                    extra={"extended": extended},
                )
        for task_id, worker_id, why in outcome.taken_back:
            logger.warning(
                "reaper: task %s taken back: %s", task_id, why, extra={"task_id": task_id, "worker": worker_id}
            )
        if outcome.requeued or outcome.failed or outcome.expired:
            logger.warning(
                "reaper: %d tasks requeued and %d failed (their worker lost them), %d expired (no worker started "
                "them in time)",
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
    async for attempt in retries(
        retry_on=(KafkaError, OSError),
        first=1.0,
        cap=30.0,
        stopping=stopping,
        on_retry=lambda exc, delay: logger.warning("Kafka not reachable yet (%s); retrying in %.0f s", exc, delay),
    ):
        with attempt:
            partitions = await ensure_topic(settings)
            logger.info("topic %s ready with %d partitions", settings.kafka_task_topic, partitions)
