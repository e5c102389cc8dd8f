"""Fixtures for pipeline tests: a probe on the test database, and names private to one test on the shared broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from backend.tests.pipeline.probe import PipelineProbe


@pytest.fixture
async def probe(postgres_url: str) -> AsyncIterator[PipelineProbe]:
    probe = PipelineProbe(postgres_url)
    yield probe
    await probe.close()


@pytest.fixture
def kafka_names() -> dict[str, str]:
    """A topic and a consumer group of this test only."""
    suffix = uuid.uuid4().hex[:8]
    return {"kafka_task_topic": f"tasks-{suffix}", "kafka_consumer_group": f"workers-{suffix}"}
