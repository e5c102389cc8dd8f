#!/usr/bin/env python3
"""Benchmark of the task pipeline: scheduler -> Kafka -> workers -> database, with real processes.

Prints:
1. throughput (tasks/s) with no upstream work (`--fetcher none`) for 1, 4 and 16 workers, and the per-task
   overhead p50/p99 (queue wait: scheduled -> started; processing: started -> finished; end to end);
2. the time to drain one full-catalogue cycle with live fetches against the stub upstream at 100 ms latency, beside
   the ideal (upstream requests x latency / total upstream concurrency).

Uses TEST_DATABASE_URL / TEST_KAFKA_BOOTSTRAP_SERVERS when set, otherwise starts a throwaway PostgreSQL and Kafka.
Run: backend/venv/bin/python scripts/bench_pipeline.py [--workers 1,4,16] [--cycles 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from backend.catalogue import get_catalogue  # noqa: E402
from backend.db.models import TaskRun  # noqa: E402
from backend.scheduler.cycle import run_cycle  # noqa: E402
from backend.tests.pipeline.probe import PipelineProbe  # noqa: E402
from backend.tests.support.databases import PostgresDatabases, settings_for  # noqa: E402
from backend.tests.support.processes import Services, eventually, service_env  # noqa: E402
from backend.tests.support.services import free_port, kafka_broker, postgres_server  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wait_fleet(probe: PipelineProbe, count: int, kafka: bool) -> None:
    async def ready() -> bool:
        live = await probe.live_workers()
        return len(live) == count and (not kafka or all(w.assigned_partitions for w in live))

    await eventually(ready, timeout=180, message=f"{count} workers ready")


async def drained(probe: PipelineProbe) -> bool:
    statuses = await probe.task_statuses()
    return statuses["queued"] + statuses["running"] == 0 and sum(statuses.values()) > 0


async def bench_throughput(server_url: str, bootstrap: str, workers: int, cycles: int, log_dir: Path) -> dict:
    databases = PostgresDatabases(server_url)
    url = await databases.create()
    suffix = uuid.uuid4().hex[:8]
    lines = [line.id for line in get_catalogue().lines]
    env = service_env(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_task_topic=f"bench-{suffix}",
        kafka_consumer_group=f"bench-{suffix}",
        scheduler_interval_seconds=86400,
        scheduler_lines="metro:1",  # the scheduler process only relays; the benchmark queues the cycles itself
        log_level="WARNING",
    )
    settings = settings_for(url, kafka_bootstrap_servers=bootstrap, scheduler_lines=",".join(lines))
    probe = PipelineProbe(url)
    stack = Services(log_dir, env)
    try:
        for _ in range(workers):
            stack.start("worker", "--fetcher", "none")
        stack.start("scheduler")
        await wait_fleet(probe, workers, kafka=True)
        await eventually(lambda: drained(probe), timeout=60, message="the scheduler's first cycle")
        async with probe.database.write_sessions() as session, session.begin():
            await session.execute(TaskRun.__table__.delete())
        started = time.perf_counter()
        for _ in range(cycles):
            await run_cycle(probe.database, settings, trigger="manual", requested_by="bench")
            await eventually(lambda: drained(probe), timeout=300, interval=0.05, message="cycle drained")
        elapsed = time.perf_counter() - started
        async with probe.database.sessions() as session:
            rows = list((await session.execute(select(TaskRun))).scalars())
        assert all(r.status == "succeeded" for r in rows), {r.status for r in rows}
        wait = [(r.started_at - r.scheduled_at).total_seconds() * 1000 for r in rows if r.started_at]
        work = [(r.finished_at - r.started_at).total_seconds() * 1000 for r in rows if r.finished_at and r.started_at]
        total = [(r.finished_at - r.scheduled_at).total_seconds() * 1000 for r in rows if r.finished_at]
        return {
            "workers": workers,
            "tasks": len(rows),
            "seconds": elapsed,
            "tasks_per_s": len(rows) / elapsed,
            "wait": (percentile(wait, 0.5), percentile(wait, 0.99)),
            "work": (percentile(work, 0.5), percentile(work, 0.99)),
            "total": (percentile(total, 0.5), percentile(total, 0.99)),
        }
    finally:
        stack.stop_all()
        await probe.close()
        await databases.drop(url)
        await databases.close()


async def bench_full_cycle(server_url: str, bootstrap: str, workers: int, latency_ms: int, log_dir: Path) -> dict:
    databases = PostgresDatabases(server_url)
    url = await databases.create()
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_task_topic=f"cycle-{suffix}",
        kafka_consumer_group=f"cycle-{suffix}",
        scheduler_interval_seconds=86400,
        prim_api_key="stub",
        prim_base_url=f"{base}/marketplace",
        ratp_base_url=base,
        vmtr_socket_url=f"ws://127.0.0.1:{port}/socket.io/",
        vmtr_socket_enabled="true",
        playwright_seeding_enabled="false",
        log_level="WARNING",
    )
    probe = PipelineProbe(url)
    stack = Services(log_dir, env)
    settings = settings_for(url, kafka_bootstrap_servers=bootstrap)
    try:
        stack.start("upstream", "--port", str(port), "--latency-ms", str(latency_ms))
        async with httpx.AsyncClient(base_url=base) as client:
            await eventually(lambda: _answers(client), timeout=30, message="stub upstream")
            for _ in range(workers):
                stack.start("worker")
            await wait_fleet(probe, workers, kafka=True)
            # A first cycle warms each worker (stop ids resolved once per process); the measured one is the next.
            stack.start("scheduler")
            await eventually(lambda: drained(probe), timeout=600, message="warm-up cycle")
            await client.post("/__stub/stats/reset")
            started = time.perf_counter()
            run = await run_cycle(probe.database, settings, trigger="manual", requested_by="bench")
            await eventually(lambda: drained(probe), timeout=600, interval=0.05, message="measured cycle")
            elapsed = time.perf_counter() - started
            stats = (await client.get("/__stub/stats")).json()
        requests = sum(stats.get("requests_by_source", {}).values()) or sum(stats.get("requests", {}).values())
        statuses = await probe.task_statuses()
        concurrency = workers * settings.upstream_max_concurrency
        return {
            "workers": workers,
            "lines": run.lines_total,
            "statuses": dict(statuses),
            "seconds": elapsed,
            "requests": requests,
            "by_source": stats.get("requests_by_source", {}),
            "concurrency": concurrency,
            "ideal": requests * latency_ms / 1000 / concurrency,
        }
    finally:
        stack.stop_all()
        await probe.close()
        await databases.drop(url)
        await databases.close()


async def _answers(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get("/__stub/stats")).status_code == 200
    return False


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,4,16")
    parser.add_argument("--cycles", type=int, default=4, help="full-catalogue cycles per throughput run")
    parser.add_argument("--cycle-workers", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    with postgres_server() as server_url, kafka_broker() as broker:
        print(f"pipeline benchmark (logs: {log_dir}); PostgreSQL + Kafka on loopback, 2 CPU cores shared by all")
        print("\n1. no upstream work (--fetcher none): scheduler -> Kafka -> worker -> database")
        print(
            f"{'workers':>8} {'tasks':>6} {'tasks/s':>8}   {'wait p50/p99 ms':>16}   {'work p50/p99 ms':>16}"
            f"   {'end-to-end p50/p99 ms':>22}"
        )
        for count in (int(n) for n in args.workers.split(",")):
            r = await bench_throughput(server_url, broker.bootstrap, count, args.cycles, log_dir)
            wait, work, total = r["wait"], r["work"], r["total"]
            print(
                f"{r['workers']:>8} {r['tasks']:>6} {r['tasks_per_s']:>8.1f}   {wait[0]:>7.1f}/{wait[1]:<8.1f}"
                f"   {work[0]:>7.1f}/{work[1]:<8.1f}   {total[0]:>10.1f}/{total[1]:<10.1f}"
            )
        print(f"\n2. one full-catalogue cycle, live fetches, stub upstream at {args.latency_ms} ms per request")
        r = await bench_full_cycle(server_url, broker.bootstrap, args.cycle_workers, args.latency_ms, log_dir)
        print(
            f"   {r['lines']} lines, {r['workers']} workers: drained in {r['seconds']:.2f} s; "
            f"task outcomes (warm-up + measured cycle) {r['statuses']}"
        )
        print(f"   upstream requests {r['requests']} {r['by_source']}")
        print(
            f"   ideal = {r['requests']} requests x {args.latency_ms} ms / {r['concurrency']} concurrent "
            f"({r['workers']} workers x UPSTREAM_MAX_CONCURRENCY) = {r['ideal']:.2f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
