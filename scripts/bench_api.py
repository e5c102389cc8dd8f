"""Benchmark of the public API: requests/s and p50/p99 latency of `GET /api/lines/metro/1`, `GET /api/lines` and
`GET /api/stations/chatelet` under concurrent load, next to `GET /api/meta` of the same app (static bytes: what the
framework and the network cost on their own), each as a ratio of /api/meta's requests/s in the same round (the
rounds alternate the endpoints; the last lines give the median and best ratio against the goal), with the load
average and the API process's resident memory.

    cd backend && PYTHONPATH=.. venv/bin/python ../scripts/bench_api.py [--server URL] [--concurrency N] [--seconds S]

The dataset is realistic: the whole catalogue synced (every line's stations), about 4 departures per station and
direction on every line, traffic and freshness for every line, and a few trains on metro 1. It lives in a fresh
database on the Postgres server `--server` (default: $TEST_DATABASE_URL, else a throwaway server started with
`scripts/postgres.sh` on a free port), dropped at the end. The API runs as a real uvicorn process (one worker) on a
free loopback port; the load comes from `wrk` when it is installed (`apt-get install wrk`), else from httpx async
clients in this process, on the same machine. Beside requests/s and latency it prints the API process's CPU time
per request (from /proc), which says what a request costs even when the load generator and the database share the
CPUs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

# Runnable from anywhere: backend/venv/bin/python scripts/<this file>.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.catalogue import get_catalogue
from backend.clock import utcnow
from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import Departure, LineSnapshot, TrafficStatus, VehiclePosition
from backend.livedata.catalogue_sync import sync_catalogue
from backend.tests.support.databases import PostgresDatabases
from backend.tests.support.machine import machine_speed
from backend.tests.support.services import free_port, postgres_server

REPO_DIR = Path(__file__).resolve().parents[1]
DEPARTURES_PER_BOARD = 4
# One load thread: 64 connections need a fraction of a core from wrk, and a second thread only takes CPU from the
# server on a 2-core machine.
WRK_THREADS = 1
REFERENCE = "/api/meta"
# The rider reads measured against the reference, with their goals (issue 13).
RIDER_READS = ("/api/lines/metro/1", "/api/lines", "/api/stations/chatelet")
RATIO_GOAL = 0.5
P99_GOAL_MS = {"/api/lines/metro/1": 50.0}


def bench_settings(url: str) -> Settings:
    values: dict[str, Any] = {"environment": "test", "database_url": url, "system_api_token": "bench"}
    return Settings(_env_file=None, **values)


async def seed(url: str) -> int:
    """Fill the database like a running fleet would; returns the number of departures written."""
    database = Database(bench_settings(url), "bench-seed")
    catalogue = get_catalogue()
    now = utcnow()
    try:
        await sync_catalogue(database)
        departures = []
        for line in catalogue.lines:
            for place in catalogue.stations_for(line.id):
                for n in range(DEPARTURES_PER_BOARD):
                    expected = now + timedelta(minutes=2 + 4 * n + place.position % 3)
                    departures.append(
                        Departure(
                            line_id=line.id,
                            station_id=place.station.id,
                            direction=place.direction,
                            destination="Terminus",
                            expected_at=expected,
                            aimed_at=expected,
                            status="on_time",
                            is_realtime=True,
                            vehicle_at_stop=False,
                            source="prim",
                            fetched_at=now,
                        )
                    )
        async with database.write_sessions() as session, session.begin():
            session.add_all(departures)
            session.add_all(
                LineSnapshot(
                    line_id=line.id,
                    status="ok",
                    source="prim",
                    fetched_at=now,
                    last_success_at=now,
                    departures_count=0,
                    positions_count=0,
                    attempts=[
                        {
                            "source": "prim",
                            "ok": True,
                            "error": None,
                            "duration_ms": 900.0,
                            "requests": 30,
                            "items": 200,
                        }
                    ],
                )
                for line in catalogue.lines
            )
            session.add_all(
                TrafficStatus(line_id=line.id, level="normal", message=None, source="prim", updated_at=now)
                for line in catalogue.lines
            )
            session.add_all(
                VehiclePosition(
                    line_id="metro:1",
                    vehicle_id=f"MF19-{i}",
                    direction="A" if i % 2 else "R",
                    previous_station_id="chatelet",
                    next_station_id="louvre-rivoli",
                    progress=0.5,
                    stop_status="in_transit",
                    recorded_at=now,
                    source="vmtr",
                    fetched_at=now,
                )
                for i in range(12)
            )
        return len(departures)
    finally:
        await database.dispose()


def start_api(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_DIR),
        "ENVIRONMENT": "test",
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "SYSTEM_API_TOKEN": "bench-key",
        "CENTRALIZED_LOGGING_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "backend.main:app", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen([*command, "--no-access-log"], env=env, cwd=REPO_DIR / "backend")


async def wait_ready(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/api/lines/metro/1")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the API at {base_url} did not answer within {timeout:g} s")


_WRK_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


async def load_with_wrk(base_url: str, path: str, *, concurrency: int, seconds: float) -> dict[str, float]:
    """wrk's figures for `concurrency` connections on `path` for `seconds`; latencies in milliseconds."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "30s", "--latency"]
    command.append(base_url + path)
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    output = (await process.communicate())[0].decode()
    latency = {q: float(value) * _WRK_UNITS[unit] for q, value, unit in _WRK_LATENCY.findall(output)}
    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (requests and rps and "50" in latency and "99" in latency):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return {
        "requests": float(requests.group(1)),
        "errors": float(errors),
        "rps": float(rps.group(1)),
        "p50": latency["50"],
        "p99": latency["99"],
    }


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_mib(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MiB; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def load(base_url: str, path: str, *, concurrency: int, seconds: float) -> dict[str, float]:
    """`concurrency` clients requesting `path` back to back for `seconds`; latencies in milliseconds."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        for _ in range(concurrency):  # warm the connections and the server's caches
            await client.get(path)
        stop_at = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await client.get(path)
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": quantiles[49],
        "p99": quantiles[98],
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server", default=None, help="a Postgres server URL (default: $TEST_DATABASE_URL, else a throwaway one)"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of every endpoint")
    parser.add_argument("--httpx", action="store_true", help="drive the load with httpx even when wrk is installed")
    args = parser.parse_args()

    if args.server is not None:
        return await run(args, args.server)
    with postgres_server() as server_url:  # $TEST_DATABASE_URL, else a throwaway server
        return await run(args, server_url)


async def run(args: argparse.Namespace, server_url: str) -> int:
    databases = PostgresDatabases(server_url)
    url = await databases.create()
    api: subprocess.Popen[bytes] | None = None
    try:
        departures = await seed(url)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        api = start_api(url, port)
        await wait_ready(base_url)
        async with httpx.AsyncClient(base_url=base_url) as client:
            size = len((await client.get("/api/lines/metro/1")).content)
        print(
            f"dataset: {len(get_catalogue().lines)} lines, {departures} departures; "
            f"GET /api/lines/metro/1 answers {size / 1024:.0f} KiB"
        )
        use_wrk = shutil.which("wrk") is not None and not args.httpx
        driver = "wrk" if use_wrk else "httpx"
        print(
            f"load: {driver}, {args.concurrency} keep-alive connections for {args.seconds:g} s per endpoint, one "
            f"uvicorn worker; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the run; machine "
            f"speed: {machine_speed()}"
        )
        if not use_wrk:
            print(
                "(the load comes from httpx in this process, which shares the CPUs with the API and caps near a "
                "thousand requests/s on two cores: the figures measure the load generator as much as the API, and "
                "the RESULT lines say so. For figures to quote: apt-get install -y wrk)"
            )
        print(
            f"{'round':<7}{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'API CPU ms/req':>16}"
        )
        rates: dict[str, list[float]] = {}
        p99: dict[str, list[float]] = {}
        ratios: dict[str, list[float]] = {}
        run = load_with_wrk if use_wrk else load
        # Alternated rounds: on a shared machine the load moves between runs, so each rider read is compared with
        # the reference of its own round, and each side keeps its best and its median.
        for round_number in range(1, args.rounds + 1):
            for path in (REFERENCE, *RIDER_READS):
                cpu_before = process_cpu_seconds(api.pid)
                figures = await run(base_url, path, concurrency=args.concurrency, seconds=args.seconds)
                cpu_after = process_cpu_seconds(api.pid)
                cpu = (
                    f"{(cpu_after - cpu_before) * 1000 / max(1.0, figures['requests']):>16.2f}"
                    if cpu_before is not None and cpu_after is not None
                    else f"{'n/a':>16}"
                )
                print(
                    f"{round_number:<7}GET {path:<24}{figures['rps']:>10.0f}{figures['p50']:>10.1f}"
                    f"{figures['p99']:>10.1f}{figures['errors']:>8.0f}{cpu}"
                )
                rates.setdefault(path, []).append(figures["rps"])
                p99.setdefault(path, []).append(figures["p99"])
                if path != REFERENCE:
                    ratios.setdefault(path, []).append(figures["rps"] / rates[REFERENCE][-1])
            print(f"{'':<7}load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(
            f"API process resident memory: {resident_mib(api.pid):.0f} MiB; "
            f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} after the run"
        )
        for path in RIDER_READS:
            best = max(rates[path]) / max(rates[REFERENCE])
            median = statistics.median(ratios[path])
            verdict = "met" if median >= RATIO_GOAL else "NOT met"
            latency = f"; p99 best {min(p99[path]):.0f} ms, median {statistics.median(p99[path]):.0f} ms"
            goal_ms = P99_GOAL_MS.get(path)
            if goal_ms is not None:
                latency += (
                    f" (goal <= {goal_ms:g} ms: {'met' if statistics.median(p99[path]) <= goal_ms else 'NOT met'})"
                )
            print(
                f"RESULT GET {path} vs GET {REFERENCE}: median {median:.2f}x, best {best:.2f}x over {args.rounds} "
                f"rounds (goal >= {RATIO_GOAL}x: {verdict}){latency}"
                + ("" if use_wrk else "; load from httpx, not wrk: not a figure to quote")
            )
    finally:
        if api is not None:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(timeout=15)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()
        await databases.drop(url)
        await databases.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
