"""Benchmark of the centralized logging: the cost of one log call, and the log search over a million rows.

    cd backend && PYTHONPATH=.. venv/bin/python ../scripts/bench_logging.py [--server URL] [--rows N] [--calls N]

1. Hot path: nanoseconds per `logger.info(...)` call with the database sink on, next to the stdlib logger writing to a
   NullHandler in the same run (and the full setup with its stdout line sent to /dev/null).
2. Search: p50/p95 of `GET /api/system/logs?search=…&service=worker&limit=100`'s query (through the repository, as the
   API runs it) over N rows on Postgres, with the plan Postgres chose for each search term.

Works in a fresh database created on the Postgres server `--server` (default: $TEST_DATABASE_URL, else the dev server
on 127.0.0.1:15432) and dropped at the end. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

# Runnable from anywhere: backend/venv/bin/python scripts/<this file>.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.config import Settings
from backend.db.engine import Database
from backend.db.migrate import upgrade_database
from backend.logs.repository import SEARCH_TEXT_SQL, LogFilters, search_logs, search_query
from backend.logs.setup import configure_logging

DEFAULT_SERVER = "postgresql+asyncpg://ratp:ratp@127.0.0.1:15432/ratp"


def settings_for(url: str, **overrides: Any) -> Settings:
    """Settings from the arguments only (no .env, no environment surprises besides real env variables)."""
    values: dict[str, Any] = {"environment": "test", "database_url": url, "system_api_token": "bench", **overrides}
    return Settings(_env_file=None, **values)


def _dsn(url: str, database: str) -> str:
    return make_url(url).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


# --- 1. the hot path ------------------------------------------------------------------------------------------------


def _ns_per_call(logger: logging.Logger, calls: int) -> float:
    """One timing, with the garbage collector off (as `timeit` does)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter_ns()
        for number in range(calls):
            logger.info("task %s done in %d ms", "t-1", number, extra={"task_id": "t-1", "line_id": "metro:1"})
        return (time.perf_counter_ns() - started) / calls
    finally:
        gc.enable()


def _compare(baseline: logging.Logger, logger: logging.Logger, calls: int, rounds: int) -> tuple[float, float]:
    """Best per-call time of each logger over `rounds` alternating rounds: a busy machine slows both alike."""
    best_baseline = best = float("inf")
    for _ in range(rounds):
        best_baseline = min(best_baseline, _ns_per_call(baseline, calls))
        best = min(best, _ns_per_call(logger, calls))
    return best_baseline, best


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    saved = sys.stdout
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            yield
        finally:
            sys.stdout = saved


def _report(label: str, baseline_ns: float, ns: float, note: str = "") -> None:
    print(f"  {label:44} {baseline_ns:7.0f} ns  {ns:7.0f} ns  {ns - baseline_ns:+7.0f} ns  {note}")


def bench_hot_path(url: str, calls: int, rounds: int) -> None:
    print(f"\n== hot path: one logger.info(msg, args, extra=...) call, best of {rounds} rounds of {calls:,} calls ==")
    print(f"  {'':44} {'stdlib':>10}  {'ours':>10}  {'cost':>10}")
    print(f"  {'':44} {'NullHandler':>10}")
    baseline = logging.getLogger("bench.stdlib")
    baseline.propagate = False
    baseline.addHandler(logging.NullHandler())
    baseline.setLevel(logging.INFO)
    app_logger = logging.getLogger("bench.app")
    everything = {"log_level": "WARNING", "centralized_log_queue_size": 2 * calls * rounds}

    # Every record accepted and written. The writer thread shares the GIL, so the cost of converting and inserting
    # each record shows up here too: this is the whole price of a persisted record, not only the caller's part.
    handle = configure_logging(settings_for(url, **everything), "worker")
    base_ns, ns = _compare(baseline, app_logger, calls, rounds)
    drained_from = time.perf_counter()
    handle.flush(timeout=600)
    drain_s = time.perf_counter() - drained_from
    written = handle.stats()["logs_written"]
    handle.close()
    _report(
        "DB sink, live writer (all records written)", base_ns, ns, f"{written:,} rows, drained {drain_s:.0f} s later"
    )

    # The default queue (1000) in a burst: the writer cannot keep up, most calls take the drop path.
    handle = configure_logging(settings_for(url, log_level="WARNING"), "worker")
    with _stdout_to_devnull():  # the drop summary line
        base_ns, ns = _compare(baseline, app_logger, calls, rounds)
        handle.flush(timeout=60)
        dropped = handle.stats()["logs_dropped"]
        handle.close()
    _report("DB sink, default queue of 1000, burst", base_ns, ns, f"{dropped:,} records dropped")

    handle = configure_logging(
        settings_for(url, log_level="INFO", centralized_log_queue_size=2 * calls * rounds), "worker"
    )
    with _stdout_to_devnull():
        # Against what a process does without this setup: logging.basicConfig()'s console line.
        console = logging.getLogger("bench.console")
        console.propagate = False
        console_handler = logging.StreamHandler(sys.stdout)
        console_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        console.addHandler(console_handler)
        console.setLevel(logging.INFO)
        console_ns, full_ns = _compare(console, app_logger, calls, rounds)
        base_ns, _ = _compare(baseline, baseline, calls, 1)
        handle.flush(timeout=600)
        handle.close()
    _report("full setup: stdout line (/dev/null) + DB sink", base_ns, full_ns)
    print(
        f"  {'  vs logging.basicConfig() console line':44} {console_ns:7.0f} ns  {full_ns:7.0f} ns  "
        f"{full_ns - console_ns:+7.0f} ns  (basicConfig's line also to /dev/null)"
    )


# --- 2. the search ----------------------------------------------------------------------------------------------------

LOAD_SQL = """
INSERT INTO system_logs (created_at, service, level, level_no, logger, message, extra, host, pid)
SELECT
    now() - make_interval(secs => i * 1.2),
    s.service,
    l.level,
    l.level_no,
    'backend.' || s.service,
    CASE i % 10
        WHEN 0 THEN format('task %s failed: upstream timeout after 10 s on ratp_http for bus:%s', md5(i::text), i % 400)
        WHEN 1 THEN format('source prim answered 429, retrying in %s s', i % 30)
        WHEN 2 THEN format('heartbeat: %s tasks processed, %s failed', i % 5000, i % 17)
        WHEN 3 THEN format('scheduler cycle enqueued %s lines, coalesced %s', i % 300, i % 20)
        ELSE format('fetched line metro:%s in %s ms (%s departures)', i % 16, i % 2000, i % 60)
    END,
    jsonb_build_object('task_id', md5(i::text), 'line_id', 'metro:' || (i % 16), 'worker_id', 'worker-' || (i % 16)),
    'bench-host',
    1000 + i % 16
FROM generate_series(1, :rows) AS i
CROSS JOIN LATERAL (
    SELECT CASE WHEN i % 20 < 15 THEN 'worker' WHEN i % 20 < 18 THEN 'scheduler' WHEN i % 20 < 19 THEN 'api'
                ELSE 'supervisor' END AS service
) AS s
CROSS JOIN LATERAL (
    SELECT CASE WHEN i % 100 < 1 THEN 'CRITICAL' WHEN i % 100 < 8 THEN 'ERROR' WHEN i % 100 < 20 THEN 'WARNING'
                ELSE 'INFO' END AS level,
           CASE WHEN i % 100 < 1 THEN 50 WHEN i % 100 < 8 THEN 40 WHEN i % 100 < 20 THEN 30 ELSE 20 END AS level_no
) AS l
"""


async def _load(database: Database, rows: int) -> None:
    # Bulk statements go through a plain connection: the engine's 60 s command timeout is for the services.
    raw = await asyncpg.connect(_dsn(database.url, str(make_url(database.url).database)))
    try:
        await raw.execute("TRUNCATE system_logs RESTART IDENTITY")
        await raw.execute("DROP INDEX IF EXISTS ix_system_logs_search_trgm")
        started = time.perf_counter()
        await raw.execute(LOAD_SQL.replace(":rows", str(int(rows))))
        print(f"loaded {rows:,} rows with generate_series in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        async with raw.transaction():  # as migration 0002 does
            await raw.execute("SET LOCAL maintenance_work_mem = '256MB'")
            await raw.execute(
                f"CREATE INDEX ix_system_logs_search_trgm ON system_logs USING gin (({SEARCH_TEXT_SQL}) gin_trgm_ops)"
            )
        await raw.execute("VACUUM ANALYZE system_logs")
        print(f"built the trigram index as migration 0002 does, and analysed, in {time.perf_counter() - started:.1f} s")
    finally:
        await raw.close()
    async with database.engine.connect() as connection:
        size = (
            await connection.execute(text("SELECT pg_size_pretty(pg_relation_size('ix_system_logs_search_trgm'))"))
        ).scalar()
        table = (await connection.execute(text("SELECT pg_size_pretty(pg_table_size('system_logs'))"))).scalar()
    print(f"table {table}, trigram index {size}")


async def _plan(database: Database, filters: LogFilters) -> str:
    query = search_query(filters, None).limit(101)
    async with database.engine.connect() as connection:
        sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        rows = (await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")).scalars().all()
    keep = [row for row in rows if "Buffers" not in row and "Planning" not in row]
    return "\n".join("      " + row for row in keep)


async def _latencies(database: Database, filters: LogFilters, runs: int) -> tuple[float, float, int]:
    for _ in range(3):
        await search_logs(database, filters, limit=100)
    samples = []
    found = 0
    for _ in range(runs):
        started = time.perf_counter()
        page = await search_logs(database, filters, limit=100)
        samples.append((time.perf_counter() - started) * 1000)
        found = len(page.items)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, found


async def bench_search(url: str, rows: int, runs: int) -> None:
    print(f"\n== search: service=worker + search=<term>, limit 100, over {rows:,} rows ({runs} runs per term) ==")
    database = Database(settings_for(url), "bench")
    try:
        await _load(database, rows)
        rare_row = rows // 40 * 20  # a worker's row, half-way back
        async with database.engine.connect() as connection:
            rare = (await connection.execute(text(f"SELECT md5('{rare_row}')"))).scalar()
        terms = {
            "common (fetched line)": "fetched line",
            "10% (answered 429)": "answered 429",
            "0.3% (retrying in 21 s)": "retrying in 21 s",
            "0.25% (bus:390)": "bus:390",
            "rare (one task id)": str(rare)[:16],
            "in extra only (worker-7)": '"worker-7"',
            "no match": "no-such-text-anywhere",
            "short (2 chars, no trigram)": "%)",
        }
        for label, term in terms.items():
            filters = LogFilters(service="worker", search=term)
            p50, p95, found = await _latencies(database, filters, runs)
            print(f"  {label:30} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   ({found} rows on the page)")
            print(await _plan(database, filters))
        for label, filters in {
            "no search: service=worker, level=ERROR": LogFilters(service="worker", level="ERROR"),
            "no filter at all": LogFilters(),
        }.items():
            p50, p95, found = await _latencies(database, filters, runs)
            print(f"  {label:30} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   ({found} rows on the page)")
            print(await _plan(database, filters))
    finally:
        await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to search (0: skip the search benchmark)")
    parser.add_argument("--calls", type=int, default=20_000, help="log calls per round (0: skip the hot path)")
    parser.add_argument("--rounds", type=int, default=10, help="alternating timing rounds per hot-path case")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    name = f"bench_logs_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_dsn(args.server, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    print(f"fresh database {name} on {make_url(args.server).host}:{make_url(args.server).port}")
    try:
        await upgrade_database(settings_for(url), url=url)
        if args.calls:
            await asyncio.to_thread(bench_hot_path, url, args.calls, args.rounds)
        if args.rows:
            await bench_search(url, args.rows, args.runs)
    finally:
        admin = await asyncpg.connect(_dsn(args.server, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        print(f"\ndropped {name}")


if __name__ == "__main__":
    asyncio.run(main())
