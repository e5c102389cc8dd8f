"""Kafka: the task topic (created and grown by us, never auto-created), the publisher, and group lag.

Message: key = line id, value = JSON `{"v": 1, "task_id", "line_id", "attempt", "scheduled_at"}`. The database row
is the truth about a task; a message only says "look at task X". A line always goes to the same partition (its
place in the catalogue, modulo the partition count: every partition gets its share of lines, whatever the keys
hash to), so a line keeps its worker, and that worker's caches of its stops, while the group is stable.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from backend.catalogue import get_catalogue
from backend.config import Settings

logger = logging.getLogger("backend.bus.kafka")

MESSAGE_VERSION = 1


@dataclass(frozen=True)
class TaskMessage:
    task_id: str
    line_id: str
    attempt: int
    scheduled_at: str

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": MESSAGE_VERSION,
                "task_id": self.task_id,
                "line_id": self.line_id,
                "attempt": self.attempt,
                "scheduled_at": self.scheduled_at,
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> TaskMessage:
        """Parse a message; raises ValueError on anything that is not a task message of a known version."""
        try:
            data = json.loads(raw or b"")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
            raise ValueError(f"unknown message format: {str(data)[:120]}")
        try:
            return cls(
                task_id=str(data["task_id"]),
                line_id=str(data["line_id"]),
                attempt=int(data.get("attempt", 0)),
                scheduled_at=str(data.get("scheduled_at", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"incomplete task message: {exc}") from exc


def _admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="ratp-admin",
        request_timeout_ms=10_000,
    )


async def ensure_topic(settings: Settings) -> int:
    """Create the task topic with KAFKA_TASK_PARTITIONS partitions, or grow it to that many; never shrink.
    Returns the partition count. Raises on broker errors (callers retry)."""
    topic, wanted = settings.kafka_task_topic, settings.kafka_task_partitions
    admin = _admin(settings)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            try:
                await admin.create_topics([NewTopic(topic, num_partitions=wanted, replication_factor=1)])
                logger.info("created topic %s with %d partitions", topic, wanted)
            except TopicAlreadyExistsError:
                pass
        current = await _partition_count(admin, topic)
        if current < wanted:
            await admin.create_partitions({topic: NewPartitions(total_count=wanted)})
            logger.info("grew topic %s from %d to %d partitions", topic, current, wanted)
            current = wanted
        elif current > wanted:
            logger.warning(
                "topic %s has %d partitions, more than KAFKA_TASK_PARTITIONS=%d; Kafka cannot shrink a topic",
                topic,
                current,
                wanted,
            )
        return current
    finally:
        await admin.close()


async def _partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    for _ in range(50):
        described = await admin.describe_topics([topic])
        partitions = described[0].get("partitions") or []
        if partitions and all(p.get("leader", -1) >= 0 for p in partitions):
            return len(partitions)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no leader for all its partitions")


class TaskPublisher:
    """Publishes task messages, each line to its own partition, the lines spread over every partition."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id="ratp-scheduler",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=15_000,
        )
        self._places = {line.id: index for index, line in enumerate(get_catalogue().lines)}
        self._unlisted = itertools.count()  # a line the catalogue does not know: spread round-robin

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, messages: list[TaskMessage]) -> list[str]:
        """Send messages and wait for the broker's acknowledgements; returns the task ids it accepted."""
        topic = self._settings.kafka_task_topic
        partitions = sorted(await self._producer.partitions_for(topic))
        futures = []
        for message in messages:
            place = self._places.get(message.line_id)
            partition = partitions[(place if place is not None else next(self._unlisted)) % len(partitions)]
            futures.append(
                await self._producer.send(topic, message.encode(), key=message.line_id.encode(), partition=partition)
            )
        results = await asyncio.gather(*futures, return_exceptions=True)
        accepted = [m.task_id for m, r in zip(messages, results, strict=True) if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            logger.warning("broker refused %d of %d task messages: %s", len(errors), len(messages), errors[0])
        return accepted


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None
    end_offset: int
    lag: int


@dataclass(frozen=True)
class GroupLag:
    """The worker group's lag on the task topic (the system API's `KafkaLag` reads it as is)."""

    topic: str
    partitions: int
    members: int
    lag_by_partition: list[PartitionLag]
    lag_total: int


async def read_group_lag(settings: Settings, *, timeout: float) -> tuple[GroupLag | None, str | None]:
    """The worker group's lag, or (None, why) when the broker does not answer within `timeout`; (None, None) on
    the database queue."""
    if not settings.uses_kafka:
        return None, None
    try:
        return await asyncio.wait_for(consumer_group_lag(settings), timeout), None
    except TimeoutError:
        return None, (
            f"the consumer group lag could not be read from {settings.kafka_bootstrap_servers} within {timeout:g} s "
            "(the broker is down or slow, or the task topic does not exist yet)"
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure is reported, never raised to the client
        return None, f"could not read the consumer group lag from {settings.kafka_bootstrap_servers}: " + (
            f"{type(exc).__name__}: {exc}"[:300]
        )


async def consumer_group_lag(settings: Settings) -> GroupLag | None:
    """Lag of the worker group on the task topic, per partition and in total; None when not on Kafka."""
    if not settings.uses_kafka:
        return None
    topic, group = settings.kafka_task_topic, settings.kafka_consumer_group
    admin = _admin(settings)
    await admin.start()
    try:
        committed_offsets: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(group)
        described = await admin.describe_consumer_groups([group])
        members = _member_count(described)
        partition_count = await _partition_count(admin, topic)
    finally:
        await admin.close()
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, client_id="ratp-lag")
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count)]
        end_offsets = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
    rows = []
    for tp in partitions:
        meta = committed_offsets.get(tp)
        committed = meta.offset if meta is not None and meta.offset >= 0 else None
        end = int(end_offsets.get(tp, 0))
        rows.append(PartitionLag(tp.partition, committed, end, max(0, end - (committed or 0))))
    return GroupLag(topic, partition_count, members, rows, sum(r.lag for r in rows))


def _member_count(described: Any) -> int:
    """Members of the first group in a DescribeGroups response (aiokafka returns raw response structs)."""
    for response in described:
        for group in getattr(response, "groups", []):
            return len(group[5])
    return 0


async def group_members(settings: Settings) -> list[tuple[str, str]]:
    """(member id, client id) of every member of the worker group."""
    admin = _admin(settings)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([settings.kafka_consumer_group])
    finally:
        await admin.close()
    for response in described:
        for group in getattr(response, "groups", []):
            return [(str(member[0]), str(member[1])) for member in group[5]]
    return []


def message_for(task_id: str, line_id: str, attempt: int, scheduled_at: datetime) -> TaskMessage:
    return TaskMessage(task_id=task_id, line_id=line_id, attempt=attempt, scheduled_at=scheduled_at.isoformat())
