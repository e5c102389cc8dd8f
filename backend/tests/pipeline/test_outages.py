"""Outages that must cost no work, on real processes: the broker or the database stopped in the middle of a cycle.

Scheduler, workers and the stub upstream run as processes; the test stops its private Kafka broker or Postgres
server while tasks are being published and fetched, for longer than a lease, a worker's "lost" delay and the queued
expiry, then starts it again. Afterwards every task finished on its first attempt: none expired, none was taken
from a live worker, and every task the broker accepted says when (`published_at`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.db.models import TaskRun
from backend.migrate import migrate_database
from backend.tests.pipeline.probe import PipelineProbe, lines_for
from backend.tests.support.databases import settings_for
from backend.tests.support.pipeline import configure, kafka_env, start_stub, stub_env, wait_for_fleet
from backend.tests.support.processes import Services, eventually, services
from backend.tests.support.services import KafkaBroker, PostgresServer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

LINES = lines_for(12)
OUTAGE_SECONDS = 25.0  # longer than the lease (5 s), WORKER_LOST_AFTER_SECONDS (5 s) and the queued expiry (21 s)
TIMINGS = {"scheduler_interval_seconds": 3, "scheduler_queued_expiry_cycles": 7, "worker_concurrency": 2}


async def _start_fleet(stack: Services, probe: PipelineProbe) -> None:
    port = await start_stub(stack, latency_ms=400)
    configure(stack, **stub_env(port), scheduler_lines=",".join(LINES), **TIMINGS)
    for _ in range(2):
        stack.start("worker")
    await wait_for_fleet(probe, 2)
    stack.start("scheduler")


async def _running(probe: PipelineProbe) -> list[TaskRun] | None:
    running = [t for t in await probe.tasks() if t.status == "running"]
    return running or None


async def _finished_after(probe: PipelineProbe, count: int) -> bool:
    statuses = await probe.task_statuses()
    return statuses["succeeded"] + statuses["partial"] >= count


async def _finished_before(probe: PipelineProbe, moment: datetime) -> bool:
    return all(t.status not in ("queued", "running") for t in await probe.tasks() if t.scheduled_at < moment)


async def _assert_no_work_lost(stack: Services, probe: PipelineProbe) -> None:
    """Let the fleet finish every task scheduled so far (the scheduler still relaying), then check each of them."""
    moment = datetime.now(UTC)
    await eventually(lambda: _finished_before(probe, moment), timeout=120, message="every task finished")
    stack.started[1 + 2].terminate()  # the scheduler (after the stub and the two workers)
    everything = await probe.tasks()
    rows = [t for t in everything if t.scheduled_at < moment]
    assert {t.status for t in rows} <= {"succeeded", "partial"}, [(t.line_id, t.status, t.error) for t in rows]
    assert [t.error for t in everything if t.status == "expired"] == []
    wasted = [(t.line_id, t.attempt, t.error) for t in rows if t.attempt != 1]
    assert wasted == [], "attempts were wasted"
    assert [t.id for t in rows if t.published_at is None] == []


async def test_kafka_stopped_mid_cycle_expires_nothing_and_wastes_no_attempt(
    postgres_url: str, own_kafka: KafkaBroker, kafka_names: dict[str, str], probe: PipelineProbe, tmp_path: Path
) -> None:
    with services(tmp_path, kafka_env(postgres_url, own_kafka, kafka_names)) as stack:
        await _start_fleet(stack, probe)
        await eventually(lambda: _running(probe), timeout=60, message="a task running")

        await asyncio.to_thread(own_kafka.stop)
        await asyncio.sleep(OUTAGE_SECONDS)  # cycles go on queueing tasks the relay cannot publish
        unpublished = [t for t in await probe.tasks() if t.status == "queued" and t.published_at is None]
        assert unpublished, "the outage left tasks to publish"
        await asyncio.to_thread(own_kafka.start)

        done = sum((await probe.task_statuses()).values())
        await eventually(lambda: _finished_after(probe, done + len(LINES)), timeout=120, message="work after")
        await _assert_no_work_lost(stack, probe)


async def test_postgres_stopped_mid_cycle_expires_nothing_and_takes_no_task_from_a_live_worker(
    own_postgres: PostgresServer, kafka: KafkaBroker, kafka_names: dict[str, str], tmp_path: Path
) -> None:
    url = own_postgres.url
    await migrate_database(settings_for(url), url=url)
    probe = PipelineProbe(url)
    try:
        with services(tmp_path, kafka_env(url, kafka, kafka_names)) as stack:
            await _start_fleet(stack, probe)
            await eventually(lambda: _running(probe), timeout=60, message="a task running")
            await probe.database.dispose()

            await asyncio.to_thread(own_postgres.stop)
            await asyncio.sleep(OUTAGE_SECONDS)  # workers finish fetching and cannot record, renew or heartbeat
            await asyncio.to_thread(own_postgres.start)

            done = sum((await probe.task_statuses()).values())
            await eventually(lambda: _finished_after(probe, done + len(LINES)), timeout=120, message="work after")
            await _assert_no_work_lost(stack, probe)
            assert "lost:" not in stack.logs(tail=100_000)  # the reaper took nothing back
    finally:
        await probe.close()
