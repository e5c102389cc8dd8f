#!/usr/bin/env python3
"""Benchmark of the task pipeline: scheduler -> Kafka -> workers -> database, with real processes.

Prints:
1. throughput (tasks/s) with no upstream work (`--fetcher none`) for each worker count (default 4), the per-task
   overhead p50/p99 (queue wait: scheduled -> started; processing: started -> finished; end to end) and the resident
   memory of one idle worker; beside it, when `redis-server` (Debian: apt-get install -y redis-server) and `celery`
   (backend/requirements-bench.txt) are installed, the same number of tasks through Celery 5 on Redis, prefork
   with as many processes, one Postgres INSERT per task on the same server, and the ratio of the two (each side
   timed by the database's own timestamps: from a cycle's queueing to its last task's end, from the first Celery
   send to its last row, so that the benchmark's polling is counted on neither side);
2. the time to drain one full-catalogue cycle with live fetches against the stub upstream at 100 ms latency, on a
   fresh fleet (no upstream answer cached, and no stop id learnt at run time unless --warm), beside the ideal (the
   largest of the bounds the concurrency limits set: the slowest line's fan-out, the fleet's slots, PRIM's pacing;
   see `ideal_drain`) and their ratio, the slowest fetches, the load average, the CPU time of each process (and of
   PostgreSQL and Kafka) and the database transactions; then the same fleet's next cycles (3 by default,
   --later-cycles), each once every answer it cached has expired: what every later cycle costs, their median ratio
   the figure to quote (one cycle on a shared 2-core machine moves by a third from run to run).

Uses TEST_DATABASE_URL / TEST_KAFKA_BOOTSTRAP_SERVERS when set, otherwise starts a throwaway PostgreSQL and Kafka.
Run: backend/venv/bin/python scripts/bench_pipeline.py [--workers 4] [--cycles 4]
     backend/venv/bin/python scripts/bench_pipeline.py --skip-throughput --cycle-workers 4 [--warm]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The fleet's own timings (the defaults of .env.example), not the tests' quick ones: a worker heartbeat every 0.5 s
# and a Kafka heartbeat every 500 ms cost 16 workers a transaction and a broker request each, several times a second.
PRODUCT_TIMINGS = {
    "worker_heartbeat_seconds": 5.0,
    "worker_lost_after_seconds": 30.0,
    "kafka_session_timeout_ms": 10_000,
    "kafka_heartbeat_interval_ms": 3_000,
    "task_retry_backoff_seconds": 5.0,
}
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from backend.budget.plan import PER_SECOND_USE  # noqa: E402
from backend.catalogue import get_catalogue  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.db.engine import Database  # noqa: E402
from backend.db.models import LineStopLookup, LineStopRef, SchedulerRun, TaskRun  # noqa: E402
from backend.livedata.catalogue_sync import sync_catalogue  # noqa: E402
from backend.services.live_data import error_cache_seconds  # noqa: E402
from backend.tasks.cycle import run_cycle  # noqa: E402
from backend.tests.pipeline.probe import PipelineProbe  # noqa: E402
from backend.tests.support.databases import PostgresDatabases, settings_for  # noqa: E402
from backend.tests.support.machine import machine_speed  # noqa: E402
from backend.tests.support.processes import ServiceProcess, Services, eventually, service_env  # noqa: E402
from backend.tests.support.services import free_port, kafka_broker, postgres_server  # noqa: E402


def resident_mib(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MiB; 0 when unknown."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), seconds; 0 when unknown."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return _stat_cpu(Path(f"/proc/{pid}/stat").read_text())
    return 0.0


def cpu_by_command() -> Counter[str]:
    """CPU seconds so far of every process on the machine, summed by command name (postgres, java, python3...)."""
    seconds: Counter[str] = Counter()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            seconds[text[text.index("(") + 1 : text.rindex(")")]] += _stat_cpu(text)
    return seconds


def _stat_cpu(stat: str) -> float:
    """User + system CPU seconds in the text of a /proc/<pid>/stat (the fields after the command's closing ")")."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the machine spent busy so far, all cores (Linux /proc/stat: everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


async def transactions(database: Database) -> int:
    """Transactions committed or rolled back in this database so far (PostgreSQL's statistics)."""
    async with database.sessions() as session:
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = await session.execute(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        )
        return int(row.scalar_one())


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


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
        **PRODUCT_TIMINGS,
    )
    settings = settings_for(url, kafka_bootstrap_servers=bootstrap, scheduler_lines=",".join(lines))
    probe = PipelineProbe(url)
    stack = Services(log_dir, env)
    try:
        fleet = [stack.start("worker", "--fetcher", "none") for _ in range(workers)]
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
        await asyncio.sleep(1.0)  # the fleet idles again
        worker_mib = resident_mib(fleet[0].pid)
        async with probe.database.sessions() as session:
            rows = list((await session.execute(select(TaskRun))).scalars())
        assert all(r.status == "succeeded" for r in rows), {r.status for r in rows}
        # The pipeline's time: per cycle, from its queueing to its last task finished (server-side timestamps), so
        # that the benchmark's own polling for "drained" between cycles is not counted; the Celery peer is timed
        # the same way (first send to its last row's timestamp).
        cycles_of: dict[int | None, list[TaskRun]] = {}
        for row in rows:
            cycles_of.setdefault(row.scheduler_run_id, []).append(row)
        busy = sum(
            (max(r.finished_at for r in runs if r.finished_at) - min(r.scheduled_at for r in runs)).total_seconds()
            for runs in cycles_of.values()
        )
        wait = [(r.started_at - r.scheduled_at).total_seconds() * 1000 for r in rows if r.started_at]
        work = [(r.finished_at - r.started_at).total_seconds() * 1000 for r in rows if r.finished_at and r.started_at]
        total = [(r.finished_at - r.scheduled_at).total_seconds() * 1000 for r in rows if r.finished_at]
        return {
            "workers": workers,
            "tasks": len(rows),
            "seconds": busy,
            "tasks_per_s": len(rows) / busy,
            "wall_tasks_per_s": len(rows) / elapsed,
            "wait": (percentile(wait, 0.5), percentile(wait, 0.99)),
            "work": (percentile(work, 0.5), percentile(work, 0.99)),
            "total": (percentile(total, 0.5), percentile(total, 0.99)),
            "worker_mib": worker_mib,
        }
    finally:
        stack.stop_all()
        await probe.close()
        await databases.drop(url)
        await databases.close()


def celery_available() -> bool:
    try:
        import celery  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return shutil.which("redis-server") is not None


async def bench_celery(server_url: str, workers: int, tasks: int, log_dir: Path) -> dict:
    """`tasks` no-op tasks through Celery 5 on Redis, prefork with `workers` processes, one INSERT each, timed from
    the first send to the last row."""
    databases = PostgresDatabases(server_url)
    url = await databases.create()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    redis_port = free_port()
    redis = start_process(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        log_dir / "redis.log",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "scripts"),
        "CELERY_PEER_BROKER": f"redis://127.0.0.1:{redis_port}/0",
        "CELERY_PEER_DSN": dsn,
    }
    celery_bin = str(Path(sys.executable).parent / "celery")
    worker: subprocess.Popen[bytes] | None = None
    probe = PipelineProbe(url)
    try:
        await eventually(lambda: _accepts(redis_port), timeout=60, message="redis-server")
        async with probe.database.write_sessions() as session, session.begin():
            await session.execute(text(CELERY_TABLE_DDL))
        worker = start_process(
            [
                celery_bin,
                "-A",
                "celery_peer",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(workers),
                *CELERY_WORKER_OPTIONS,
            ],
            log_dir / "celery.log",
            env=env,
            cwd=REPO / "scripts",
        )
        from celery import Celery  # benchmark-only dependency (backend/requirements-bench.txt)

        producer = Celery("celery_peer_producer", broker=env["CELERY_PEER_BROKER"])  # a fresh one per round

        def send(task_id: str) -> None:
            producer.send_task("celery_peer.record", args=[task_id], ignore_result=True)

        async def rows() -> int:
            async with probe.database.sessions() as session:
                return int((await session.execute(text("SELECT count(*) FROM celery_peer_tasks"))).scalar_one())

        send("warm-up")
        await eventually(lambda: rows(), timeout=120, message="the Celery peer's first task")
        started_at = datetime.now(UTC)
        await asyncio.to_thread(lambda: [send(f"task-{n}") for n in range(tasks)])
        await eventually(lambda: _at_least(rows, tasks + 1), timeout=600, interval=0.05, message="Celery drained")
        async with probe.database.sessions() as session:
            last: datetime = (await session.execute(text("SELECT max(done_at) FROM celery_peer_tasks"))).scalar_one()
        elapsed = (last - started_at).total_seconds()
        producer.close()
        return {"tasks": tasks, "seconds": elapsed, "tasks_per_s": tasks / elapsed}
    finally:
        for process in (worker, redis):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        await probe.close()
        await databases.drop(url)
        await databases.close()


CELERY_TABLE_DDL = "CREATE TABLE celery_peer_tasks (task_id text PRIMARY KEY, done_at timestamptz NOT NULL)"
CELERY_WORKER_OPTIONS = ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def start_process(
    command: list[str], log_path: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)


async def _accepts(port: int) -> bool:
    """Whether a server answers a Redis PING on the loopback port."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), timeout=5)).startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def _at_least(count: object, wanted: int) -> bool:
    assert callable(count)
    return bool(await count() >= wanted)


def line_requests(result: dict[str, Any] | None) -> Counter[str]:
    """Upstream requests one task's fetch sent, by source ("prim", "ratp_http", "vmtr"), from its recorded attempts."""
    counts: Counter[str] = Counter()
    for attempt in (result or {}).get("attempts", []):
        counts[str(attempt.get("source", "")).split(":")[0]] += int(attempt.get("requests") or 0)
    return counts


def ideal_drain(
    per_line: dict[str, Counter[str]], workers: int, latency_s: float, settings: Settings, prim_per_second: int | None
) -> dict[str, float]:
    """The shortest drain the concurrency limits allow, with each bound that could set it (seconds):

    - fan-out: the slowest line's requests through its own slots, ceil(n / PRIM_LINE_CONCURRENCY) rounds of PRIM
      (and of ratp.fr with RATP_LINE_CONCURRENCY), one round for the vehicle socket;
    - fleet: every HTTP request over every worker's slots, workers x min(UPSTREAM_MAX_CONCURRENCY,
      WORKER_CONCURRENCY x (PRIM_LINE_CONCURRENCY + RATP_LINE_CONCURRENCY)), and every socket session over
      workers x VMTR_MAX_CONCURRENCY;
    - pacing: every PRIM request at the fleet's shared pace, PER_SECOND_USE x the key's per-second limit.
    """
    fan_out = max(
        (
            max(
                math.ceil(counts["prim"] / settings.prim_line_concurrency),
                math.ceil(counts["ratp_http"] / settings.ratp_line_concurrency),
                1 if counts["vmtr"] else 0,
            )
            * latency_s
            for counts in per_line.values()
        ),
        default=0.0,
    )
    http = sum(counts["prim"] + counts["ratp_http"] for counts in per_line.values())
    sockets = sum(counts["vmtr"] for counts in per_line.values())
    slots = workers * min(
        settings.upstream_max_concurrency,
        settings.worker_concurrency * (settings.prim_line_concurrency + settings.ratp_line_concurrency),
    )
    fleet = max(http * latency_s / slots, sockets * latency_s / (workers * settings.vmtr_max_concurrency))
    prim = sum(counts["prim"] for counts in per_line.values())
    pacing = prim / (PER_SECOND_USE * prim_per_second) if prim_per_second else 0.0
    return {"fan-out": fan_out, "fleet": fleet, "pacing": pacing, "ideal": max(fan_out, fleet, pacing)}


async def forget_stop_ids(database: Database) -> None:
    """The stop ids any worker learnt at run time, as on a fresh install (the catalogue's shipped ids stay)."""
    async with database.write_sessions() as session, session.begin():
        await session.execute(LineStopRef.__table__.delete())
        await session.execute(LineStopLookup.__table__.delete())


async def bench_full_cycle(
    server_url: str, bootstrap: str, workers: int, latency_ms: int, warm: bool, later: int, log_dir: Path
) -> list[dict]:
    """One full-catalogue cycle on a fresh fleet (no upstream answer cached in any process). Cold (the default): no
    stop id learnt at run time either. Warm: the stop ids a first cycle learnt are kept in the database, as on a
    fleet that has run before; the fleet that learnt them is replaced by a fresh one before the measured cycle.
    Then `later` cycles of the same fleet, each once every answer it cached has expired (every later cycle)."""
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
        # The scheduler process relays; its own first cycle fetches one bus line, which the measured cycle of rail
        # lines does not share a stop with. The benchmark queues the measured cycle itself.
        scheduler_lines=next(line.id for line in get_catalogue().lines if not line.has_station_data),
        prim_api_key="stub",
        prim_base_url=f"{base}/marketplace",
        ratp_base_url=base,
        vmtr_socket_url=f"ws://127.0.0.1:{port}/socket.io/",
        vmtr_socket_enabled="true",
        playwright_seeding_enabled="false",
        log_level="WARNING",
        **PRODUCT_TIMINGS,
    )
    probe = PipelineProbe(url)
    stack = Services(log_dir, env)
    settings = settings_for(url, kafka_bootstrap_servers=bootstrap)

    async def cycle() -> tuple[SchedulerRun, float]:
        started = time.perf_counter()
        run = await run_cycle(probe.database, settings, trigger="manual", requested_by="bench")
        await eventually(lambda: drained(probe), timeout=600, interval=0.05, message="cycle drained")
        return run, time.perf_counter() - started

    async def measure(client: httpx.AsyncClient, processes: dict[str, ServiceProcess]) -> dict:
        """One cycle queued and drained, with what it cost: requests, CPU, transactions, the ideal."""
        await client.post("/__stub/stats/reset")
        cpu_before = {name: cpu_seconds(process.pid) for name, process in processes.items()}
        commands_before, busy_before = cpu_by_command(), machine_busy_seconds()
        transactions_before = await transactions(probe.database)
        load_before = load_average()
        run, elapsed = await cycle()
        cpu = {name: cpu_seconds(process.pid) - cpu_before[name] for name, process in processes.items()}
        busy = machine_busy_seconds() - busy_before
        load_after = load_average()
        # Counted after the statistics collector's flush (PostgreSQL 15 flushes a backend's counts within 1 s).
        await asyncio.sleep(1.5)
        committed = await transactions(probe.database) - transactions_before
        commands = cpu_by_command()
        commands.subtract(commands_before)
        stats = (await client.get("/__stub/stats")).json()
        limits = (await client.get("/__stub/limits")).json()
        async with probe.database.sessions() as session:
            measured = [
                row
                for row in (await session.execute(select(TaskRun).where(TaskRun.scheduler_run_id == run.id))).scalars()
                if row.started_at and row.finished_at
            ]
        waits = [(r.started_at - r.scheduled_at).total_seconds() for r in measured]
        per_line = {r.line_id: line_requests(r.result) for r in measured}
        slowest = sorted(measured, key=lambda r: r.finished_at - r.started_at, reverse=True)[:5]
        requests = sum(stats.get("requests_by_source", {}).values()) or sum(stats.get("requests", {}).values())
        worker_cpu = [seconds for name, seconds in cpu.items() if name.startswith("worker")]
        return {
            "workers": workers,
            "warm": warm,
            "lines": run.lines_total,
            "statuses": dict(Counter(r.status for r in measured)),
            "seconds": elapsed,
            "requests": requests,
            "by_source": stats.get("requests_by_source", {}),
            "by_route": {route: n for route, n in stats.get("requests", {}).items() if n},
            "bounds": ideal_drain(per_line, workers, latency_ms / 1000, settings, limits.get("per_second")),
            "prim_per_second": limits.get("per_second"),
            "wait_max": max(waits, default=float("nan")),
            "cpu": {
                "stub": cpu["stub"],
                "scheduler": cpu["scheduler"],
                "workers": sum(worker_cpu),
                "busiest worker": max(worker_cpu, default=0.0),
            },
            "machine": {"busy": busy, "postgres": commands["postgres"], "java (Kafka)": commands["java"]},
            "transactions": committed,
            "load_before": load_before,
            "load_after": load_after,
            "not_succeeded": [
                f"{r.line_id} {r.status}: {(r.error or '')[:160]}" for r in measured if r.status != "succeeded"
            ],
            "slowest": [
                f"{r.line_id} {(r.finished_at - r.started_at).total_seconds():.2f} s "
                f"({(r.result or {}).get('stops_total', '?')} stops, "
                f"{', '.join(f'{n} {source}' for source, n in sorted(per_line[r.line_id].items()) if n)} requests, "
                f"worker {str(r.worker_id)[-6:]})"
                for r in slowest
            ],
        }

    try:
        await sync_catalogue(probe.database)
        upstream = stack.start("upstream", "--port", str(port), "--latency-ms", str(latency_ms))
        async with httpx.AsyncClient(base_url=base) as client:
            await eventually(lambda: _answers(client), timeout=30, message="stub upstream")
            fleet = [stack.start("worker") for _ in range(workers)]
            await wait_fleet(probe, workers, kafka=True)
            scheduler = stack.start("scheduler")
            await eventually(lambda: drained(probe), timeout=600, message="the scheduler's first cycle (one bus line)")
            if warm:
                await cycle()  # learns the stop ids, kept in the database
                for worker in fleet:  # and a fresh fleet forgets every answer it cached
                    worker.stop()
                fleet = [stack.start("worker") for _ in range(workers)]
                await eventually(
                    lambda: _fleet_of(probe, {str(w.pid) for w in fleet}), timeout=180, message="the fresh fleet"
                )
            else:
                await forget_stop_ids(probe.database)
            processes = {"stub": upstream, "scheduler": scheduler, **{f"worker {n}": w for n, w in enumerate(fleet)}}
            results = [await measure(client, processes)]
            for _ in range(later):
                # The same fleet's next cycle, every answer it cached expired: what each later cycle costs.
                await asyncio.sleep(max(settings.prim_stop_cache_seconds, error_cache_seconds(settings)) + 1)
                results.append(await measure(client, processes))
        return results
    finally:
        stack.stop_all()
        await probe.close()
        await databases.drop(url)
        await databases.close()


async def _fleet_of(probe: PipelineProbe, pids: set[str]) -> bool:
    """Whether the live fleet is exactly these processes, each holding partitions (the old ones left the group)."""
    live = await probe.live_workers()
    return {w.id.split("-")[-2] for w in live} == pids and all(w.assigned_partitions for w in live)


async def _answers(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get("/__stub/stats")).status_code == 200
    return False


def print_cycle(r: dict) -> None:
    b = r["bounds"]
    print(
        f"   {r['lines']} lines, {r['workers']} workers: drained in {r['seconds']:.2f} s; outcomes {r['statuses']}"
        f"   (load average {r['load_before']} before, {r['load_after']} after)"
    )
    print(f"   upstream requests {r['requests']} {r['by_source']}; by route {r['by_route']}")
    for line in r["not_succeeded"]:
        print(f"   {line}")
    print(f"   longest queue wait {r['wait_max']:.2f} s; slowest fetches:")
    for line in r["slowest"]:
        print(f"     {line}")
    cpu = r["cpu"]
    print(
        f"   CPU seconds during the drain: workers {cpu['workers']:.1f} (busiest {cpu['busiest worker']:.1f}), "
        f"stub upstream {cpu['stub']:.1f}, scheduler {cpu['scheduler']:.1f}; on {os.cpu_count()} cores the "
        f"drain cannot beat (sum of CPU) / cores, nor the stub's own CPU (one process)"
    )
    machine = r["machine"]
    print(
        f"   the machine was busy {machine['busy']:.1f} CPU s of {os.cpu_count() * r['seconds']:.1f} "
        f"({os.cpu_count()} cores x the drain); PostgreSQL {machine['postgres']:.1f}, "
        f"Kafka {machine['java (Kafka)']:.1f}; {r['transactions']} database transactions"
    )
    print(
        f"   ideal = max(fan-out {b['fan-out']:.2f} s, fleet {b['fleet']:.2f} s, PRIM pacing {b['pacing']:.2f} s) "
        f"= {b['ideal']:.2f} s"
    )
    print(
        "     fan-out: slowest line, ceil(its PRIM requests / PRIM_LINE_CONCURRENCY) (and ratp.fr's / "
        "RATP_LINE_CONCURRENCY) x latency;"
    )
    print(
        "     fleet: HTTP requests x latency / (workers x min(UPSTREAM_MAX_CONCURRENCY, WORKER_CONCURRENCY x "
        "(PRIM_LINE_CONCURRENCY + RATP_LINE_CONCURRENCY))), sockets likewise over VMTR_MAX_CONCURRENCY;"
    )
    print(f"     pacing: PRIM requests / ({PER_SECOND_USE} x the key's {r['prim_per_second']}/s), shared by the fleet")
    print(f"   ratio {r['seconds'] / b['ideal']:.2f}x the ideal (goal <= 1.3x)")


def print_cycle_result(results: list[dict]) -> None:
    """The cycle's figures to quote: the fresh fleet's first cycle, and the median of the later ones."""
    ratios = [r["seconds"] / r["bounds"]["ideal"] for r in results]
    first = results[0]
    print(
        f"\nRESULT full-catalogue cycle, {first['workers']} workers: the fresh fleet's first cycle drained in "
        f"{first['seconds']:.2f} s, {ratios[0]:.2f}x the ideal of {first['bounds']['ideal']:.2f} s"
    )
    if len(results) > 1:
        later = ratios[1:]
        median = statistics.median(later)
        drains = ", ".join(f"{r['seconds']:.2f}" for r in results[1:])
        print(
            f"RESULT its later cycles, every cached answer expired: drained in {drains} s, "
            f"{', '.join(f'{x:.2f}x' for x in later)} the ideal: median {median:.2f}x "
            f"(goal <= 1.3x: {'met' if median <= 1.3 else 'NOT met'})"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="4")
    parser.add_argument("--cycles", type=int, default=4, help="full-catalogue cycles per throughput run")
    parser.add_argument("--cycle-workers", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of the pipeline and the Celery peer")
    parser.add_argument("--skip-cycle", action="store_true", help="only the throughput figures")
    parser.add_argument("--skip-throughput", action="store_true", help="only the full-catalogue cycle")
    parser.add_argument(
        "--later-cycles",
        type=int,
        default=3,
        help="cycle: the same fleet's next cycles to measure, each once its cached answers expired (0: none)",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="cycle: keep the stop ids a first cycle learnt (in the database) instead of starting with none",
    )
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    with postgres_server() as server_url, kafka_broker() as broker:
        print(f"pipeline benchmark (logs: {log_dir}); PostgreSQL + Kafka on loopback, {os.cpu_count()} CPU cores")
        print(f"load average before the run: {load_average()}; machine speed: {machine_speed()}")
        peer = celery_available()
        if not peer:
            print("(no Celery peer: install redis-server and backend/requirements-bench.txt to measure it)")
        print("\n1. no upstream work (--fetcher none): scheduler -> Kafka -> worker -> database")
        print(
            f"{'workers':>8} {'tasks':>6} {'tasks/s':>8}   {'wait p50/p99 ms':>16}   {'work p50/p99 ms':>16}"
            f"   {'end-to-end p50/p99 ms':>22}   {'idle worker RSS':>15}"
        )
        for count in (int(n) for n in args.workers.split(",") if not args.skip_throughput):
            ours: list[float] = []
            theirs: list[float] = []
            idle_mib: list[float] = []
            # Alternated rounds: on a shared machine the load moves between runs; each round gives a ratio.
            for _ in range(args.rounds):
                r = await bench_throughput(server_url, broker.bootstrap, count, args.cycles, log_dir)
                wait, work, total = r["wait"], r["work"], r["total"]
                ours.append(r["tasks_per_s"])
                idle_mib.append(r["worker_mib"])
                print(
                    f"{r['workers']:>8} {r['tasks']:>6} {r['tasks_per_s']:>8.1f}   {wait[0]:>7.1f}/{wait[1]:<8.1f}"
                    f"   {work[0]:>7.1f}/{work[1]:<8.1f}   {total[0]:>10.1f}/{total[1]:<10.1f}"
                    f"   {r['worker_mib']:>11.0f} MiB   ({r['wall_tasks_per_s']:.1f} tasks/s counting the benchmark's "
                    f"polling between cycles; load {load_average()})"
                )
                if peer:
                    c = await bench_celery(server_url, count, r["tasks"], log_dir)
                    theirs.append(c["tasks_per_s"])
                    print(
                        f"{'':>8} Celery 5 + Redis, prefork {count}, one INSERT per task: {c['tasks']} tasks, "
                        f"{c['tasks_per_s']:.1f} tasks/s   (load {load_average()})"
                    )
            if theirs:
                # Each round's ratio compares two runs taken seconds apart, under about the same load.
                ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
                median = statistics.median(ratios)
                print(
                    f"RESULT pipeline, {count} workers vs Celery + Redis prefork {count}: median {median:.2f}x "
                    f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}), best {max(ours) / max(theirs):.2f}x over "
                    f"{args.rounds} alternated rounds (goal >= 1.0x: {'met' if median >= 1.0 else 'NOT met'}); "
                    f"load average {load_average()}"
                )
            worst_mib = max(idle_mib, default=0.0)
            print(
                f"RESULT idle worker resident memory: {worst_mib:.0f} MiB = {worst_mib * 1.048576:.0f} MB at most "
                f"(goal < 120 MB: {'met' if worst_mib * 1.048576 < 120 else 'NOT met'})"
            )
        print(f"load average: {load_average()}")
        if args.skip_cycle:
            return
        state = "warm: stop ids a first cycle learnt kept in the database" if args.warm else "cold: nothing cached"
        print(
            f"\n2. one full-catalogue cycle, live fetches, stub upstream at {args.latency_ms} ms per request, "
            f"fresh fleet ({state}); machine speed: {machine_speed()}"
        )
        results = await bench_full_cycle(
            server_url, broker.bootstrap, args.cycle_workers, args.latency_ms, args.warm, args.later_cycles, log_dir
        )
        for n, r in enumerate(results):
            label = "the fresh fleet's first cycle" if n == 0 else f"later cycle {n}, every cached answer expired"
            print(f"\n   {label}:")
            print_cycle(r)
        print_cycle_result(results)
        print(f"load average: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
