"""PRIM's rate limits, played by the stub upstream: a daily and a per-second allowance per API, and its headers.

PRIM (a Kong gateway) counts each API of a key apart (next departures, traffic messages, Navitia, the disruptions
feed), refuses with 429 past its per-second or daily limit, and says where the key stands on every answer:
`ratelimit-limit` / `ratelimit-remaining` (this second), `x-ratelimit-limit-day` / `x-ratelimit-remaining-day`, and
`ratelimit-reset` (seconds until the daily count starts again, about 00:00 UTC). A missing key is
`401 {"message": "No API key found in request"}`, a wrong one `401 {"message": "Unauthorized"}`.

`day_seconds` below 86,400 speeds the clock up: the stub's "day" then lasts that many real seconds from its start,
so that a test lives through a day (and its reset) in minutes. Only the day is sped up, never the second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

API_OF_ROUTE = {
    "stop-monitoring": "departures",
    "general-message": "traffic",
    "navitia": "navitia",
    "disruptions": "disruptions",
}
REAL_DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Verdict:
    """What the gateway says of one request: let through or refused (and why), and the headers it answers with."""

    allowed: bool
    headers: dict[str, str]
    refusal: str | None = None  # "second" | "day"
    retry_after: int | None = None


@dataclass
class _Count:
    day: int = -1
    used: int = 0
    second: int = -1
    in_second: int = 0


@dataclass
class RateLimits:
    daily_limit: int = 1_000_000
    per_second: int = 1_000
    day_seconds: float = REAL_DAY_SECONDS
    api_key: str | None = None  # the only key accepted; None: any non-empty key
    clock: Callable[[], float] = time.time
    started: float = field(default_factory=time.time)
    _counts: dict[str, _Count] = field(default_factory=dict, repr=False)
    refused: Counter[str] = field(default_factory=Counter)  # "departures:second", "departures:day", "key:missing"
    days: dict[str, dict[int, int]] = field(default_factory=dict)  # api -> day index -> requests let through
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, **values: Any) -> None:
        """Changes limits at run time (`POST /__stub/limits`); a new day length restarts the day count."""
        with self._lock:
            for name in ("daily_limit", "per_second", "day_seconds", "api_key"):
                if name in values:
                    setattr(self, name, values[name])
            if "day_seconds" in values:
                self.started = self.clock()
                self._counts.clear()
                self.days.clear()

    def _day(self, now: float) -> tuple[int, float]:
        """The day's index and the seconds until its reset."""
        if self.day_seconds >= REAL_DAY_SECONDS:
            today = datetime.fromtimestamp(now, UTC)
            midnight = datetime.combine(today.date() + timedelta(days=1), datetime.min.time(), UTC)
            return today.toordinal(), midnight.timestamp() - now
        index = math.floor((now - self.started) / self.day_seconds)
        return index, self.started + (index + 1) * self.day_seconds - now

    def check_key(self, key: str | None) -> str | None:
        """The 401 message for this key, or None when it is accepted."""
        if not key:
            message = "No API key found in request"
        elif self.api_key is not None and key != self.api_key:
            message = "Unauthorized"
        else:
            return None
        with self._lock:
            self.refused["key:" + ("missing" if not key else "rejected")] += 1
        return message

    def take(self, route: str) -> Verdict:
        api = API_OF_ROUTE.get(route, route)
        now = self.clock()
        with self._lock:
            day, reset_in = self._day(now)
            count = self._counts.setdefault(api, _Count())
            if count.day != day:
                count.day, count.used = day, 0
            second = math.floor(now)
            if count.second != second:
                count.second, count.in_second = second, 0
            refusal = None
            if count.used >= self.daily_limit:
                refusal = "day"
            elif count.in_second >= self.per_second:
                refusal = "second"
            else:
                count.used += 1
                count.in_second += 1
                self.days.setdefault(api, {})
                self.days[api][day] = self.days[api].get(day, 0) + 1
            if refusal is not None:
                self.refused[f"{api}:{refusal}"] += 1
            headers = {
                "ratelimit-limit": str(self.per_second),
                "ratelimit-remaining": str(max(0, self.per_second - count.in_second)),
                "ratelimit-reset": str(math.ceil(reset_in)),
                "x-ratelimit-limit-day": str(self.daily_limit),
                "x-ratelimit-remaining-day": str(max(0, self.daily_limit - count.used)),
            }
        if refusal is None:
            return Verdict(True, headers)
        retry_after = 1 if refusal == "second" else math.ceil(reset_in)
        return Verdict(False, {**headers, "Retry-After": str(retry_after)}, refusal, retry_after)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            day, reset_in = self._day(self.clock())
            return {
                "daily_limit": self.daily_limit,
                "per_second": self.per_second,
                "day_seconds": self.day_seconds,
                "day": day,
                "reset_in_seconds": round(reset_in, 1),
                "used_today": {api: count.used for api, count in self._counts.items() if count.day == day},
                "per_day": {api: {str(k): v for k, v in sorted(days.items())} for api, days in self.days.items()},
                "refused": dict(sorted(self.refused.items())),
                "refused_total": sum(count for key, count in self.refused.items() if not key.startswith("key:")),
            }
