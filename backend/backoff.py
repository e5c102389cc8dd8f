"""Waiting out an outage: the one exponential backoff (on `tenacity`) of every loop that retries Kafka or the database.

A loop that meets an unreachable broker or database retries the same way: a first delay, doubled after each failure up
to a cap, started afresh by the next success (each `async for` over `retries(...)` is one outage), and cut short by
shutdown. Imports `lifecycle` only.

    async for attempt in retries(retry_on=KafkaError, first=1.0, cap=30.0, stopping=stopping, on_retry=log):
        with attempt:
            await ensure_topic(settings)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tenacity import (
    AsyncRetrying,
    AttemptManager,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential,
)

from backend.lifecycle import sleep_or_stop

RetryHook = Callable[[BaseException, float], object]


class _Retries(AsyncRetrying):
    """`AsyncRetrying` that makes no further attempt once `stopping` is set (the first one always goes out)."""

    def __init__(self, stopping: asyncio.Event | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stopping = stopping

    async def __anext__(self) -> AttemptManager:
        attempt = await super().__anext__()
        if self._stopping is not None and self._stopping.is_set() and attempt.retry_state.attempt_number > 1:
            raise StopAsyncIteration
        return attempt


def retries(
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    first: float,
    cap: float,
    stopping: asyncio.Event | None = None,
    on_retry: RetryHook | None = None,
) -> AsyncRetrying:
    """Attempts until one succeeds: `first`, `2 * first`, ... up to `cap` seconds apart, retrying only `retry_on`.

    `on_retry(error, delay)` runs before each wait (the loop's log line). With `stopping`, a wait ends when it is set
    and no further attempt is made: the iteration simply ends (the caller tells success from giving up). Other
    exceptions propagate at once.
    """

    async def wait(seconds: float) -> None:
        if stopping is None:
            await asyncio.sleep(seconds)
        else:
            await sleep_or_stop(stopping, seconds)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            error = state.outcome.exception()
            if error is not None:
                on_retry(error, state.next_action.sleep)

    return _Retries(
        stopping,
        retry=retry_if_exception_type(retry_on),
        wait=wait_exponential(multiplier=first, max=cap),
        stop=stop_never,
        sleep=wait,
        before_sleep=before_sleep,
        reraise=True,
    )


def restart_backoff(attempt: AttemptManager) -> None:
    """The attempt has got past its outage (a consumer that started): its failure waits `first` again."""
    attempt.retry_state.attempt_number = 1
