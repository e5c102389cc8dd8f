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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from backend.services.records import DepartureRecord, SourceAttempt
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
]

# Faults that say the upstream itself is unwell; the others say our question or its answer was unusable.
_UPSTREAM_HEALTH_FAULTS: frozenset[str] = frozenset(
    {"timeout", "connection", "blocked", "rate_limited", "server_error", "bad_response"}
)


class UpstreamError(Exception):
    """An upstream did not give usable data; `reason` is what the attempt records."""

    def __init__(self, kind: ErrorKind, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.kind: ErrorKind = kind
        self.reason = reason
        self.retry_after = retry_after

    @property
    def counts_against_source(self) -> bool:
        return self.kind in _UPSTREAM_HEALTH_FAULTS

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
    time the upstream asked for (a 429's Retry-After) whatever the failure count.
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
        self._probe_in_flight = False
        self._last_error: str | None = None

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
        wait = max(0.0, self._open_until - self._clock())
        detail = f"last error: {self._last_error}" if self._last_error else "probe in flight"
        raise UpstreamError(
            "circuit_open",
            f"{self.name} circuit open after {self._failures} consecutive failure(s) ({detail}); "
            f"next try in {math.ceil(wait)} s",
        )

    def record_success(self) -> None:
        self._state = "closed"
        self._failures = 0
        self._probe_in_flight = False
        self._last_error = None

    def record_failure(self, reason: str) -> None:
        self._failures += 1
        self._last_error = reason
        was_probe = self._probe_in_flight
        self._probe_in_flight = False
        if was_probe or self._failures >= self.failure_threshold:
            self._open_for(self.cooldown_seconds)

    def release(self) -> None:
        """Forget a request that ended without an answer either way (cancelled)."""
        self._probe_in_flight = False

    def hold(self, seconds: float, reason: str) -> None:
        self._last_error = reason
        self._failures = max(self._failures, 1)
        self._probe_in_flight = False
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

    This process may use `daily_limit / processes` a day (several worker processes share one API key). Tokens
    refill evenly over the day with a burst of `burst_seconds` worth: a request finding none waits for one if
    that is quick, otherwise it is refused. The day follows Europe/Paris, as PRIM's counters do.
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
        self._cap = max(1, math.floor(self.share * (1.0 - safety_fraction)))
        self._rate = self.share / 86_400.0
        self._capacity = max(1.0, self._rate * burst_seconds)
        self._clock = clock
        self._tokens = self._capacity
        self._refilled_at = clock()
        self._day = self._today()
        self._used = 0
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
        if day != self._day:  # a new day's quota: the count and the burst start afresh
            self._day = day
            self._used = 0
            self._tokens = self._capacity

    async def acquire(self, max_wait: float) -> None:
        """Takes one request from the quota, waiting at most `max_wait` seconds; raises `UpstreamError("quota")`."""
        async with self._lock:
            self._refill()
            if self._used >= self._cap:
                self._refused += 1
                raise UpstreamError(
                    "quota",
                    f"{self.name} daily quota reached: {self._used} of this process's {self.share} "
                    f"(plan {self.daily_limit}/day) used today; refusing until midnight Europe/Paris",
                )
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self._rate
                if wait > max_wait:
                    self._refused += 1
                    raise UpstreamError(
                        "quota",
                        f"{self.name} quota pacing: {self.share}/day allows one request every "
                        f"{1 / self._rate:.2f} s; next in {wait:.1f} s",
                    )
                self._paced += 1
                await asyncio.sleep(wait)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)
            self._used += 1

    def snapshot(self) -> QuotaSnapshot:
        self._refill()
        return QuotaSnapshot(
            name=self.name,
            daily_limit=self.daily_limit,
            process_share=self.share,
            used_today=self._used,
            remaining_today=max(0, self._cap - self._used),
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


def most_common_reason(errors: list[UpstreamError]) -> str:
    reason, count = Counter(error.reason for error in errors).most_common(1)[0]
    return reason if count == len(errors) else f"{reason}, and {len(errors) - count} other"


@dataclass(frozen=True)
class DepartureBatch:
    """The departures a source found for a line, asking stop by stop, and a note on what failed on the way."""

    departures: list[DepartureRecord]
    ok: bool  # some stop answered
    error: str | None

    @classmethod
    def of(
        cls,
        departures: list[DepartureRecord],
        *,
        failures: list[UpstreamError],
        asked: int,
        unit: str,
        unplaced: int,
        line_id: str,
    ) -> DepartureBatch:
        notes = []
        if failures:
            notes.append(f"{len(failures)} of {asked} {unit} failed ({most_common_reason(failures)})")
        if unplaced:
            notes.append(f"{unplaced} departures to a terminus not on {line_id} skipped")
        return cls(departures=departures, ok=len(failures) < asked, error="; ".join(notes) or None)
