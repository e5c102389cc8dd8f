"""Viewing leases: a public line or station page tells the scheduler that someone is looking at its lines.

Each answer of `GET /api/lines/{network}/{code}` and `GET /api/stations/{id}` starts or renews the lease of the
lines it shows (backend/budget/ledger.py); the dashboard's polling keeps it alive, and it ends VIEW_LEASE_SECONDS
after the last view. The scheduler fetches viewed lines on demand, at a higher priority, within the share of the
PRIM budget kept for them. A process writes a line's lease at most once every `RENEW_EVERY_SECONDS` (polls in
between change nothing), and a lease that cannot be written never fails the page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from backend.budget import ledger
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database

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
