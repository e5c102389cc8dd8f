"""Viewing leases: a public line or station page tells the scheduler that someone is looking at its lines.

`RefreshPlans` answers, for a line page, how often the line is planned to be refreshed (the scheduler's plan, read
at most every few seconds), so that a board the budget cannot keep fresh says how old it will be.

Each answer of `GET /api/lines/{network}/{code}` and `GET /api/stations/{id}` starts or renews the lease of the
lines it shows (backend/budget/ledger.py); the dashboard's polling keeps it alive, and it ends VIEW_LEASE_SECONDS
after the last view. The scheduler fetches viewed lines on demand, at a higher priority, within the share of the
PRIM budget kept for them. A process writes a line's lease at most once every `RENEW_EVERY_SECONDS` (polls in
between change nothing), and a lease that cannot be written never fails the page.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from backend.budget import ledger
from backend.budget.plan import BudgetPlan
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.scheduler.planner import current_plan

logger = logging.getLogger("backend.api.views")

RENEW_EVERY_SECONDS = 15.0


class ViewLeases:
    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._lease = timedelta(seconds=settings.view_lease_seconds)
        self._renew_every = min(RENEW_EVERY_SECONDS, settings.view_lease_seconds / 4)
        self._written: dict[str, float] = {}

    async def viewed(self, line_ids: Sequence[str]) -> None:
        clock = time.monotonic()
        due = [
            line_id
            for line_id in dict.fromkeys(line_ids)
            if clock - self._written.get(line_id, -1e18) >= self._renew_every
        ]
        if not due:
            return
        try:
            async with self._database.write_sessions() as session, session.begin():
                await ledger.record_views(session, due, now=datetime.now(UTC), lease=self._lease)
        except DATABASE_ERRORS as exc:
            logger.warning("viewing lease of %s not recorded: %s", ", ".join(due), exc)
            return
        for line_id in due:
            self._written[line_id] = clock


class RefreshPlans:
    """The scheduler's current plan, computed again at most every `ttl_seconds`."""

    def __init__(self, database: Database, settings: Settings, *, ttl_seconds: float = 5.0) -> None:
        self._database = database
        self._settings = settings
        self._ttl = ttl_seconds
        self._plan: BudgetPlan | None = None
        self._at = -1e18

    async def interval_of(self, line_id: str) -> float | None:
        clock = time.monotonic()
        if self._plan is None or clock - self._at >= self._ttl or self._plan.interval_of(line_id) is None:
            try:
                self._plan = (await current_plan(self._database, self._settings, now=datetime.now(UTC))).plan
            except DATABASE_ERRORS as exc:
                logger.warning("refresh plan unavailable: %s", exc)
                return None
            self._at = clock
        interval = self._plan.interval_of(line_id)
        if interval is None or math.isinf(interval):
            return None
        return round(interval, 1)
