"""The refresh plan: the day's remaining budget spent evenly (or weighted to the service day), a share for viewed lines,
and lines spread by credit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from backend.budget.plan import (
    PARIS,
    Allowance,
    BudgetPlan,
    SpendingBucket,
    bucket_cap,
    even_rate,
    is_night,
    line_cost,
    plan_budget,
    service_weight,
    weighted_rate,
    weighted_seconds,
)
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


# --- night weighting (Paris time) ---------------------------------------------------------------------------------


def _paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def _until_midnight_utc(now: datetime, per_day: int = 1000) -> Allowance:
    reset = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return Allowance(per_day, per_day, reset, 5)


def _night_plan(
    now: datetime, night_weight: float, viewed: dict[str, int] | None = None, allowance_at: datetime | None = None
) -> BudgetPlan:
    return plan_budget(
        _until_midnight_utc(allowance_at or now),
        now=now,
        periodic=RAIL,
        viewed=viewed or {},
        periodic_interval=120,
        demand_interval=60,
        demand_share=0.3,
        night_weight=night_weight,
    )


def _periodic_interval(now: datetime, night_weight: float) -> float:
    return _night_plan(now, night_weight).periodic_interval_seconds


def test_the_metro_night_follows_paris_time_and_weekends() -> None:
    # A Tuesday in winter (UTC+1): closed from 01:15 to 05:30.
    assert not is_night(_paris(2026, 12, 8, 1, 10))
    assert is_night(_paris(2026, 12, 8, 1, 15))
    assert is_night(_paris(2026, 12, 8, 5, 29))
    assert not is_night(_paris(2026, 12, 8, 5, 30))
    # The night after a Friday: open until 02:15 (Saturday morning), and likewise Sunday morning.
    assert not is_night(_paris(2026, 12, 12, 2, 0))
    assert is_night(_paris(2026, 12, 12, 2, 15))
    assert not is_night(_paris(2026, 12, 13, 2, 10))
    # Summer (UTC+2): 03:00 in Paris is 01:00 UTC.
    assert is_night(datetime(2026, 7, 7, 1, 0, tzinfo=UTC))
    assert not is_night(datetime(2026, 7, 7, 3, 30, tzinfo=UTC))  # 05:30 in Paris


def test_lines_nobody_views_are_refreshed_less_often_at_night_and_the_budget_goes_to_the_day() -> None:
    night = _paris(2026, 12, 8, 3, 0)  # 02:00 UTC; the reset is 22 hours away
    unweighted = _periodic_interval(night, 1.0)
    weighted_night = _periodic_interval(night, 0.25)
    assert weighted_night > 3.5 * unweighted
    # What the night does not spend, the day does: from the reset (01:00 in Paris in winter, the night ahead), the
    # daytime pace is above the even one, by the share of the day the night holds (4 h 15 min at three quarters off).
    reset = _paris(2026, 12, 8, 1, 0)
    allowance = _until_midnight_utc(reset)
    _, day_rate = weighted_rate(allowance, reset, 0.25)
    assert math.isclose(day_rate / even_rate(allowance, reset), 24 / (24 - 0.75 * 4.25), rel_tol=1e-6)
    # A weight of 1 is the even pace of before, night or day.
    allowance = _until_midnight_utc(night)
    assert math.isclose(weighted_rate(allowance, night, 1.0)[0], even_rate(allowance, night))


def test_the_weighted_pace_spends_exactly_what_remains_until_the_reset() -> None:
    now = _paris(2026, 12, 8, 0, 30)
    allowance = _until_midnight_utc(now)
    _, day_rate = weighted_rate(allowance, now, 0.25)
    spent = 0.0
    moment = now
    while moment < allowance.reset_at:  # minute by minute, each at the pace of its own moment
        spent += day_rate * service_weight(moment, 0.25) * 60
        moment += timedelta(minutes=1)
    assert math.isclose(spent, allowance.remaining - 20, rel_tol=0.01)  # less the 2% safety


def test_a_viewed_line_keeps_the_daytime_reserve_at_night() -> None:
    night = _paris(2026, 12, 8, 3, 0)
    viewed = {"metro:1": RAIL["metro:1"]}
    day_plan = _night_plan(_paris(2026, 12, 8, 9, 0), 0.25, viewed, allowance_at=night)
    night_plan = _night_plan(night, 0.25, viewed)
    _, day_rate = weighted_rate(_until_midnight_utc(night), night, 0.25)
    assert math.isclose(night_plan.demand_rate, 0.3 * day_rate)
    assert night_plan.demand_rate > 0.3 * night_plan.rate_per_second
    # The lines nobody views keep their own share of the night's pace, at least.
    assert night_plan.periodic_rate >= 0.7 * night_plan.rate_per_second
    assert night_plan.periodic_rate < 0.5 * day_plan.periodic_rate


def test_the_night_weighting_holds_across_the_clock_changes() -> None:
    # 29 March 2026, a Sunday: Paris goes from 02:00 to 03:00 (UTC+1 -> UTC+2) at 01:00 UTC. Its 02:15 does not
    # exist: the night starts at 03:15 summer time (01:15 UTC) and ends at 05:30 summer time (03:30 UTC).
    spring = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 in Paris
    assert not is_night(spring)
    assert not is_night(datetime(2026, 3, 29, 1, 10, tzinfo=UTC))
    assert is_night(datetime(2026, 3, 29, 1, 15, tzinfo=UTC))
    assert is_night(datetime(2026, 3, 29, 3, 29, tzinfo=UTC))
    assert not is_night(datetime(2026, 3, 29, 3, 30, tzinfo=UTC))
    # So 2 h 15 min of night that Sunday, and Monday's first 45 minutes (01:15-02:00, before 00:00 UTC) in the day's
    # window too: 3 hours at three quarters off.
    assert math.isclose(
        weighted_seconds(spring, spring + timedelta(days=1), 0.25), 86_400 - 0.75 * 3 * 3600, rel_tol=1e-9
    )
    # 25 October 2026, a Sunday: 03:00 goes back to 02:00 (UTC+2 -> UTC+1) at 01:00 UTC. The metro closes at the
    # first 02:15 (00:15 UTC), stays closed through the repeated hour, and opens at 05:30 winter time (04:30 UTC).
    assert is_night(datetime(2026, 10, 25, 1, 5, tzinfo=UTC))  # the second 02:05
    autumn = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # midnight in Paris
    assert math.isclose(
        weighted_seconds(autumn, autumn + timedelta(hours=8), 0.25), 8 * 3600 - 0.75 * 4.25 * 3600, rel_tol=1e-9
    )
    during = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert _periodic_interval(during, 0.25) > 3.5 * _periodic_interval(during, 1.0)
