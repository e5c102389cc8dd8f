"""The same pipeline without a broker: the database-backed queue, on SQLite and on Postgres, real processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backend.tests.pipeline.probe import PipelineProbe, lines_for
from backend.tests.support.pipeline import slow_fleet_with_a_running_task
from backend.tests.support.processes import eventually, service_env, services


async def test_workers_share_the_database_queue_exactly_once(database_url: str, tmp_path: Path) -> None:
    probe = PipelineProbe(database_url)
    env = service_env(
        database_url=database_url, scheduler_lines=",".join(lines_for(30)), scheduler_interval_seconds=3600
    )
    try:
        with services(tmp_path, env) as stack:
            for _ in range(3):
                stack.start("worker", "--fetcher", "none")
            await eventually(lambda: _live(probe, 3), timeout=60, message="3 live workers")
            stack.start("scheduler")
            assert await eventually(lambda: probe.all_succeeded(30), timeout=60, message="30 succeeded")

            async def reported() -> int | None:
                total = sum(w.processed_count for w in await probe.live_workers())
                return total if total >= 30 else None

            assert await eventually(reported, timeout=10, message="completions reported") == 30
            assert {t.attempt for t in await probe.tasks()} == {1}
    finally:
        await probe.close()


async def test_worker_killed_mid_task_on_the_database_queue_is_requeued_and_completed(
    database_url: str, tmp_path: Path
) -> None:
    probe = PipelineProbe(database_url)
    lines = ["metro:1", "metro:9", "rer:A"]
    try:
        with services(tmp_path, service_env(database_url=database_url, scheduler_interval_seconds=3600)) as stack:
            victim_id, victim = await slow_fleet_with_a_running_task(stack, probe, lines, 2, kafka=False)
            victim.kill()

            assert await eventually(lambda: probe.all_succeeded(3), timeout=120, message="3 succeeded")
            taken_over = [t for t in await probe.tasks() if t.attempt > 1]
            assert taken_over
            assert all(t.worker_id != victim_id for t in taken_over)
    finally:
        await probe.close()


async def test_worker_stopped_mid_task_on_the_database_queue_finishes_it(database_url: str, tmp_path: Path) -> None:
    probe = PipelineProbe(database_url)
    try:
        with services(tmp_path, service_env(database_url=database_url, scheduler_interval_seconds=3600)) as stack:
            _, worker = await slow_fleet_with_a_running_task(stack, probe, ["metro:1", "metro:2"], 1, kafka=False)
            worker.terminate()
            assert await asyncio.to_thread(worker.wait, 90) == 0
            tasks = await probe.tasks()
            assert [t.status for t in tasks if t.worker_id is not None and t.status != "queued"] != []
            assert all(t.status in ("succeeded", "queued") for t in tasks), [(t.status, t.error) for t in tasks]
            assert (await probe.workers())[0].status == "stopped"
            # A fresh worker takes what is left.
            stack.start("worker")
            assert await eventually(lambda: probe.all_succeeded(2), timeout=90, message="2 succeeded")
    finally:
        await probe.close()


async def _live(probe: PipelineProbe, count: int) -> bool:
    return len(await probe.live_workers()) == count
