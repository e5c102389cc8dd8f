"""Viewing leases: a public line or station page tells the scheduler that someone is looking at its lines.

`RefreshPlans` answers, for a line page, how often the line is planned to be refreshed (the scheduler's plan, read
at most every few seconds), so that a board the budget cannot keep fresh says how old it will be.

Each answer of `GET /api/lines/{network}/{code}` and `GET /api/stations/{id}` starts or renews the lease of the
lines it shows (backend/budget/ledger.py); the dashboard's polling keeps it alive, and it ends VIEW_LEASE_SECONDS
after the last view. The scheduler fetches viewed lines on demand, at a higher priority, within the share of the
PRIM budget kept for them. A process writes a line's lease at most once every `RENEW_EVERY_SECONDS` (polls in
between change nothing), in the background: a page never waits for it, and a lease that cannot be written never
fails the page.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
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
        self._due: dict[str, None] = {}  # in the order they fell due
        self._writing: asyncio.Task[None] | None = None

    def viewed(self, line_ids: Iterable[str]) -> None:
        """Someone is looking at `line_ids`: their leases are written in the background when due (one write at a
        time, taking every line that fell due meanwhile), so that a page never waits for the database."""
        clock = time.monotonic()
        written = self._written
        for line_id in line_ids:
            if clock - written.get(line_id, -1e18) >= self._renew_every:
                written[line_id] = clock
                self._due[line_id] = None
        if self._due and self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_due())

    async def _write_due(self) -> None:
        try:
            while self._due:
                due = list(self._due)
                self._due.clear()
                try:
                    async with self._database.write_sessions() as session, session.begin():
                        await ledger.record_views(session, due, now=datetime.now(UTC), lease=self._lease)
                except DATABASE_ERRORS as exc:
                    logger.warning("viewing lease of %s not recorded: %s", ", ".join(due), exc)
                    for line_id in due:
                        self._written.pop(line_id, None)  # the next view tries again
                    return
        finally:
            self._writing = None

    async def close(self) -> None:
        """Lets a lease being written finish (before the database is disposed of)."""
        if self._writing is not None:
            await asyncio.wait([self._writing])


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
