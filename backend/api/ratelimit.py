"""Rate limit of the mutating system endpoints (scale, trigger): API_MUTATION_RATE_PER_MINUTE per client.

A client is the caller's key and address. The limit is a moving window over the last minute (the `limits` library, in
this process's memory), which is enough to stop a runaway script or a stuck button; it is not a shared quota across
API replicas. A refused request is a 429 with `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from backend.api.security import AdminCaller, Caller
from backend.config import Settings

audit = logging.getLogger("backend.api.audit")


class MutationLimiter:
    """At most `limit` hits per key in any minute."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._item = RateLimitItemPerMinute(limit)
        self._window = MovingWindowRateLimiter(MemoryStorage())  # expires idle keys by itself

    async def hit(self, key: str) -> float | None:
        """Record a hit for `key`: None when allowed, else the seconds until the next hit would be."""
        if await self._window.hit(self._item, key):
            return None
        stats = await self._window.get_window_stats(self._item, key)
        return max(0.0, stats.reset_time - time.time())


def mutation_limiter(request: Request) -> MutationLimiter:
    """The app's limiter for mutating endpoints, made on first use from its settings."""
    limiter: MutationLimiter | None = getattr(request.app.state, "mutation_limiter", None)
    if limiter is None:
        settings: Settings = request.app.state.settings
        limiter = request.app.state.mutation_limiter = MutationLimiter(settings.api_mutation_rate_per_minute)
    return limiter


async def limit_mutations(request: Request, caller: AdminCaller) -> Caller:
    """The admin caller, once its request fits in the mutation rate limit."""
    client = request.client.host if request.client else "unknown"
    retry_after = await mutation_limiter(request).hit(f"{caller.role}@{client}")
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
