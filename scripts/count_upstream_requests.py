"""Upstream requests of one scheduler cycle over the whole catalogue, what they come to per day, and the plan for
a given PRIM key.

    backend/venv/bin/python scripts/count_upstream_requests.py [--interval SECONDS] [--concurrency N] [--lines LIST]
        [--key-per-day N] [--key-per-second N] [--feed-per-day N] [--viewed LIST] [--demand-share F]
        [--night-weight F] [--at ISO-TIME] [--plan-only]

Starts the stub upstream in-process, fetches every schedulable line once through `LiveDataService` (a cold
cycle, which also looks up stop ids once per line), then once more with the stop answers expired (a warm cycle,
as every later cycle is), and prints the requests each source received, counted by the stub. It then scales the
warm cycle to a day at SCHEDULER_INTERVAL_SECONDS and sets it against PRIM's daily quotas.

Last, the plan the scheduler makes for a key allowing `--key-per-day` departures requests (default: 1,000, what
PRIM gives a new key) with `--viewed` lines open (e.g. `metro:1,bus:38`), at `--at` (default now; the plan weights
the night, Paris time, by `--night-weight`): requests per day per API (stop-monitoring, the `disruptions_bulk`
traffic feed within `--feed-per-day`, Navitia for bus stop lists) and the refresh interval of each line
(backend/budget/plan.py, backend/scheduler/planner.py). `--plan-only` prints only the plan. A benchmark: it prints
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
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.budget.plan import Allowance, is_night, line_cost, plan_budget
from backend.catalogue import Line, get_catalogue, parse_line_list
from backend.config import Settings, get_settings
from backend.devtools.upstream import StubUpstream
from backend.scheduler.planner import plan_requests_per_day, traffic_feed_interval
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
    parser.add_argument(
        "--interval",
        type=float,
        default=settings.scheduler_interval_seconds,
        help="cycle seconds",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="lines fetched at once")
    parser.add_argument(
        "--lines",
        default="",
        help="comma-separated lines (default: every schedulable line)",
    )
    parser.add_argument(
        "--key-per-day",
        type=int,
        default=1000,
        help="departures requests a day the key allows",
    )
    parser.add_argument("--key-per-second", type=int, default=5, help="requests a second the key allows")
    parser.add_argument(
        "--viewed",
        default="",
        help="comma-separated lines being viewed (fetched on demand)",
    )
    parser.add_argument(
        "--demand-share",
        type=float,
        default=settings.prim_demand_share,
        help="PRIM_DEMAND_SHARE",
    )
    parser.add_argument("--demand-refresh", type=float, default=settings.demand_refresh_seconds)
    parser.add_argument(
        "--feed-per-day", type=int, default=1000, help="traffic feed (disruptions_bulk) requests a day the key allows"
    )
    parser.add_argument("--night-weight", type=float, default=settings.prim_night_weight, help="PRIM_NIGHT_WEIGHT")
    parser.add_argument(
        "--at",
        type=datetime.fromisoformat,
        default=None,
        help="when the plan is made, e.g. 2026-12-08T03:00+01:00 (default: now); the key's day starts then",
    )
    parser.add_argument("--plan-only", action="store_true", help="print only the plan for the key")
    args = parser.parse_args()
    lines = parse_line_list(args.lines) if args.lines else get_catalogue().schedulable_lines()
    viewed = parse_line_list(args.viewed) if args.viewed else []
    if not args.plan_only:
        await measure(args, lines)
    print_plan(args, lines, viewed)


def human(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def print_plan(args: argparse.Namespace, lines: list[Line], viewed: list[Line]) -> None:
    """The scheduler's plan for a fresh day of the key: what each line costs and how often it is refreshed."""
    catalogue = get_catalogue()
    settings = get_settings()
    now = (args.at or datetime.now(UTC)).astimezone(UTC)
    allowance = Allowance(args.key_per_day, args.key_per_day, now + timedelta(days=1), args.key_per_second)
    feed = Allowance(args.feed_per_day, args.feed_per_day, now + timedelta(days=1), args.key_per_second)
    feed_interval = traffic_feed_interval(settings, feed, now) if settings.prim_traffic_feed_enabled else None
    plan = plan_budget(
        allowance,
        now=now,
        periodic={line.id: line_cost(catalogue, line.id) for line in lines},
        viewed={line.id: line_cost(catalogue, line.id) for line in viewed},
        periodic_interval=args.interval,
        demand_interval=args.demand_refresh,
        demand_share=args.demand_share,
        night_weight=args.night_weight,
    )
    per_day = plan_requests_per_day(plan, settings, feed_interval, catalogue)
    moment = "night (metro closed)" if is_night(now) else "day"
    print(
        f"\nplan for a key of {args.key_per_day:,} departures requests a day and {args.key_per_second}/s, "
        f"{len(viewed)} line(s) viewed, {args.demand_share:.0%} kept for viewed lines, made at "
        f"{now:%Y-%m-%d %H:%M} UTC ({moment}; night weight {args.night_weight:g}):"
    )
    print("  requests per day per API, at the pace of this moment:")
    print(
        f"  PRIM departures (stop-monitoring)   {per_day['departures']:>10,.0f} a day "
        f"({plan.rate_per_second * 60:.2f}/min)"
    )
    if feed_interval is None:
        print("  PRIM traffic feed (disruptions_bulk) off (PRIM_TRAFFIC_FEED_ENABLED=false): general-message per line")
    else:
        print(
            f"  PRIM traffic feed (disruptions_bulk) {per_day['disruptions']:>9,.0f} a day (one read every "
            f"{human(feed_interval)} for every line; key allows {args.feed_per_day:,})"
        )
    print(
        f"  PRIM Navitia (bus stop lists)       {per_day['navitia']:>10,.0f} a day (2 per bus line every "
        f"BUS_STOPS_REFRESH_HOURS={settings.bus_stops_refresh_hours:g}; and one stop-area look-up per line without "
        "shipped ids, per worker start)"
    )
    print("  PRIM traffic (general-message)           0 a day while the feed is read; one per line as its fallback")
    covered = "as wanted" if plan.periodic_covered else f"wanted {args.interval:g} s: the key cannot do better"
    print(f"  periodic lines: every {human(plan.periodic_interval_seconds)} ({covered})")
    if viewed:
        covered = "as wanted" if plan.demand_covered else f"wanted {args.demand_refresh:g} s"
        print(f"  viewed lines:   every {human(plan.demand_interval_seconds)} ({covered})")
    print(f"\n  {'line':<12} {'requests/fetch':>14} {'every':>10} {'requests/day':>13}  viewed")
    for line in plan.lines:
        print(
            f"  {line.line_id:<12} {line.cost:>14} {human(line.interval_seconds):>10} {line.requests_per_day:>13,.0f}"
            f"  {'yes' if line.viewed else ''}"
        )


async def measure(args: argparse.Namespace, lines: list[Line]) -> None:

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
        (
            "PRIM departures (stop-monitoring)",
            stop_requests * cycles_per_day,
            bench.prim_daily_quota_departures,
        ),
        (
            "  same, if no stop answer were shared",
            unshared * cycles_per_day,
            bench.prim_daily_quota_departures,
        ),
        (
            f"PRIM traffic (one per line every {traffic_refresh:.0f} s)",
            traffic_per_day,
            bench.prim_daily_quota_traffic,
        ),
        (
            "PRIM Navitia (stop areas, per process start)",
            navitia_per_start,
            bench.prim_daily_quota_navitia,
        ),
    ]
    for label, per_day, quota in rows:
        print(f"  {label:<46} {per_day:>11,.0f} / {quota:>9,}  ({100 * per_day / quota:5.1f} % of the quota)")
    labels = {
        "ratp": "ratp.fr (no quota; only a fallback)",
        "vmtr": "vehicle socket sessions (no quota)",
    }
    for source, label in labels.items():
        per_day = warm_stats["requests_by_source"].get(source, 0) * cycles_per_day
        print(f"  {label:<46} {per_day:>11,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
