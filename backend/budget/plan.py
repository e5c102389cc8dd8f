"""The refresh plan: how often each line can be fetched with what the PRIM key has left until its reset.

The day's remaining departures budget is spent evenly until the reset: `rate = (remaining - safety) / seconds
to reset`. A share of it (PRIM_DEMAND_SHARE) is kept for the lines riders are looking at; the periodic cycle rotates
the rest over the other lines. A line's cost is the number of stop-monitoring requests one fetch of it makes (one
per station). When the rate cannot cover a group's wanted interval, the interval grows: boards get older, and say by
how much, rather than requests being refused.

Night weighting (PRIM_NIGHT_WEIGHT): while the metro is closed (Paris time, `is_night`), the lines nobody looks at
are refreshed at that share of their daytime rate, so the day's budget goes to the service day: the pace is
`remaining / weighted seconds to the reset`, where a night second counts `night_weight` of a day second, times the
weight of now. The viewed lines' reserve is not weighted (a rider at 3 a.m. gets the daytime reserve). With a weight
of 1 this is the even pace above; the plan is made again at every tick from what remains, so whatever a night with
viewers spends beyond the weighted pace is taken from the rest of the day, never from PRIM's refusals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.catalogue import Catalogue, UnknownLineError

# Kept unspent until the reset: requests PRIM may count that we did not (other users of the key, restarts).
SAFETY_FRACTION = 0.02
# The plan never counts on fewer seconds to the reset than this (the reset itself is near).
MIN_HORIZON_SECONDS = 60.0
# A line whose stations are not known yet (a bus line before its first fetch) is planned at this cost.
UNKNOWN_LINE_COST = 40
# The fleet paces its requests at this share of PRIM's per-second limit. PRIM counts per clock second, and a request
# sent at its slot may arrive late (a busy event loop, the network): at 50% (one every 0.4 s for 5 a second), three
# requests of one second would have to slip into the next for it to see more than 5.
PER_SECOND_USE = 0.5
PARIS = ZoneInfo("Europe/Paris")
# The metro's night closure (Paris time): it stops at 01:15, at 02:15 on the nights after Friday and Saturday, and
# starts again at 05:30.
NIGHT_ENDS_MINUTE = 5 * 60 + 30
NIGHT_STARTS_MINUTE = 1 * 60 + 15
NIGHT_STARTS_MINUTE_WEEKEND = 2 * 60 + 15
_WEIGHT_STEP = timedelta(minutes=5)  # night bounds fall on 5-minute marks, in UTC as in Paris (whole-hour offsets)


@dataclass(frozen=True)
class Allowance:
    """What the key has left on one API, as the ledger knows it."""

    daily_limit: int
    remaining: int
    reset_at: datetime
    per_second_limit: int | None
    observed: bool = True  # PRIM's headers were read since the day began (else the figures are assumptions)


@dataclass(frozen=True)
class LinePlan:
    line_id: str
    cost: int  # requests per fetch
    interval_seconds: float  # planned time between two fetches
    viewed: bool

    @property
    def requests_per_day(self) -> float:
        return self.cost * 86_400.0 / self.interval_seconds


@dataclass(frozen=True)
class BudgetPlan:
    rate_per_second: float  # the whole budget's even pace until the reset
    periodic_rate: float
    demand_rate: float
    periodic_interval_seconds: float
    demand_interval_seconds: float
    periodic_covered: bool  # the periodic lines get their wanted interval
    demand_covered: bool
    lines: tuple[LinePlan, ...]

    def interval_of(self, line_id: str) -> float | None:
        for line in self.lines:
            if line.line_id == line_id:
                return line.interval_seconds
        return None


def line_cost(catalogue: Catalogue, line_id: str) -> int:
    """Stop-monitoring requests one fetch of the line makes: one per station."""
    try:
        stations = {place.station.id for place in catalogue.stations_for(line_id)}
    except UnknownLineError:
        return UNKNOWN_LINE_COST
    return len(stations) or UNKNOWN_LINE_COST


def is_night(moment: datetime) -> bool:
    """Whether the metro is closed at `moment` (Paris time). The closure is taken in real time: from the first 02:15
    of a night whose clock goes back an hour, and from 03:15 summer time when 02:15 does not exist."""
    day = moment.astimezone(PARIS).date()
    # Saturday and Sunday mornings follow the Friday and Saturday nights.
    starts = NIGHT_STARTS_MINUTE_WEEKEND if day.weekday() in (5, 6) else NIGHT_STARTS_MINUTE
    closes = datetime.combine(day, time(starts // 60, starts % 60), PARIS)  # fold 0: the first of a repeated hour
    opens = datetime.combine(day, time(NIGHT_ENDS_MINUTE // 60, NIGHT_ENDS_MINUTE % 60), PARIS)
    # Compared in UTC: aware datetimes of one zone would be compared by their wall-clock times.
    return closes.astimezone(UTC) <= moment.astimezone(UTC) < opens.astimezone(UTC)


def service_weight(moment: datetime, night_weight: float) -> float:
    return night_weight if night_weight < 1.0 and is_night(moment) else 1.0


def weighted_seconds(start: datetime, end: datetime, night_weight: float) -> float:
    """Seconds from `start` to `end`, a night second counting `night_weight`."""
    if end <= start:
        return 0.0
    if night_weight >= 1.0:
        return (end - start).total_seconds()
    total = 0.0
    moment = start
    while moment < end:
        mark = moment - timedelta(seconds=moment.timestamp() % _WEIGHT_STEP.total_seconds()) + _WEIGHT_STEP
        step_end = min(end, mark)
        total += service_weight(moment, night_weight) * (step_end - moment).total_seconds()
        moment = step_end
    return total


def _spendable(allowance: Allowance) -> float:
    return max(0.0, allowance.remaining - math.ceil(SAFETY_FRACTION * allowance.daily_limit))


def _per_second_cap(allowance: Allowance) -> float:
    return PER_SECOND_USE * allowance.per_second_limit if allowance.per_second_limit else math.inf


def weighted_rate(allowance: Allowance, now: datetime, night_weight: float) -> tuple[float, float]:
    """(the pace now, the daytime pace): what remains spent until the reset, a night second weighing
    `night_weight`; both within the per-second limit."""
    horizon_end = max(allowance.reset_at, now + timedelta(seconds=MIN_HORIZON_SECONDS))
    weighted = max(MIN_HORIZON_SECONDS * night_weight, weighted_seconds(now, horizon_end, night_weight))
    day_rate = _spendable(allowance) / weighted
    cap = _per_second_cap(allowance)
    return min(cap, day_rate * service_weight(now, night_weight)), min(cap, day_rate)


def even_rate(allowance: Allowance, now: datetime) -> float:
    """Requests per second that spend what remains evenly until the reset (and respect the per-second limit)."""
    horizon = max(MIN_HORIZON_SECONDS, (allowance.reset_at - now).total_seconds())
    return min(_per_second_cap(allowance), _spendable(allowance) / horizon)


def _interval(costs: Mapping[str, int], rate: float, wanted: float) -> tuple[float, bool]:
    total = sum(costs.values())
    if total == 0:
        return wanted, True
    if rate <= 0:
        return math.inf, False
    needed = total / rate
    return max(wanted, needed), needed <= wanted


def plan_budget(
    allowance: Allowance | None,
    *,
    now: datetime,
    periodic: Mapping[str, int],
    viewed: Mapping[str, int],
    periodic_interval: float,
    demand_interval: float,
    demand_share: float,
    night_weight: float = 1.0,
) -> BudgetPlan:
    """The plan for `periodic` and `viewed` lines (id -> cost); no allowance means no budget to keep (no PRIM).
    `night_weight` below 1 slows the periodic lines at night (see the module's docstring)."""
    periodic = {line_id: cost for line_id, cost in periodic.items() if line_id not in viewed}
    if allowance is None:
        rate = demand_rate = periodic_rate = math.inf
    else:
        rate, day_rate = weighted_rate(allowance, now, night_weight)
        # The reserve is kept only while someone looks; otherwise the periodic cycle may spend it. It is the daytime
        # reserve at night too; the periodic lines keep at least their own share of the weighted pace.
        demand_rate = day_rate * demand_share if viewed else 0.0
        periodic_rate = max(rate - demand_rate, rate * (1.0 - demand_share)) if viewed else rate
    periodic_every, periodic_covered = _interval(periodic, periodic_rate, periodic_interval)
    demand_every, demand_covered = _interval(viewed, demand_rate, demand_interval)
    lines = [LinePlan(line_id, cost, demand_every, True) for line_id, cost in viewed.items()]
    lines += [LinePlan(line_id, cost, periodic_every, False) for line_id, cost in periodic.items()]
    return BudgetPlan(
        rate_per_second=rate,
        periodic_rate=periodic_rate,
        demand_rate=demand_rate,
        periodic_interval_seconds=periodic_every,
        demand_interval_seconds=demand_every,
        periodic_covered=periodic_covered,
        demand_covered=demand_covered,
        lines=tuple(lines),
    )


class SpendingBucket:
    """Lets lines be queued at the plan's rate: credit grows with time, a queued line spends its cost.

    It holds at most one interval's worth (or the dearest line), so a full cycle goes at once when the budget allows
    it, and lines go one by one, spread over the interval, when it does not.
    """

    def __init__(self) -> None:
        self.credit: float | None = None
        self._at: float | None = None

    def refill(self, *, rate: float, cap: float, now: float) -> None:
        if self.credit is None or self._at is None or math.isinf(rate):
            self.credit = cap
        else:
            self.credit = min(cap, self.credit + rate * max(0.0, now - self._at))
        self._at = now

    def spend(self, cost: int) -> bool:
        """Any credit lets a line go, leaving a debt the next lines wait for: a line someone has just opened is
        fetched at once, and the average still keeps to the rate."""
        if self.credit is None or self.credit <= 0:
            return False
        self.credit -= cost
        return True


def bucket_cap(rate: float, interval: float, costs: Mapping[str, int]) -> float:
    dearest = max(costs.values(), default=0)
    if rate <= 0:
        return 0.0
    if math.isinf(rate) or math.isinf(interval):
        return math.inf if math.isinf(rate) else float(dearest)
    return max(float(dearest), rate * interval)
