"""Rate limit of the mutating system endpoints (scale, trigger): API_MUTATION_RATE_PER_MINUTE per client.

A client is the caller's key and address. The limit is kept in this process's memory (a sliding window of the last
minute's requests), which is enough to stop a runaway script or a stuck button; it is not a shared quota across API
replicas. A refused request is a 429 with `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from backend.api.security import AdminCaller, Caller
from backend.config import Settings

audit = logging.getLogger("backend.api.audit")


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window_seconds`."""

    def __init__(
        self,
        limit: int,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Record a hit for `key`: None when allowed, else the seconds until the next hit would be."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(0.0, hits[0] + self.window - now)
        hits.append(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]


def mutation_limiter(request: Request) -> SlidingWindowLimiter:
    """The app's limiter for mutating endpoints, made on first use from its settings."""
    limiter: SlidingWindowLimiter | None = getattr(request.app.state, "mutation_limiter", None)
    if limiter is None:
        settings: Settings = request.app.state.settings
        limiter = request.app.state.mutation_limiter = SlidingWindowLimiter(settings.api_mutation_rate_per_minute)
    return limiter


async def limit_mutations(request: Request, caller: AdminCaller) -> Caller:
    """The admin caller, once its request fits in the mutation rate limit."""
    client = request.client.host if request.client else "unknown"
    retry_after = mutation_limiter(request).hit(f"{caller.role}@{client}")
    if retry_after is not None:
        seconds = max(1, math.ceil(retry_after))
        action = request.url.path.removeprefix("/api/system/").replace("/", ".")
        audit.warning(
            "%s by %s: refused, rate limited (retry in %d s)",
            action,
            caller.label,
            seconds,
            extra={"action": action, "caller": caller.label, "outcome": "rate limited", "status_code": 429},
        )
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many scale or trigger requests: at most {mutation_limiter(request).limit} a minute; "
            f"retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    return caller


RateLimitedAdminCaller = Annotated[Caller, Depends(limit_mutations)]
