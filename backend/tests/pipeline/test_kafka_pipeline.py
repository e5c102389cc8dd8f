"""The scheduler -> Kafka -> worker fleet pipeline, with real processes, a real broker and real Postgres.

These are the failures of the earlier system ("workers join the group but never consume; every task stays queued")
and the ways a fleet loses or repeats work; each test starts the real processes and checks the database.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backend.bus.kafka import group_members
from backend.tests.pipeline.probe import PipelineProbe, lines_for
from backend.tests.support.databases import settings_for
from backend.tests.support.pipeline import (
    kafka_env,
    slow_fleet_with_a_running_task,
    start_workers,
    wait_for_fleet,
)
from backend.tests.support.processes import eventually, services
from backend.tests.support.services import KafkaBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


async def test_six_workers_consume_sixty_tasks_exactly_once(
    postgres_url: str, kafka: KafkaBroker, kafka_names: dict[str, str], probe: PipelineProbe, tmp_path: Path
) -> None:
    lines = lines_for(60)
    env = kafka_env(postgres_url, kafka, kafka_names, scheduler_lines=",".join(lines))
    with services(tmp_path, env) as stack:
        start_workers(stack, 6)
        await wait_for_fleet(probe, 6)
        stack.start("scheduler")
        statuses = await eventually(lambda: probe.all_succeeded(60), timeout=90, message="60 succeeded tasks")
        assert statuses == {"succeeded": 60}

        # Exactly once to completion: the fleet's completions (reported by heartbeat) add up to the number of tasks.
        async def all_reported() -> list | None:  # type: ignore[type-arg]
            live = await probe.live_workers()
            return live if sum(w.processed_count for w in live) >= 60 else None

        workers = await eventually(all_reported, timeout=10, message="heartbeats reporting 60 completions")
        assert len(workers) == 6
        assert sum(w.processed_count for w in workers) == 60
        assert all(w.processed_count >= 1 for w in workers), [(w.id, w.processed_count) for w in workers]
        assert {t.attempt for t in await probe.tasks()} == {1}
        owned = [p for w in workers for p in w.assigned_partitions]
        assert sorted(owned) == list(range(48))

        settings = settings_for(postgres_url, kafka_bootstrap_servers=kafka.bootstrap, **kafka_names)
        members = await group_members(settings)
        assert sorted(client for _, client in members) == sorted(w.id for w in workers)


async def test_worker_killed_mid_task_is_completed_by_another_worker(
    postgres_url: str, kafka: KafkaBroker, kafka_names: dict[str, str], probe: PipelineProbe, tmp_path: Path
) -> None:
    lines = ["metro:1", "metro:4", "rer:A", "tram:T3a"]
    with services(tmp_path, kafka_env(postgres_url, kafka, kafka_names)) as stack:
        victim_id, victim = await slow_fleet_with_a_running_task(stack, probe, lines, 2, kafka=True)
        victim.kill()

        statuses = await eventually(lambda: probe.all_succeeded(4), timeout=120, message="every task succeeded")
        assert statuses == {"succeeded": 4}
        taken_over = [t for t in await probe.tasks() if t.attempt > 1]
        assert taken_over, "the killed worker's task is completed by another worker, in a second attempt"
        assert all(t.worker_id != victim_id for t in taken_over)


async def test_worker_stopped_mid_task_finishes_it_and_leaves_the_group(
    postgres_url: str, kafka: KafkaBroker, kafka_names: dict[str, str], probe: PipelineProbe, tmp_path: Path
) -> None:
    lines = ["metro:1", "metro:6", "rer:B", "tram:T2"]
    with services(tmp_path, kafka_env(postgres_url, kafka, kafka_names)) as stack:
        owner_id, stopping = await slow_fleet_with_a_running_task(stack, probe, lines, 2, kafka=True)
        in_flight = {t.id for t in await probe.tasks() if t.status == "running" and t.worker_id == owner_id}
        stopping.terminate()
        assert await asyncio.to_thread(stopping.wait, 90) == 0

        rows = {row.id: row for row in await probe.workers()}
        assert rows[owner_id].status == "stopped"
        statuses = await eventually(lambda: probe.all_succeeded(4), timeout=90, message="every task succeeded")
        assert statuses == {"succeeded": 4}
        finished = {t.id: t for t in await probe.tasks()}
        # It finished what it had started (or handed it back to be done by the other worker): nothing is lost.
        assert all(finished[task_id].status == "succeeded" for task_id in in_flight)
        settings = settings_for(postgres_url, kafka_bootstrap_servers=kafka.bootstrap, **kafka_names)
        assert owner_id not in {client for _, client in await group_members(settings)}


async def test_fleet_scaled_2_8_3_completes_every_task_and_idle_members_stay_in_the_group(
    postgres_url: str, kafka: KafkaBroker, kafka_names: dict[str, str], probe: PipelineProbe, tmp_path: Path
) -> None:
    settings = settings_for(postgres_url, kafka_bootstrap_servers=kafka.bootstrap, **kafka_names)
    env = kafka_env(
        postgres_url,
        kafka,
        kafka_names,
        scheduler_lines=",".join(lines_for(30)),
        scheduler_interval_seconds=1,
        scheduler_queued_expiry_cycles=120,  # a 1 s cycle: rebalances must not expire tasks in this test
        kafka_task_partitions=6,  # fewer partitions than workers: two of the eight own none
        kafka_max_poll_interval_ms=3000,
    )
    with services(tmp_path, env) as stack:
        fleet = start_workers(stack, 2)
        stack.start("scheduler")
        await wait_for_fleet(probe, 2)
        fleet += start_workers(stack, 6)

        async def eight_members() -> bool:
            return len(await group_members(settings)) == 8 and len(await probe.live_workers()) == 8

        await eventually(eight_members, timeout=60, message="8 members in the group")
        # Idle members (no partition) poll on: they are still members well past max_poll_interval_ms.
        await asyncio.sleep(10)
        members = await group_members(settings)
        assert len(members) == 8, members
        idle = [w for w in await probe.live_workers() if not w.assigned_partitions]
        assert len(idle) == 2

        for worker in fleet[3:]:
            worker.terminate()
        for worker in fleet[3:]:
            assert await asyncio.to_thread(worker.wait, 60) == 0
        await eventually(lambda: _members_equal(settings, 3), timeout=60, message="3 members in the group")
        done_before = (await probe.task_statuses())["succeeded"]
        await eventually(
            lambda: _succeeded_more_than(probe, done_before + 60), timeout=60, message="tasks done after scaling to 3"
        )
        stack.started[len(fleet)].terminate()  # the scheduler: no new cycles
        await eventually(lambda: _nothing_active(probe), timeout=60, message="every task finished")
        statuses = await probe.task_statuses()
        assert set(statuses) == {"succeeded"}, statuses


async def _members_equal(settings: object, count: int) -> bool:
    return len(await group_members(settings)) == count  # type: ignore[arg-type]


async def _succeeded_more_than(probe: PipelineProbe, count: int) -> bool:
    return (await probe.task_statuses())["succeeded"] >= count


async def _nothing_active(probe: PipelineProbe) -> bool:
    statuses = await probe.task_statuses()
    return statuses["queued"] + statuses["running"] == 0


async def test_broker_restart_mid_run_recovers_without_losing_tasks(
    postgres_url: str, own_kafka: KafkaBroker, kafka_names: dict[str, str], probe: PipelineProbe, tmp_path: Path
) -> None:
    env = kafka_env(
        postgres_url,
        own_kafka,
        kafka_names,
        scheduler_lines=",".join(lines_for(20)),
        scheduler_interval_seconds=2,
        scheduler_queued_expiry_cycles=100,
    )
    with services(tmp_path, env) as stack:
        start_workers(stack, 3)
        await wait_for_fleet(probe, 3)
        scheduler = stack.start("scheduler")
        await eventually(lambda: _succeeded_more_than(probe, 20), timeout=60, message="work before the restart")

        await asyncio.to_thread(own_kafka.stop)
        await asyncio.sleep(5)
        await asyncio.to_thread(own_kafka.start)
        after_restart = (await probe.task_statuses())["succeeded"]
        await eventually(
            lambda: _succeeded_more_than(probe, after_restart + 40), timeout=120, message="work after the restart"
        )
        scheduler.terminate()
        await eventually(lambda: _nothing_active(probe), timeout=90, message="every task finished")
        statuses = await probe.task_statuses()
        assert set(statuses) == {"succeeded"}, statuses
        assert all(w.status in ("idle", "busy") for w in await probe.workers())


async def test_the_task_topic_is_created_and_grown_never_auto_created(
    postgres_url: str, kafka: KafkaBroker, kafka_names: dict[str, str]
) -> None:
    from backend.bus.kafka import ensure_topic

    settings = settings_for(postgres_url, kafka_bootstrap_servers=kafka.bootstrap, **kafka_names)
    assert await ensure_topic(settings.model_copy(update={"kafka_task_partitions": 3})) == 3
    assert await ensure_topic(settings.model_copy(update={"kafka_task_partitions": 3})) == 3
    assert await ensure_topic(settings.model_copy(update={"kafka_task_partitions": 8})) == 8
    # Kafka cannot shrink a topic: a smaller setting keeps what exists (and says so in the log).
    assert await ensure_topic(settings.model_copy(update={"kafka_task_partitions": 4})) == 8
