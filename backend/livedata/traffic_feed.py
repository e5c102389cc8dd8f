"""Writing and reading PRIM's traffic feed: every line's disruptions and traffic status from one read of the feed.

The worker that ran the fleet's traffic task writes, in the transaction of the task's outcome: each catalogue line's
disruptions (`line_disruptions`, replaced as a whole), its traffic status (`traffic_status`, from the disruptions
current at that moment: a line the feed does not list is "normal"), and the feed's state (`traffic_feed`). A failed
read only marks the state: the lines keep their last status, and line fetches fall back to per-line requests
(`TrafficFeedGate`) until a read succeeds again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.db.models import Line, LineDisruption, TrafficFeed
from backend.livedata.repository import upsert_traffic
from backend.services.scrapers.prim_disruptions import DisruptionRecord, traffic_summary

FEED_SOURCE = "prim"
TRAFFIC_SOURCE = "prim:disruptions"  # `traffic_status.source` of a status the feed wrote
# How long a worker trusts what it read of the feed's state.
GATE_TTL_SECONDS = 5.0


def traffic_feed_fresh_for(settings: Settings) -> timedelta:
    """How old the feed's latest read may be and still stand in for per-line requests: three refreshes (a read
    that failed once and was retried still covers), at least a quarter of an hour."""
    return timedelta(seconds=max(3 * settings.prim_traffic_feed_seconds, 900.0))


async def store_feed(
    session: AsyncSession,
    disruptions: dict[str, list[DisruptionRecord]],
    *,
    line_ids: list[str],
    disruptions_count: int,
    now: datetime,
) -> None:
    """One successful read: `disruptions` per catalogue line; `line_ids` every line the feed speaks for (those not in
    the database yet, before the catalogue's first sync, are left for the next read)."""
    known = set((await session.execute(select(Line.id))).scalars())
    line_ids = [line_id for line_id in line_ids if line_id in known]
    disruptions = {line_id: records for line_id, records in disruptions.items() if line_id in known}
    await session.execute(delete(LineDisruption))
    rows = [
        {
            "line_id": record.line_id,
            "disruption_id": record.disruption_id,
            "severity": record.severity.value,
            "cause": record.cause,
            "title": record.title,
            "short_message": record.short_message,
            "message": record.message,
            "periods": [{"begin": p.begin.isoformat(), "end": p.end.isoformat()} for p in record.periods],
            "sections": [{"from": s.from_name, "to": s.to_name} for s in record.sections],
            "whole_line": record.whole_line,
            "last_update_at": record.last_update_at,
            "fetched_at": now,
        }
        for records in disruptions.values()
        for record in records
    ]
    if rows:
        await session.execute(insert(LineDisruption), rows)
    statuses = []
    for line_id in line_ids:
        level, message = traffic_summary(disruptions.get(line_id, []), now)
        statuses.append(
            {"line_id": line_id, "level": level, "message": message, "source": TRAFFIC_SOURCE, "updated_at": now}
        )
    await upsert_traffic(session, statuses)
    await _mark(
        session,
        now,
        last_success_at=now,
        last_error=None,
        disruptions_count=disruptions_count,
        lines_count=len(disruptions),
    )


async def record_feed_failure(session: AsyncSession, error: str, *, now: datetime) -> None:
    await _mark(session, now, last_failure_at=now, last_error=error[:1000])


async def _mark(session: AsyncSession, now: datetime, **values: object) -> None:
    row = await session.get(TrafficFeed, FEED_SOURCE)
    if row is None:
        row = TrafficFeed(source=FEED_SOURCE, disruptions_count=0, lines_count=0, updated_at=now)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now


async def feed_state(session: AsyncSession) -> TrafficFeed | None:
    return await session.get(TrafficFeed, FEED_SOURCE)


def feed_covers(row: TrafficFeed | None, *, now: datetime, fresh_for: timedelta) -> bool:
    """Whether the feed's latest read stands in for per-line traffic requests: it succeeded, is no older than
    `fresh_for`, and no read failed since."""
    if row is None or row.last_success_at is None or now - row.last_success_at > fresh_for:
        return False
    return row.last_failure_at is None or row.last_failure_at <= row.last_success_at


async def line_disruptions(session: AsyncSession, line_id: str) -> list[LineDisruption]:
    statement = select(LineDisruption).where(LineDisruption.line_id == line_id)
    return list((await session.execute(statement)).scalars())


class TrafficFeedGate:
    """A worker's view of the feed's state: `covers()` says whether line fetches may skip their own traffic
    request. Read at most every GATE_TTL_SECONDS; an unreadable database means "not covered" (ask per line)."""

    def __init__(self, database: Database, *, fresh_for: timedelta, clock: Callable[[], float] = time.monotonic):
        self._database = database
        self._fresh_for = fresh_for
        self._clock = clock
        self._checked_at = -1e18
        self._covers = False

    async def covers(self) -> bool:
        if self._clock() - self._checked_at < GATE_TTL_SECONDS:
            return self._covers
        try:
            async with self._database.sessions() as session:
                row = await feed_state(session)
        except DATABASE_ERRORS:
            row = None
        self._covers = feed_covers(row, now=datetime.now(UTC), fresh_for=self._fresh_for)
        self._checked_at = self._clock()
        return self._covers
