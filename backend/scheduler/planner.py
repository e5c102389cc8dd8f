"""What the scheduler queues at each tick: lines whose planned interval has passed, within the PRIM budget.

Every SCHEDULER_TICK_SECONDS the planner reads what the key has left (backend/budget/ledger.py), the lines riders
are looking at (viewing leases) and when each line was last queued, makes the plan (backend/budget/plan.py), and
queues the lines that are due: the viewed lines first, at a higher priority (trigger `demand`), then the periodic
cycle's rail lines (trigger `interval`), oldest first. Each group spends from its own `SpendingBucket`, so a budget
that cannot cover a whole cycle at once is spread over the interval instead of being spent in a burst. At night
(Paris time) the periodic lines go at PRIM_NIGHT_WEIGHT of their daytime pace (backend/budget/plan.py).

Once per refresh of the traffic feed (PRIM_TRAFFIC_FEED_SECONDS, longer when the feed's own allowance requires) it
queues the fleet's one traffic task (`TRAFFIC_FEED_TASK_LINE`), coalesced like a line's, so the fleet makes exactly
one `disruptions_bulk` request per refresh whatever its size; none is queued while that allowance has nothing left.

Without PRIM (no key, or not in SOURCE_ORDER) there is no budget to keep and every line is due every
SCHEDULER_INTERVAL_SECONDS, as before.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend.budget import ledger
from backend.budget.plan import (
    Allowance,
    BudgetPlan,
    SpendingBucket,
    bucket_cap,
    even_rate,
    line_cost,
    plan_budget,
)
from backend.catalogue import Catalogue, get_catalogue
from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import TASK_PRIORITY_DEMAND, TASK_PRIORITY_PERIODIC, TRAFFIC_FEED_TASK_LINE, SchedulerRun
from backend.tasks import repository as tasks
from backend.tasks.cycle import cycle_lines, queue_run

logger = logging.getLogger("backend.scheduler.planner")


def uses_prim_budget(settings: Settings) -> bool:
    return "prim" in settings.source_names and bool(settings.prim_api_key.strip())


def tick_seconds(settings: Settings) -> float:
    return min(settings.scheduler_tick_seconds, settings.scheduler_interval_seconds, settings.demand_refresh_seconds)


# Navitia requests one bus line's stop list takes (its routes, then their schedules).
NAVITIA_REQUESTS_PER_STOP_LIST = 2


def traffic_feed_interval(settings: Settings, allowance: Allowance | None, now: datetime) -> float:
    """Seconds between two reads of the traffic feed: PRIM_TRAFFIC_FEED_SECONDS, longer when what the feed's own
    allowance has left cannot pay for that until the reset (infinite when nothing is left)."""
    if allowance is None:
        return settings.prim_traffic_feed_seconds
    rate = even_rate(allowance, now)
    return math.inf if rate <= 0 else max(settings.prim_traffic_feed_seconds, 1.0 / rate)


@dataclass(frozen=True)
class CurrentPlan:
    plan: BudgetPlan
    viewed: list[str]
    allowance: Allowance | None  # None: no PRIM budget to keep
    traffic_feed_interval_seconds: float | None  # None: the feed is not read (disabled, or no PRIM)
    requests_per_day: dict[str, float]  # by PRIM API: what the plan makes a day at the current pace


async def current_plan(
    database: Database, settings: Settings, *, now: datetime, catalogue: Catalogue | None = None
) -> CurrentPlan:
    """The plan as it stands (for the orchestrator and the scripts), with the lines being viewed."""
    catalogue = catalogue or get_catalogue()
    budgeted = uses_prim_budget(settings)
    async with database.sessions() as session:
        views = [view.line_id for view in await ledger.viewed_lines(session, now=now)]
        allowance = await ledger.allowance(session, "departures", settings, now) if budgeted else None
        feed_allowance = await ledger.allowance(session, "disruptions", settings, now) if budgeted else None
    plan = plan_budget(
        allowance,
        now=now,
        periodic={line_id: line_cost(catalogue, line_id) for line_id in cycle_lines(settings)},
        viewed={line_id: line_cost(catalogue, line_id) for line_id in views},
        periodic_interval=settings.scheduler_interval_seconds,
        demand_interval=settings.demand_refresh_seconds,
        demand_share=settings.prim_demand_share,
        night_weight=settings.prim_night_weight,
    )
    feed_interval = (
        traffic_feed_interval(settings, feed_allowance, now)
        if budgeted and settings.prim_traffic_feed_enabled
        else None
    )
    per_day = plan_requests_per_day(plan, settings, feed_interval, catalogue)
    return CurrentPlan(plan, views, allowance, feed_interval, per_day)


def plan_requests_per_day(
    plan: BudgetPlan, settings: Settings, feed_interval: float | None, catalogue: Catalogue
) -> dict[str, float]:
    """Requests a day per PRIM API at the plan's current pace: stop-monitoring for the lines' boards, the traffic
    feed's reads, and Navitia for the stop lists of the lines without catalogue stations (bus lines), asked again
    every BUS_STOPS_REFRESH_HOURS."""
    departures = sum(line.requests_per_day for line in plan.lines if not math.isinf(line.interval_seconds))
    feed = 0.0 if feed_interval is None or math.isinf(feed_interval) else 86_400.0 / feed_interval
    with_stations = {line.id for line in catalogue.lines if line.has_station_data}
    bus_lines = sum(
        1 for line in plan.lines if line.line_id not in with_stations and not math.isinf(line.interval_seconds)
    )
    navitia = bus_lines * NAVITIA_REQUESTS_PER_STOP_LIST * 24.0 / settings.bus_stops_refresh_hours
    return {"departures": round(departures, 1), "disruptions": round(feed, 1), "navitia": round(navitia, 1)}


@dataclass(frozen=True)
class TickOutcome:
    plan: BudgetPlan
    demand: SchedulerRun | None
    periodic: SchedulerRun | None


class RefreshPlanner:
    def __init__(self, database: Database, settings: Settings, *, catalogue: Catalogue | None = None) -> None:
        self._database = database
        self._settings = settings
        self._catalogue = catalogue or get_catalogue()
        self._periodic = SpendingBucket()
        self._demand = SpendingBucket()
        self._half_tick = timedelta(seconds=tick_seconds(settings) / 2)

    async def tick(self) -> TickOutcome:
        now = datetime.now(UTC)
        current = await current_plan(self._database, self._settings, now=now, catalogue=self._catalogue)
        plan, views = current.plan, current.viewed
        costs = {line.line_id: line.cost for line in plan.lines}
        async with self._database.sessions() as session:
            last = await tasks.last_scheduled(session, list(costs))
        viewed = {line.line_id: line.cost for line in plan.lines if line.viewed}
        periodic = {line.line_id: line.cost for line in plan.lines if not line.viewed}
        clock = time.monotonic()
        demand_cap = bucket_cap(plan.demand_rate, plan.demand_interval_seconds, viewed)
        periodic_cap = bucket_cap(plan.periodic_rate, plan.periodic_interval_seconds, periodic)
        if current.allowance is not None and not current.allowance.observed:
            # PRIM has not said yet what the key allows: one line at a time until its first answer does.
            demand_cap = min(demand_cap, max(viewed.values(), default=0))
            periodic_cap = min(periodic_cap, max(periodic.values(), default=0))
        self._demand.refill(rate=plan.demand_rate, cap=demand_cap, now=clock)
        self._periodic.refill(rate=plan.periodic_rate, cap=periodic_cap, now=clock)
        demand_due = self._due(viewed, last, plan.demand_interval_seconds, now, self._demand)
        periodic_due = self._due(periodic, last, plan.periodic_interval_seconds, now, self._periodic)
        demand = await self._queue(demand_due, "demand", TASK_PRIORITY_DEMAND, len(views), now) if demand_due else None
        periodic_run = (
            await self._queue(periodic_due, "interval", TASK_PRIORITY_PERIODIC, len(periodic), now)
            if periodic_due
            else None
        )
        if current.traffic_feed_interval_seconds is not None:
            await self._queue_traffic_feed(current.traffic_feed_interval_seconds, now)
        return TickOutcome(plan=plan, demand=demand, periodic=periodic_run)

    async def _queue_traffic_feed(self, interval: float, now: datetime) -> bool:
        """The fleet's traffic task when its refresh is due (one at a time: an active one coalesces)."""
        if math.isinf(interval):
            return False
        async with self._database.write_sessions() as session, session.begin():
            last = (await tasks.last_scheduled(session, [TRAFFIC_FEED_TASK_LINE])).get(TRAFFIC_FEED_TASK_LINE)
            if last is not None and last > now - timedelta(seconds=interval) + self._half_tick:
                return False
            outcome = await tasks.enqueue(
                session,
                [TRAFFIC_FEED_TASK_LINE],
                now=now,
                max_attempts=self._settings.task_max_attempts,
                trigger="interval",
                priority=TASK_PRIORITY_DEMAND,
            )
        if outcome.task_ids:
            logger.info("traffic feed: read queued (every %.0f s)", interval, extra={"trigger": "interval"})
        return bool(outcome.task_ids)

    def _due(
        self,
        costs: dict[str, int],
        last: dict[str, datetime],
        interval: float,
        now: datetime,
        bucket: SpendingBucket,
    ) -> list[str]:
        """The lines whose interval has passed, oldest first, as many as the bucket pays for."""
        if interval == float("inf"):
            return []
        due_before = now - timedelta(seconds=interval) + self._half_tick
        never = datetime.min.replace(tzinfo=UTC)
        waiting = sorted(
            (line_id for line_id in costs if last.get(line_id, never) <= due_before),
            key=lambda line_id: last.get(line_id, never),
        )
        chosen = []
        for line_id in waiting:
            if not bucket.spend(costs[line_id]):
                break  # the oldest waits for credit rather than being passed by cheaper lines
            chosen.append(line_id)
        return chosen

    async def _queue(self, line_ids: list[str], trigger: str, priority: int, total: int, now: datetime) -> SchedulerRun:
        run = await queue_run(
            self._database, self._settings, line_ids, trigger=trigger, lines_total=total, priority=priority, now=now
        )
        logger.info(
            "%s: %d of %d lines due, %d queued, %d coalesced (still in progress)",
            "viewed lines" if trigger == "demand" else "cycle",
            len(line_ids),
            total,
            run.enqueued,
            run.coalesced,
            extra={
                "scheduler_run_id": run.id,
                "trigger": trigger,
                "enqueued": run.enqueued,
                "coalesced": run.coalesced,
            },
        )
        return run
