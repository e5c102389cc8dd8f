"""Consuming tasks from Kafka, at least once, with none stuck.

How each known way for a worker fleet to "join the group but never consume" is ruled out:
- the topic is created (and grown) by us with many partitions before anyone subscribes, so every member of a large
  fleet owns partitions and no subscription waits on a metadata refresh (`ensure_topic`);
- `auto_offset_reset="earliest"`: tasks published before a worker joined are still delivered;
- `enable_auto_commit=False`: an offset is committed only after the task's outcome is committed to the database,
  up to the lowest offset still in flight on that partition (commits go out every `KAFKA_COMMIT_INTERVAL_MS`, and
  at every rebalance and shutdown);
- messages are fetched in batches of up to `WORKER_PREFETCH` (fetching only as many as there are free slots caps
  a worker near 2k messages/s); at most `WORKER_CONCURRENCY` of them run, the others wait for a slot without
  touching their task, and a waiting one is simply dropped (its offset uncommitted, so redelivered) when its
  partition moves or the worker stops;
- the loop calls `getmany()` continuously (processing runs in separate tasks; partitions are paused, not left
  unpolled, when all slots are busy), so no member, busy or without partitions, ever exceeds
  `max_poll_interval_ms` and gets evicted (aiokafka #720/#1187);
- and a membership check recreates the consumer if the group no longer lists this worker anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from backend.backoff import restart_backoff, retries
from backend.bus.kafka import TaskMessage, ensure_topic, group_members
from backend.config import Settings
from backend.registry import WorkerState
from backend.tasks.repository import StartRefusal
from backend.vocabulary import WorkerStatus
from backend.workers.execution import DatabaseUnavailableError, TaskExecutor

logger = logging.getLogger("backend.workers.kafka")

POLL_TIMEOUT_MS = 500
MEMBERSHIP_CHECK_SECONDS = 30.0


@dataclass
class PartitionProgress:
    """Offsets of one partition: in flight, highest seen, last committed."""

    in_flight: set[int] = field(default_factory=set)
    highest_seen: int = -1
    committed: int = -1

    def committable(self) -> int:
        """The offset to commit: everything below it has been recorded in the database."""
        return min(self.in_flight) if self.in_flight else self.highest_seen + 1


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: KafkaTaskLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._loop.release(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._loop.adopt(set(assigned))


class KafkaTaskLoop:
    def __init__(self, settings: Settings, executor: TaskExecutor, state: WorkerState) -> None:
        self._settings = settings
        self._executor = executor
        self._state = state
        self._consumer: AIOKafkaConsumer | None = None
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._tasks: dict[tuple[TopicPartition, int], asyncio.Task[None]] = {}
        self._started: set[tuple[TopicPartition, int]] = set()  # holding a slot: started, or starting, its task
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        self._held = max(settings.worker_prefetch, settings.worker_concurrency)
        self._committed_at = 0.0
        self._rejoin = False
        self._last_membership_check = time.monotonic()
        self._dirty = False

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume until `stopping` is set, then finish or hand back in-flight tasks, commit, and leave the group."""
        while not stopping.is_set():  # a consumer leaves `_consume` to be recreated when the group lost it
            async for attempt in retries(
                retry_on=(KafkaError, OSError), first=1.0, cap=30.0, stopping=stopping, on_retry=self._kafka_failed
            ):
                with attempt:
                    try:
                        await ensure_topic(self._settings)
                        self._consumer = self._new_consumer()
                        await self._consumer.start()
                        self._consumer.subscribe([self._settings.kafka_task_topic], listener=_Rebalance(self))
                        restart_backoff(attempt)  # the consumer is up: the next outage waits the first delay again
                        await self._consume(stopping)
                    finally:
                        await self._close_consumer(draining=stopping.is_set())

    def _kafka_failed(self, exc: BaseException, delay: float) -> None:
        logger.warning("Kafka unavailable (%s); retrying in %.0f s", exc, delay)
        self._state.last_error = f"kafka: {exc}"

    def _new_consumer(self) -> AIOKafkaConsumer:
        settings = self._settings
        self._rejoin = False
        self._last_membership_check = time.monotonic()
        return AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.kafka_consumer_group,
            client_id=self._state.id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            rebalance_timeout_ms=settings.kafka_max_poll_interval_ms,
            max_poll_records=self._held,
            metadata_max_age_ms=30_000,
        )

    async def _consume(self, stopping: asyncio.Event) -> None:
        consumer = self._consumer
        assert consumer is not None
        logger.info("consuming %s as %s", self._settings.kafka_task_topic, self._state.id)
        while not stopping.is_set() and not self._rejoin:
            free = self._held - len(self._tasks)
            self._throttle(consumer, saturated=free <= 0)
            timeout_ms = POLL_TIMEOUT_MS
            if free <= 0:
                # As many messages held as allowed: wake as soon as one is done (not after a full poll timeout on
                # paused partitions), then poll at once. getmany() still runs at least every POLL_TIMEOUT_MS.
                await asyncio.wait(
                    list(self._tasks.values()), timeout=POLL_TIMEOUT_MS / 1000, return_when=asyncio.FIRST_COMPLETED
                )
                timeout_ms = 0
            batch = await consumer.getmany(timeout_ms=timeout_ms, max_records=max(free, 1))
            for tp, messages in batch.items():
                progress = self._progress.setdefault(tp, PartitionProgress())
                for message in messages:
                    progress.in_flight.add(message.offset)
                    progress.highest_seen = max(progress.highest_seen, message.offset)
                    key = (tp, message.offset)
                    self._tasks[key] = asyncio.create_task(self._handle(tp, message.offset, message.value, stopping))
            self._state.status = WorkerStatus.BUSY if self._tasks else WorkerStatus.IDLE
            if time.monotonic() - self._committed_at >= self._settings.kafka_commit_interval_ms / 1000:
                await self._commit(consumer)
            await self._check_membership(consumer)

    def _throttle(self, consumer: AIOKafkaConsumer, *, saturated: bool) -> None:
        assigned = consumer.assignment()
        if saturated:
            consumer.pause(*assigned)
        elif consumer.paused():
            consumer.resume(*consumer.paused())

    async def _close_consumer(self, *, draining: bool) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        if draining:
            self._state.status = WorkerStatus.DRAINING
        with contextlib.suppress(KafkaError, OSError):
            consumer.pause(*consumer.assignment())
        await self.release(set(self._progress), consumer=consumer, final=draining)
        try:
            await consumer.stop()  # leaves the group: its partitions move to the others at once
        except (KafkaError, OSError) as exc:
            logger.warning("leaving the group failed: %s", exc)
        self._state.assigned_partitions = []

    # --- one message -------------------------------------------------------------------------------------------

    async def _handle(self, tp: TopicPartition, offset: int, raw: bytes | None, stopping: asyncio.Event) -> None:
        try:
            try:
                message = TaskMessage.decode(raw)
            except ValueError as exc:
                logger.error("skipping malformed message at %s@%d: %s", tp, offset, exc)
            else:
                async with self._slots:
                    self._started.add((tp, offset))
                    await self._execute(message, stopping)
        except DatabaseUnavailableError:
            return  # stopping while the database is down: the offset stays uncommitted, the message is redelivered
        except Exception:
            # A bug must neither kill the loop nor stall the partition's commits. The task is not lost: its row
            # stays running until its lease lapses, then the reaper queues it again.
            logger.exception("unexpected error on task message at %s@%d", tp, offset)
        finally:
            self._tasks.pop((tp, offset), None)
            self._started.discard((tp, offset))
        self._done(tp, offset)

    async def _execute(self, message: TaskMessage, stopping: asyncio.Event) -> None:
        def database_failed(exc: BaseException, delay: float) -> None:
            self._state.last_error = f"database: {exc}"[:300]
            logger.warning("database unavailable for task %s; retrying in %.1f s", message.task_id, delay)

        # Keep the message (its offset stays uncommitted) until the database answers again.
        async for attempt in retries(
            retry_on=DatabaseUnavailableError, first=0.5, cap=10.0, stopping=stopping, on_retry=database_failed
        ):
            with attempt:
                outcome = await self._executor.start_delivered(message.task_id)
                if isinstance(outcome, StartRefusal):
                    logger.debug("task %s not started: %s", message.task_id, outcome.value)
                    return
                try:
                    await self._executor.run(outcome)
                except asyncio.CancelledError:
                    await asyncio.shield(self._executor.hand_back(outcome))
                    raise
                return
        raise DatabaseUnavailableError(f"stopping while the database is unavailable for task {message.task_id}")

    def _done(self, tp: TopicPartition, offset: int) -> None:
        progress = self._progress.get(tp)
        if progress is not None:
            progress.in_flight.discard(offset)
            self._dirty = True

    # --- offsets and rebalances --------------------------------------------------------------------------------

    async def _commit(self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None) -> None:
        if not self._dirty and only is None:
            return
        offsets = {
            tp: progress.committable()
            for tp, progress in self._progress.items()
            if (only is None or tp in only)
            and progress.committable() > progress.committed
            and progress.highest_seen >= 0
        }
        if not offsets:
            self._dirty = False
            return
        self._committed_at = time.monotonic()
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:
            logger.info("commit refused after a rebalance (%s); the new owner will see finished tasks", exc)
            return
        except (KafkaError, OSError) as exc:
            logger.warning("commit failed (%s); will retry", exc)
            return
        for tp, offset in offsets.items():
            # A rebalance's release may have forgotten the partition while this commit was in flight.
            if tp in self._progress:
                self._progress[tp].committed = offset
        self._dirty = False

    def adopt(self, assigned: set[TopicPartition]) -> None:
        self._state.assigned_partitions = sorted(tp.partition for tp in assigned)
        logger.info("assigned partitions %s", self._state.assigned_partitions)

    async def release(
        self, revoked: set[TopicPartition], *, consumer: AIOKafkaConsumer | None = None, final: bool = False
    ) -> None:
        """Before partitions move away: let their in-flight tasks finish (bounded), commit, forget them.
        On the final release (shutdown) tasks still running after the grace period are handed back."""
        consumer = consumer or self._consumer
        waiting = [task for key, task in self._tasks.items() if key[0] in revoked and key not in self._started]
        for task in waiting:  # never started: dropped, their offsets stay uncommitted and the next owner gets them
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        pending = [task for (tp, _), task in self._tasks.items() if tp in revoked]
        if pending:
            grace = self._settings.task_timeout_seconds + 5.0
            logger.info("waiting up to %.0f s for %d in-flight tasks before releasing partitions", grace, len(pending))
            _, still_running = await asyncio.wait(pending, timeout=grace)
            if final:
                for task in still_running:
                    task.cancel()
                await asyncio.gather(*still_running, return_exceptions=True)
        if consumer is not None:
            self._dirty = True
            await self._commit(consumer, only=revoked)
        for tp in revoked:
            self._progress.pop(tp, None)
        remaining = set(self._progress)
        self._state.assigned_partitions = sorted(tp.partition for tp in remaining)

    async def _check_membership(self, consumer: AIOKafkaConsumer) -> None:
        """Belt and braces for aiokafka #720/#1187: if the group no longer lists this worker, rejoin."""
        if time.monotonic() - self._last_membership_check < MEMBERSHIP_CHECK_SECONDS:
            return
        self._last_membership_check = time.monotonic()
        try:
            members = await asyncio.wait_for(group_members(self._settings), timeout=10)
        except (KafkaError, OSError, TimeoutError) as exc:
            logger.debug("membership check failed: %s", exc)
            return
        self._state.metrics["group_members"] = len(members)
        if members and all(client_id != self._state.id for _, client_id in members):
            logger.warning(
                "this worker is no longer a member of group %s; rejoining", self._settings.kafka_consumer_group
            )
            self._state.metrics["rejoins"] = int(self._state.metrics.get("rejoins", 0)) + 1
            self._rejoin = True
