"""How the live-data sources fail and are held back: upstream errors, circuit breakers, daily quotas, deadlines.

Every upstream fault becomes an `UpstreamError` carrying a readable reason; the service records it in a
`SourceAttempt` instead of raising. A `CircuitBreaker` per source stops a failing upstream from being hammered,
a `DailyQuota` keeps PRIM requests under the plan's daily limit, and a `Deadline` bounds one line fetch.
Imports nothing from the rest of the backend.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

from limits import RateLimitItemPerDay
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from backend.services.records import DepartureRecord, FreshnessReason, SourceAttempt, StopOutcome
from backend.services.times import PARIS

ErrorKind = Literal[
    "timeout",
    "connection",
    "blocked",
    "rate_limited",
    "server_error",
    "bad_response",
    "not_found",
    "empty",
    "circuit_open",
    "quota",
    "not_configured",
    "unauthorized",
    "key_rejected",
]

# Faults that say the upstream itself is unwell; the others say our question or its answer was unusable. A rejected
# key is not a sick upstream: the PRIM budget stops asking on it (and an operator's retry must not meet an open
# circuit).
_UPSTREAM_HEALTH_FAULTS: frozenset[str] = frozenset(
    {"timeout", "connection", "blocked", "rate_limited", "server_error", "bad_response"}
)

# Faults for which no request went out.
_NOT_ATTEMPTED_KINDS: frozenset[str] = frozenset({"circuit_open", "quota", "not_configured", "key_rejected"})

# The rider-facing reason code of each kind of fault (the dashboard writes the sentence).
_REASONS: dict[str, FreshnessReason] = {
    "timeout": "unreachable",
    "connection": "unreachable",
    "blocked": "blocked",
    "unauthorized": "rejected",
    "key_rejected": "rejected",
    "rate_limited": "rate_limited",
    "server_error": "upstream_error",
    "bad_response": "upstream_error",
    "not_found": "upstream_error",
    "empty": "upstream_error",
    "circuit_open": "paused",
    "quota": "quota",
    "not_configured": "not_configured",
}

# A fault in a few words, without the request it came from (so it can be quoted for any line).
_SHORT: dict[str, str] = {
    "timeout": "timeout",
    "connection": "connection failed",
    "blocked": "refused (blocked)",
    "unauthorized": "API key rejected",
    "key_rejected": "API key rejected",
    "rate_limited": "rate limited",
    "server_error": "server error",
    "bad_response": "unusable answer",
    "not_found": "unknown id",
    "empty": "empty answer",
    "circuit_open": "paused",
    "quota": "quota reached",
    "not_configured": "not configured",
}


class UpstreamError(Exception):
    """An upstream did not give usable data; `reason` is what the attempt records, `short` the same in a few
    words that name no request."""

    def __init__(
        self, kind: ErrorKind, reason: str, *, retry_after: float | None = None, short: str | None = None
    ) -> None:
        super().__init__(reason)
        self.kind: ErrorKind = kind
        self.reason = reason
        self.retry_after = retry_after
        self.short = short or _SHORT[kind]

    @property
    def counts_against_source(self) -> bool:
        return self.kind in _UPSTREAM_HEALTH_FAULTS

    @property
    def not_attempted(self) -> bool:
        """No request went out for it (a paused source, a spent quota, nothing configured)."""
        return self.kind in _NOT_ATTEMPTED_KINDS

    @property
    def reason_code(self) -> FreshnessReason:
        return _REASONS[self.kind]

    def __str__(self) -> str:
        return self.reason


class Deadline:
    """The time left for one line fetch; requests never wait past it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends_at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._ends_at - self._clock())

    def cap(self, seconds: float) -> float:
        """`seconds`, shortened to what is left; raises once nothing is left."""
        left = self.remaining()
        if left <= 0.05:
            raise UpstreamError("timeout", "fetch time budget exhausted")
        return min(seconds, left)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Concurrent askers of one key share the one request in flight; each waits at most until its own deadline.

    A request that fails fails every asker with the same `UpstreamError` (a cancelled one with a timeout)."""

    def __init__(self, what: str) -> None:
        self._what = what  # "the stop list": named in the errors of the waiting askers
        self._in_flight: dict[K, asyncio.Future[V]] = {}

    def in_flight(self, key: K) -> bool:
        return key in self._in_flight

    async def run(self, key: K, request: Callable[[], Awaitable[V]], deadline: Deadline) -> V:
        pending = self._in_flight.get(key)
        if pending is not None:
            try:
                return await asyncio.wait_for(asyncio.shield(pending), deadline.cap(deadline.remaining()))
            except TimeoutError:
                raise UpstreamError("timeout", f"fetch time budget exhausted waiting for {self._what}") from None
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await request()
        except BaseException as exc:
            future.set_exception(
                exc if isinstance(exc, UpstreamError) else UpstreamError("timeout", f"{self._what} request cancelled")
            )
            future.exception()  # retrieved here so an unshared failure is not logged as never retrieved
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._in_flight[key]


# As string literals; `backend.vocabulary.CircuitState` has them as an enum for the API (tests/foundation/
# test_vocabulary.py keeps the two equal).
CircuitState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerSnapshot:
    name: str
    state: CircuitState
    consecutive_failures: int
    last_error: str | None
    retry_in_seconds: float


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; after `cooldown_seconds` lets one probe through.

    A successful probe closes it again, a failed one reopens it for another cool-down. `hold` opens it for a
    time the upstream asked for (a 429's Retry-After) whatever the failure count; an answer to a request sent
    before it does not end it.

    Written here rather than on pybreaker, purgatory, aiobreaker or circuitbreaker: they wrap a call (admission
    and outcome in one `call`/`async with`), while a request is admitted here once it has its slots and settled
    after its body is parsed or its 429 retried; their half-open state lets every concurrent request through, not
    one probe; none can hold the circuit open for a Retry-After; and they read the system clock, which tests cannot
    move (docs/LIVE_DATA_ORCHESTRATION.md, "Circuit breakers and quotas").
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._state: CircuitState = "closed"
        self._failures = 0
        self._open_until = 0.0
        self._held_until = 0.0  # the end of the pause an upstream asked for (`hold`)
        self._probe_in_flight = False
        self._last_error: str | None = None
        self._last_short: str | None = None

    @property
    def state(self) -> CircuitState:
        if self._state == "open" and self._clock() >= self._open_until:
            return "half_open"
        return self._state

    def before_request(self) -> None:
        """Raises `UpstreamError("circuit_open")` unless a request may go out now."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._probe_in_flight:
            self._state = "half_open"
            self._probe_in_flight = True
            return
        last = f" (last: {self._last_short})" if self._last_short else ""
        if state == "half_open":
            reason = f"not attempted: {self.name} is being probed after {self._failures} failure(s){last}"
        else:
            wait = max(0.0, self._open_until - self._clock())
            until = datetime.fromtimestamp(time.time() + math.ceil(wait), PARIS).strftime("%H:%M:%S")
            reason = (
                f"not attempted: {self.name} paused until {until} after {self._failures} failure(s){last}; "
                f"next try in {math.ceil(wait)} s"
            )
        raise UpstreamError("circuit_open", reason, short=f"{self.name} paused")

    def record_success(self) -> None:
        if self._clock() < self._held_until:  # an answer to a request sent before the 429: the pause asked stands
            self._probe_in_flight = False
            return
        self._state = "closed"
        self._failures = 0
        self._probe_in_flight = False
        self._last_error = None
        self._last_short = None

    def record_failure(self, reason: str, short: str | None = None) -> None:
        self._failures += 1
        self._last_error = reason
        self._last_short = short or reason
        was_probe = self._probe_in_flight
        self._probe_in_flight = False
        if was_probe or self._failures >= self.failure_threshold:
            self._open_for(self.cooldown_seconds)

    def release(self) -> None:
        """Forget a request that ended without an answer either way (cancelled)."""
        self._probe_in_flight = False

    def hold(self, seconds: float, reason: str, short: str | None = None) -> None:
        self._last_error = reason
        self._last_short = short or reason
        self._failures = max(self._failures, 1)
        self._probe_in_flight = False
        self._held_until = max(self._held_until, self._clock() + seconds)
        self._open_for(seconds)

    def _open_for(self, seconds: float) -> None:
        self._state = "open"
        self._open_until = max(self._open_until, self._clock() + seconds)

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            name=self.name,
            state=self.state,
            consecutive_failures=self._failures,
            last_error=self._last_error,
            retry_in_seconds=max(0.0, self._open_until - self._clock()) if self._state == "open" else 0.0,
        )


@dataclass(frozen=True)
class QuotaSnapshot:
    name: str
    daily_limit: int
    process_share: int
    used_today: int
    remaining_today: int
    paced: int
    refused: int
    day: str


class DailyQuota:
    """Counts requests against a daily limit, slowing down before the pace would exhaust it and refusing at it.

    This process may use `daily_limit / processes` a day (several worker processes share one API key). The day's
    count is a fixed window of `limits` whose key carries the Paris date, so it starts afresh at midnight
    Europe/Paris, as PRIM's counters do. The pace is a token bucket: tokens refill evenly over the day with a burst
    of `burst_seconds` worth, and a request finding none waits for one if that is quick, otherwise it is refused.
    """

    def __init__(
        self,
        name: str,
        daily_limit: int,
        *,
        processes: int = 1,
        safety_fraction: float = 0.02,
        burst_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.daily_limit = daily_limit
        self.share = max(1, daily_limit // max(1, processes))
        self._cap = RateLimitItemPerDay(max(1, math.floor(self.share * (1.0 - safety_fraction))))
        # In memory and synchronous: nothing to wait for, and the heartbeat reads the count without awaiting.
        self._window = FixedWindowRateLimiter(MemoryStorage())
        self._rate = self.share / 86_400.0
        self._capacity = max(1.0, self._rate * burst_seconds)
        self._clock = clock
        self._tokens = self._capacity
        self._refilled_at = clock()
        self._day = self._today()
        self._paced = 0
        self._refused = 0
        self._lock = asyncio.Lock()

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock(), PARIS).date().isoformat()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._refilled_at) * self._rate)
        self._refilled_at = now
        day = self._today()
        if day != self._day:  # a new day's quota (a new window key): the burst starts afresh too
            self._day = day
            self._tokens = self._capacity

    def _used(self) -> int:
        return self._cap.amount - self._window.get_window_stats(self._cap, self.name, self._day).remaining

    async def acquire(self, max_wait: float) -> None:
        """Takes one request from the quota, waiting at most `max_wait` seconds; raises `UpstreamError("quota")`."""
        async with self._lock:
            self._refill()
            if not self._window.test(self._cap, self.name, self._day):
                self._refused += 1
                raise UpstreamError(
                    "quota",
                    f"not attempted: {self.name} daily quota reached: {self._used()} of this process's {self.share} "
                    f"(plan {self.daily_limit}/day) used today; refusing until midnight Europe/Paris",
                )
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self._rate
                if wait > max_wait:
                    self._refused += 1
                    raise UpstreamError(
                        "quota",
                        f"not attempted: {self.name} quota pacing: {self.share}/day allows one request every "
                        f"{1 / self._rate:.2f} s; next in {wait:.1f} s",
                    )
                self._paced += 1
                await asyncio.sleep(wait)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)
            self._window.hit(self._cap, self.name, self._day)

    def snapshot(self) -> QuotaSnapshot:
        self._refill()
        used = self._used()
        return QuotaSnapshot(
            name=self.name,
            daily_limit=self.daily_limit,
            process_share=self.share,
            used_today=used,
            remaining_today=self._cap.amount - used,
            paced=self._paced,
            refused=self._refused,
            day=self._day,
        )


class AttemptMeter:
    """Times one source attempt and counts its upstream requests and the items it produced."""

    def __init__(self, source: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._clock = clock
        self._started = clock()
        self.requests = 0
        self.items = 0

    def finish(self, *, ok: bool, error: str | None) -> SourceAttempt:
        return SourceAttempt(
            source=self.source,
            ok=ok,
            error=error,
            duration_ms=round((self._clock() - self._started) * 1000.0, 1),
            requests=self.requests,
            items=self.items,
        )


# Reasons for which no request went out for a stop: the refusals above, and stops with nothing to ask with.
NOT_ATTEMPTED_REASONS: frozenset[str | None] = frozenset(
    {*(_REASONS[kind] for kind in _NOT_ATTEMPTED_KINDS), "no_key", "no_stop_ids"}
)


def describe_failures(stops: list[StopOutcome], *, unit: str) -> str | None:
    """ "3 of 25 stops failed: HTTP 400 (2), timeout (1); 5 not attempted: prim paused until 07:12:30 ...".

    This fetch's own errors come first, counted by cause; stops for which no request went out are told apart, with
    the reason no request went out (never a cause borrowed from an earlier request)."""
    failed = [stop for stop in stops if not stop.answered]
    if not failed:
        return None
    attempted = [stop for stop in failed if stop.reason not in NOT_ATTEMPTED_REASONS]
    skipped = [stop for stop in failed if stop.reason in NOT_ATTEMPTED_REASONS]
    parts = []
    if attempted:
        causes = Counter(stop.cause or stop.error or "no answer" for stop in attempted).most_common()
        listed = ", ".join(f"{cause} ({count})" if len(causes) > 1 else cause for cause, count in causes[:3])
        more = f", and {len(causes) - 3} other causes" if len(causes) > 3 else ""
        example = attempted[0].error
        detail = f" (first: {example})" if example and example != attempted[0].cause else ""
        parts.append(f"{len(attempted)} of {len(stops)} {unit} failed: {listed}{more}{detail}")
    if skipped:
        reasons = Counter(stop.error for stop in skipped).most_common(1)
        parts.append(f"{len(skipped)} of {len(stops)} {unit} {reasons[0][0]}")
    return "; ".join(parts)


def main_reason(stops: list[StopOutcome]) -> FreshnessReason | None:
    """The most common reason among the stops that failed (this fetch's errors before refusals)."""
    failed = [stop for stop in stops if not stop.answered and stop.reason is not None]
    if not failed:
        return None
    attempted = [stop for stop in failed if stop.reason not in NOT_ATTEMPTED_REASONS] or failed
    return Counter(stop.reason for stop in attempted).most_common(1)[0][0]


def failed_stop(station_id: str, source: str, error: UpstreamError) -> StopOutcome:
    return StopOutcome(
        station_id=station_id,
        source=source,
        answered=False,
        departures=0,
        reason=error.reason_code,
        error=error.reason,
        cause=error.short,
    )


@dataclass(frozen=True)
class DepartureBatch:
    """The departures a source found for a line, asking stop by stop, and what became of each stop."""

    departures: list[DepartureRecord]
    stops: list[StopOutcome]
    error: str | None  # what failed on the way, for operators
    dropped: dict[str, int]  # upstream entries that could not be used, by reason

    @property
    def ok(self) -> bool:
        """Some stop answered."""
        return any(stop.answered for stop in self.stops)

    @classmethod
    def of(
        cls,
        departures: list[DepartureRecord],
        *,
        stops: list[StopOutcome],
        unit: str,
        unplaced: int,
        line_id: str,
        dropped: dict[str, int] | None = None,
    ) -> DepartureBatch:
        notes = []
        failures = describe_failures(stops, unit=unit)
        if failures:
            notes.append(failures)
        if unplaced:
            notes.append(f"{unplaced} departures to a terminus not on {line_id} skipped")
        dropped = {reason: count for reason, count in (dropped or {}).items() if count}
        if dropped:
            notes.append(
                "visits dropped: " + ", ".join(f"{count} {reason}" for reason, count in sorted(dropped.items()))
            )
        return cls(departures=departures, stops=stops, error="; ".join(notes) or None, dropped=dropped)
