"""The refresh plan: the day's remaining budget spent evenly, a share for viewed lines, and lines spread by credit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from backend.budget.plan import Allowance, SpendingBucket, bucket_cap, line_cost, plan_budget
from backend.catalogue import get_catalogue

NOW = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
RAIL = {line.id: line_cost(get_catalogue(), line.id) for line in get_catalogue().schedulable_lines()}


def fresh_day(per_day: int, per_second: int = 5) -> Allowance:
    return Allowance(per_day, per_day, NOW + timedelta(days=1), per_second)


def test_a_million_a_day_keeps_the_two_minute_cycle_for_every_rail_line() -> None:
    plan = plan_budget(
        fresh_day(1_000_000, 50),
        now=NOW,
        periodic=RAIL,
        viewed={},
        periodic_interval=120,
        demand_interval=60,
        demand_share=0.3,
    )
    assert plan.periodic_covered
    assert plan.periodic_interval_seconds == 120
    assert sum(line.requests_per_day for line in plan.lines) < 1_000_000


def test_a_new_key_spreads_its_thousand_requests_and_keeps_a_share_for_viewed_lines() -> None:
    viewed = {"metro:1": RAIL["metro:1"]}
    plan = plan_budget(
        fresh_day(1000),
        now=NOW,
        periodic=RAIL,
        viewed=viewed,
        periodic_interval=120,
        demand_interval=60,
        demand_share=0.3,
    )
    assert not plan.periodic_covered
    assert not plan.demand_covered
    per_day = sum(line.requests_per_day for line in plan.lines)
    assert per_day <= 1000 * 0.98 + 1e-6  # the safety margin stays unspent
    viewed_per_day = sum(line.requests_per_day for line in plan.lines if line.viewed)
    assert math.isclose(viewed_per_day, 0.3 * per_day, rel_tol=1e-6)
    assert plan.interval_of("metro:1") == plan.demand_interval_seconds < plan.periodic_interval_seconds
    assert next(line for line in plan.lines if line.line_id == "metro:1").viewed  # not planned twice


def test_without_viewers_the_cycle_may_spend_the_reserve() -> None:
    alone = plan_budget(
        fresh_day(1000), now=NOW, periodic=RAIL, viewed={}, periodic_interval=120, demand_interval=60, demand_share=0.3
    )
    assert alone.demand_rate == 0
    assert alone.periodic_rate == alone.rate_per_second


def test_the_pace_rises_when_budget_is_left_late_in_the_day() -> None:
    morning = Allowance(1000, 1000, NOW + timedelta(hours=20), 5)
    evening = Allowance(1000, 500, NOW + timedelta(hours=2), 5)
    rates = [
        plan_budget(a, now=NOW, periodic=RAIL, viewed={}, periodic_interval=120, demand_interval=60, demand_share=0.3)
        for a in (morning, evening)
    ]
    assert rates[1].rate_per_second > rates[0].rate_per_second
    assert rates[1].periodic_interval_seconds < rates[0].periodic_interval_seconds


def test_nothing_left_plans_nothing() -> None:
    spent = Allowance(1000, 10, NOW + timedelta(hours=2), 5)
    plan = plan_budget(
        spent, now=NOW, periodic=RAIL, viewed={}, periodic_interval=120, demand_interval=60, demand_share=0.3
    )
    assert math.isinf(plan.periodic_interval_seconds)
    assert bucket_cap(plan.periodic_rate, plan.periodic_interval_seconds, RAIL) == 0


def test_without_prim_every_line_is_due_every_interval() -> None:
    plan = plan_budget(
        None, now=NOW, periodic=RAIL, viewed={}, periodic_interval=120, demand_interval=60, demand_share=0.3
    )
    assert plan.periodic_covered
    assert plan.periodic_interval_seconds == 120


def test_the_bucket_lets_one_line_go_on_credit_and_the_next_wait_for_it() -> None:
    bucket = SpendingBucket()
    bucket.refill(rate=1.0, cap=25, now=0.0)
    assert bucket.spend(25)
    assert not bucket.spend(25)  # no credit left
    bucket.refill(rate=1.0, cap=25, now=10.0)
    assert bucket.spend(25)  # some credit lets a line go, leaving a debt
    bucket.refill(rate=1.0, cap=25, now=20.0)
    assert not bucket.spend(25)  # the debt is paid first
    bucket.refill(rate=1.0, cap=25, now=26.0)
    assert bucket.spend(25)
