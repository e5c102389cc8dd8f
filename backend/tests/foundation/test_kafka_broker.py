"""The project's Kafka broker is real: aiokafka creates a topic, produces and consumes through it."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from backend.tests.support.services import KafkaBroker

pytestmark = pytest.mark.kafka


async def test_produce_and_consume_a_message_on_the_real_broker(kafka: KafkaBroker) -> None:
    topic = f"test-roundtrip-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"k", partition=2)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap,
            group_id=f"g-{topic}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            message = await consumer.getone()
            assert (message.value, message.partition) == (b"hello", 2)
            await consumer.commit()
        finally:
            await consumer.stop()
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_broker_never_auto_creates_topics(kafka: KafkaBroker) -> None:
    topic = f"never-created-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises((UnknownTopicOrPartitionError, KafkaTimeoutError)):
            await producer.send_and_wait(topic, b"x")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        assert topic not in await admin.list_topics()
    finally:
        await admin.close()
