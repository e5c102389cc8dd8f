"""Circuit breaker, daily quota pacing and Retry-After reading, driven by a hand-moved clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from backend.services.resilience import CircuitBreaker, DailyQuota, Deadline, UpstreamError
from backend.services.upstream_http import retry_after_seconds


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_rejects_without_calling() -> None:
    clock = Clock()
    breaker = CircuitBreaker("prim", failure_threshold=3, cooldown_seconds=30, clock=clock)

    for _ in range(2):
        breaker.before_request()
        breaker.record_failure("HTTP 500 from /stop-monitoring")
    assert breaker.snapshot().state == "closed"
    breaker.before_request()
    breaker.record_failure("HTTP 500 from /stop-monitoring")

    assert breaker.snapshot().state == "open"
    with pytest.raises(UpstreamError) as raised:
        breaker.before_request()
    assert raised.value.kind == "circuit_open"
    assert "after 3 failure(s)" in raised.value.reason
    assert raised.value.reason.startswith("not attempted: prim paused until ")
    assert "HTTP 500" in raised.value.reason
    assert "next try in 30 s" in raised.value.reason


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker("prim", failure_threshold=2, cooldown_seconds=30, clock=Clock())

    breaker.record_failure("timeout")
    breaker.record_success()
    breaker.record_failure("timeout")

    assert breaker.snapshot().state == "closed"


def test_breaker_lets_one_probe_through_after_the_cool_down_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker("vmtr", failure_threshold=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure("socket connection failed")

    clock.now += 10
    assert breaker.snapshot().state == "half_open"
    breaker.before_request()  # the probe
    with pytest.raises(UpstreamError):
        breaker.before_request()  # no second request while the probe is out
    breaker.record_success()

    assert breaker.snapshot().state == "closed"
    breaker.before_request()


def test_failed_probe_reopens_for_another_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker("ratp_http", failure_threshold=5, cooldown_seconds=10, clock=clock)
    for _ in range(5):
        breaker.record_failure("HTTP 503")
    clock.now += 11

    breaker.before_request()
    breaker.record_failure("HTTP 503")

    assert breaker.snapshot().state == "open"
    clock.now += 9
    assert breaker.snapshot().state == "open"
    clock.now += 1
    assert breaker.snapshot().state == "half_open"


def test_cancelled_probe_is_released() -> None:
    clock = Clock()
    breaker = CircuitBreaker("prim", failure_threshold=1, cooldown_seconds=5, clock=clock)
    breaker.record_failure("timeout")
    clock.now += 5
    breaker.before_request()

    breaker.release()

    breaker.before_request()


def test_hold_pauses_the_source_for_the_time_asked() -> None:
    clock = Clock()
    breaker = CircuitBreaker("prim", failure_threshold=5, cooldown_seconds=30, clock=clock)

    breaker.hold(120, "HTTP 429 (Retry-After 120 s)")

    assert breaker.snapshot().retry_in_seconds == pytest.approx(120)
    clock.now += 119
    assert breaker.snapshot().state == "open"
    clock.now += 1
    assert breaker.snapshot().state == "half_open"


def test_a_request_answered_during_a_hold_does_not_end_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker("prim", failure_threshold=5, cooldown_seconds=30, clock=clock)
    breaker.before_request()  # sent before the 429 came back

    breaker.hold(120, "HTTP 429 (Retry-After 120 s)")
    breaker.record_success()

    # The upstream asked for two minutes: an answer to a request sent earlier does not end them.
    assert breaker.snapshot().state == "open"
    assert breaker.snapshot().retry_in_seconds == pytest.approx(120)
    with pytest.raises(UpstreamError):
        breaker.before_request()
    clock.now += 120
    breaker.before_request()  # the probe
    breaker.record_success()
    assert breaker.snapshot().state == "closed"


async def test_quota_slows_down_when_the_pace_would_exhaust_it() -> None:
    clock = Clock()
    # 86 400 a day is one a second; a burst of 2 s worth.
    quota = DailyQuota("PRIM departures", 86_400, burst_seconds=2, clock=clock)

    await quota.acquire(max_wait=0)
    await quota.acquire(max_wait=0)
    with pytest.raises(UpstreamError) as refused:
        await quota.acquire(max_wait=0.5)
    assert refused.value.kind == "quota"
    assert "pacing" in refused.value.reason

    started = asyncio.get_running_loop().time()
    clock.now += 0.95  # a token is 0.05 s away: the request waits for it
    await quota.acquire(max_wait=0.5)
    assert asyncio.get_running_loop().time() - started >= 0.04
    snapshot = quota.snapshot()
    assert (snapshot.used_today, snapshot.paced, snapshot.refused) == (3, 1, 1)


async def test_quota_refuses_before_the_daily_limit() -> None:
    clock = Clock(datetime(2025, 3, 14, 10, tzinfo=UTC).timestamp())
    quota = DailyQuota("PRIM traffic", 100, safety_fraction=0.05, burst_seconds=86_400, clock=clock)

    for _ in range(95):
        await quota.acquire(max_wait=0)
    with pytest.raises(UpstreamError) as refused:
        await quota.acquire(max_wait=0)

    assert "daily quota reached" in refused.value.reason
    assert quota.snapshot().used_today == 95
    assert quota.snapshot().remaining_today == 0


async def test_quota_counts_again_from_zero_the_next_day() -> None:
    clock = Clock(datetime(2025, 3, 14, 22, 59, tzinfo=UTC).timestamp())  # 23:59 in Paris
    quota = DailyQuota("PRIM traffic", 10, safety_fraction=0.0, burst_seconds=86_400, clock=clock)
    for _ in range(10):
        await quota.acquire(max_wait=0)

    clock.now += 120  # 00:01 in Paris

    await quota.acquire(max_wait=0)
    assert quota.snapshot().used_today == 1
    assert quota.snapshot().day == "2025-03-15"


def test_quota_share_divides_the_plan_between_processes() -> None:
    quota = DailyQuota("PRIM departures", 1_000_000, processes=16)

    assert quota.snapshot().process_share == 62_500


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("Fri, 14 Mar 2025 08:02:00 GMT", now=now) == 120.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_deadline_caps_waits_and_ends() -> None:
    clock = Clock()
    deadline = Deadline(5, clock=clock)

    assert deadline.cap(10) == 5
    clock.now += 4
    assert deadline.cap(10) == pytest.approx(1)
    clock.now += 1
    with pytest.raises(UpstreamError) as raised:
        deadline.cap(10)
    assert raised.value.kind == "timeout"
