"""Upstream requests of one scheduler cycle over the whole catalogue, and what they come to per day.

    backend/venv/bin/python scripts/count_upstream_requests.py [--interval SECONDS] [--concurrency N] [--lines LIST]

Starts the stub upstream in-process, fetches every schedulable line once through `LiveDataService` (a cold
cycle, which also looks up stop ids once per line), then once more with the stop answers expired (a warm cycle,
as every later cycle is), and prints the requests each source received, counted by the stub. It then scales the
warm cycle to a day at SCHEDULER_INTERVAL_SECONDS and sets it against PRIM's daily quotas. A benchmark: it prints
figures and asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere: make `backend` importable

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from typing import Any

from backend.catalogue import Line, get_catalogue, parse_line_list
from backend.config import Settings, get_settings
from backend.devtools.upstream import StubUpstream
from backend.services.live_data import LiveDataService
from backend.services.records import LineFetchResult


async def run_cycle(service: LiveDataService, lines: list[Line], concurrency: int) -> list[LineFetchResult]:
    gate = asyncio.Semaphore(concurrency)

    async def one(line: Line) -> LineFetchResult:
        async with gate:
            return await service.fetch_line(line)

    return list(await asyncio.gather(*(one(line) for line in lines)))


def summary(results: list[LineFetchResult]) -> str:
    statuses = Counter(result.status for result in results)
    departures = sum(len(result.departures) for result in results)
    positions = sum(len(result.positions) for result in results)
    return (
        f"{len(results)} lines: {dict(sorted(statuses.items()))}; {departures} departures, {positions} train positions"
    )


def print_requests(title: str, stats: dict[str, Any], seconds: float) -> None:
    print(f"\n{title} ({seconds:.1f} s)")
    for route, count in stats["requests"].items():
        print(f"  {route:<26} {count:>7}")
    for source, count in stats["requests_by_source"].items():
        print(f"  {'total ' + source:<26} {count:>7}")


async def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=settings.scheduler_interval_seconds, help="cycle seconds")
    parser.add_argument("--concurrency", type=int, default=16, help="lines fetched at once")
    parser.add_argument("--lines", default="", help="comma-separated lines (default: every schedulable line)")
    args = parser.parse_args()
    lines = parse_line_list(args.lines) if args.lines else get_catalogue().schedulable_lines()

    with StubUpstream() as stub, tempfile.TemporaryDirectory() as data_dir:
        bench = Settings(
            _env_file=None,
            **stub.settings_overrides(),
            data_dir=Path(data_dir),
            source_order="prim,ratp_http,vmtr",
            vmtr_socket_enabled=True,
            playwright_seeding_enabled=False,
        )
        async with LiveDataService(bench) as service:
            started = time.monotonic()
            cold = await run_cycle(service, lines, args.concurrency)
            cold_seconds = time.monotonic() - started
            cold_stats = stub.stats()
            stub.state.reset_stats()
            hits_before = service.prim.stop_cache_hits
            service.prim.forget_stop_answers()
            started = time.monotonic()
            warm = await run_cycle(service, lines, args.concurrency)
            warm_seconds = time.monotonic() - started
            warm_stats = stub.stats()
            warm_hits = service.prim.stop_cache_hits - hits_before
            traffic_refresh = service.prim.traffic_refresh_seconds

    print(f"cold cycle: {summary(cold)}")
    print(f"warm cycle: {summary(warm)}")
    print_requests(
        "requests of the cold cycle (first cycle of a process: stop ids looked up once per line)",
        cold_stats,
        cold_seconds,
    )
    print_requests("requests of a warm cycle (every later cycle)", warm_stats, warm_seconds)

    cycles_per_day = 86_400.0 / args.interval
    stop_requests = warm_stats["requests"].get("prim.stop-monitoring", 0)
    unshared = stop_requests + warm_hits
    traffic_per_day = len(lines) * 86_400.0 / max(traffic_refresh, args.interval)
    navitia_per_start = cold_stats["requests"].get("prim.navitia", 0)
    print(f"\nper day at SCHEDULER_INTERVAL_SECONDS={args.interval:g} ({cycles_per_day:.0f} cycles):")
    rows = [
        ("PRIM departures (stop-monitoring)", stop_requests * cycles_per_day, bench.prim_daily_quota_departures),
        ("  same, if no stop answer were shared", unshared * cycles_per_day, bench.prim_daily_quota_departures),
        (f"PRIM traffic (one per line every {traffic_refresh:.0f} s)", traffic_per_day, bench.prim_daily_quota_traffic),
        ("PRIM Navitia (stop areas, per process start)", navitia_per_start, bench.prim_daily_quota_navitia),
    ]
    for label, per_day, quota in rows:
        print(f"  {label:<46} {per_day:>11,.0f} / {quota:>9,}  ({100 * per_day / quota:5.1f} % of the quota)")
    labels = {"ratp": "ratp.fr (no quota; only a fallback)", "vmtr": "vehicle socket sessions (no quota)"}
    for source, label in labels.items():
        per_day = warm_stats["requests_by_source"].get(source, 0) * cycles_per_day
        print(f"  {label:<46} {per_day:>11,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
