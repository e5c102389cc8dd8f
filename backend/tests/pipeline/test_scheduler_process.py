"""The scheduler process: clear startup errors, and failed fetches retried then failed with their reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import eventually, service_env, services


async def test_an_unknown_line_in_scheduler_lines_is_a_clear_startup_error(sqlite_url: str, tmp_path: Path) -> None:
    with services(tmp_path, service_env(database_url=sqlite_url, scheduler_lines="metro:1,metro:99,rer:Z")) as stack:
        scheduler = stack.start("scheduler")
        assert await asyncio.to_thread(scheduler.wait, 60) == 2
        output = scheduler.output()
    assert "SCHEDULER_LINES" in output
    assert "metro:99" in output
    assert "rer:Z" in output
    assert "Traceback" not in output


async def test_a_line_whose_sources_all_fail_is_retried_then_failed_with_the_reason(
    sqlite_url: str, tmp_path: Path
) -> None:
    probe = PipelineProbe(sqlite_url)
    env = service_env(database_url=sqlite_url, scheduler_interval_seconds=3600, task_max_attempts=3)
    try:
        with services(tmp_path, env) as stack:
            port = await start_stub(stack, latency_ms=0)
            async with httpx.AsyncClient() as client:
                for source in ("prim", "ratp"):
                    response = await client.post(
                        f"http://127.0.0.1:{port}/__stub/faults", json={"source": source, "kind": "server_error"}
                    )
                    assert response.status_code < 300, response.text
            configure(stack, **stub_env(port), scheduler_lines="metro:2")
            stack.start("worker")
            stack.start("scheduler")

            async def finished() -> list | None:  # type: ignore[type-arg]
                rows = await probe.tasks()
                return rows if rows and all(t.status in ("succeeded", "failed") for t in rows) else None

            (task,) = await eventually(finished, timeout=90, message="the task to finish")
            assert task.status == "failed"
            assert task.attempt == 3
            assert task.error is not None
            assert task.error.startswith("failed after 3 attempts")
    finally:
        await probe.close()


async def test_scheduler_and_worker_logs_land_in_system_logs(sqlite_url: str, tmp_path: Path) -> None:
    from sqlalchemy import select

    from backend.db.models import SystemLog

    probe = PipelineProbe(sqlite_url)
    env = service_env(
        database_url=sqlite_url,
        scheduler_interval_seconds=3600,
        scheduler_lines="metro:1,rer:A",
        centralized_logging_enabled="true",
    )
    try:
        with services(tmp_path, env) as stack:
            worker = stack.start("worker", "--fetcher", "none")
            scheduler = stack.start("scheduler")
            await eventually(lambda: probe.all_succeeded(2), timeout=60, message="2 succeeded")
            worker.stop()
            scheduler.stop()
        async with probe.database.sessions() as session:
            rows = list((await session.execute(select(SystemLog))).scalars())
        services_seen = {row.service for row in rows}
        assert {"scheduler", "worker"} <= services_seen
        completions = [r for r in rows if r.service == "worker" and "succeeded" in r.message]
        assert {r.extra.get("line_id") for r in completions} == {"metro:1", "rer:A"}
        assert all(r.extra.get("task_id") for r in completions)
    finally:
        await probe.close()
