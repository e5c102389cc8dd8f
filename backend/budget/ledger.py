"""The PRIM budget in the database: one row per API, taken from by every PRIM request of the fleet.

A worker takes a request from the budget (`FleetBudget.acquire`) before sending it: one guarded UPDATE takes one unit
of what remains until the reset and the fleet's next pacing slot, so the daily allowance and the per-second limit
hold whatever the number of workers (scale 1 -> 8 -> 2: the row does not care). Each PRIM answer's rate-limit
headers (`x-ratelimit-limit-day`, `x-ratelimit-remaining-day`, `ratelimit-limit`, `ratelimit-reset`) then correct
the row: the key's real allowance replaces the configured quota (an upper bound), PRIM's count of what remains
lowers ours, and the reset time is PRIM's. A request the budget cannot cover is not sent ("not attempted"): the
fleet never sends a request it knows PRIM will refuse.

A 401 from PRIM marks the key rejected (`upstream_key_status`, with a digest of the key, never the key): every
worker then stops asking PRIM, until the key changes (a worker with another key ignores the mark) or an operator
retries (`POST /api/system/prim/key/retry`). Viewing leases (`line_views`) live here too: the API writes them, the
scheduler reads them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.budget.plan import PER_SECOND_USE, Allowance
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database, dialect_insert
from backend.db.models import LineView, UpstreamBudget, UpstreamKeyStatus
from backend.services.resilience import UpstreamError

logger = logging.getLogger("backend.budget")

PRIM_APIS = ("departures", "disruptions", "traffic", "navitia")
KEY_SOURCE = "prim"
# A reset PRIM announces this much later than ours means its new day has begun.
NEW_DAY_THRESHOLD = timedelta(seconds=30)
# Ours ends this much after PRIM's announced reset (its header is rounded to the second).
RESET_MARGIN = timedelta(seconds=1)
# How long a worker trusts what it read of the key's state.
KEY_STATE_TTL_SECONDS = 2.0


def configured_limit(settings: Settings, api: str) -> int:
    return {
        "departures": settings.prim_daily_quota_departures,
        "disruptions": settings.prim_daily_quota_disruptions,
        "traffic": settings.prim_daily_quota_traffic,
        "navitia": settings.prim_daily_quota_navitia,
    }[api]


def key_digest(api_key: str) -> str:
    """A short digest naming a key in the database and logs without revealing it."""
    return hashlib.sha256(api_key.strip().encode()).hexdigest()[:12]


def next_utc_midnight(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)


def spacing_for(per_second_limit: int | None) -> float:
    return 1.0 / (PER_SECOND_USE * per_second_limit) if per_second_limit else 0.0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.split(",")[0].strip()))
    except ValueError:
        return None


async def ensure_budgets(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """A row per PRIM API, from the configured quotas, unless it exists."""
    per_second = settings.prim_rate_limit_per_second or None
    rows = [
        {
            "api": api,
            "daily_limit": configured_limit(settings, api),
            "daily_limit_source": "configured",
            "per_second_limit": per_second,
            "spacing_seconds": spacing_for(per_second),
            "next_slot_epoch": 0.0,
            "remaining": configured_limit(settings, api),
            "used_today": 0,
            "refused_today": 0,
            "held_back_today": 0,
            "day_started_at": now,
            "reset_at": next_utc_midnight(now),
            "updated_at": now,
        }
        for api in PRIM_APIS
    ]
    await session.execute(dialect_insert(session)(UpstreamBudget).values(rows).on_conflict_do_nothing())


def next_reset_guess(row: UpstreamBudget, now: datetime) -> datetime:
    """Where the next day probably ends, until PRIM's next answer says: as long after now as the day that ended
    lasted (PRIM's days are 24 h; a test upstream's may be minutes), at least a minute, at most a day."""
    length = (row.reset_at - row.day_started_at).total_seconds()
    return now + timedelta(seconds=min(86_400.0, max(60.0, length)))


async def roll_over(session: AsyncSession, now: datetime) -> None:
    """A new day for every API whose reset has passed: the whole allowance again (PRIM's next answer corrects it)."""
    rows = (
        await session.execute(select(UpstreamBudget).where(UpstreamBudget.reset_at <= now).with_for_update())
    ).scalars()
    for row in rows:
        row.reset_at = next_reset_guess(row, now)
        row.day_started_at = now
        row.remaining = row.daily_limit
        row.used_today = row.refused_today = row.held_back_today = 0
        row.updated_at = now


async def budgets(session: AsyncSession) -> list[UpstreamBudget]:
    rows = (await session.execute(select(UpstreamBudget))).scalars()
    return sorted(rows, key=lambda row: PRIM_APIS.index(row.api) if row.api in PRIM_APIS else len(PRIM_APIS))


async def allowance(session: AsyncSession, api: str, settings: Settings, now: datetime) -> Allowance:
    """What the key has left on `api` (the configured quota for a whole day when nothing was recorded yet)."""
    row = await session.get(UpstreamBudget, api)
    if row is None:
        limit = configured_limit(settings, api)
        return Allowance(limit, limit, next_utc_midnight(now), settings.prim_rate_limit_per_second or None, False)
    if row.reset_at <= now:
        return Allowance(row.daily_limit, row.daily_limit, next_reset_guess(row, now), row.per_second_limit, False)
    observed = row.observed_at is not None and row.observed_at >= row.day_started_at
    return Allowance(row.daily_limit, row.remaining, row.reset_at, row.per_second_limit, observed)


# --- the key ---------------------------------------------------------------------------------------------------


async def key_status(session: AsyncSession) -> UpstreamKeyStatus | None:
    return await session.get(UpstreamKeyStatus, KEY_SOURCE)


async def retry_key(session: AsyncSession) -> bool:
    """An operator's retry: the fleet asks PRIM again (and marks the key again if PRIM still rejects it)."""
    result = await session.execute(delete(UpstreamKeyStatus).where(UpstreamKeyStatus.source == KEY_SOURCE))
    return bool(getattr(result, "rowcount", 0))


def rejection_message(response: httpx.Response) -> str:
    """ "PRIM rejected the API key: Unauthorized" (or "No API key found in request")."""
    try:
        detail = json.loads(response.text).get("message")
    except (ValueError, AttributeError):
        detail = None
    detail = str(detail or response.reason_phrase or "HTTP 401").strip()
    return f"PRIM rejected the API key: {detail}"


# --- viewing leases --------------------------------------------------------------------------------------------


async def record_views(session: AsyncSession, line_ids: Sequence[str], *, now: datetime, lease: timedelta) -> None:
    """Someone is looking at these lines: start or renew their leases."""
    if not line_ids:
        return
    rows = [
        {"line_id": line_id, "first_viewed_at": now, "last_viewed_at": now, "expires_at": now + lease, "views": 1}
        for line_id in dict.fromkeys(line_ids)
    ]
    insert = dialect_insert(session)(LineView).values(rows)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["line_id"],
            set_={
                "last_viewed_at": insert.excluded.last_viewed_at,
                "expires_at": insert.excluded.expires_at,
                "views": LineView.views + 1,
                # A lease that had lapsed starts again.
                "first_viewed_at": case(
                    (LineView.expires_at < insert.excluded.last_viewed_at, insert.excluded.first_viewed_at),
                    else_=LineView.first_viewed_at,
                ),
            },
        )
    )


async def viewed_lines(session: AsyncSession, *, now: datetime) -> list[LineView]:
    statement = select(LineView).where(LineView.expires_at > now).order_by(LineView.first_viewed_at)
    return list((await session.execute(statement)).scalars())


async def prune_views(session: AsyncSession, *, now: datetime, older_than: timedelta) -> int:
    result = await session.execute(delete(LineView).where(LineView.expires_at < now - older_than))
    return int(getattr(result, "rowcount", 0) or 0)


# --- the workers' side -----------------------------------------------------------------------------------------


class FleetBudget:
    """A worker's handle on the shared budget: `acquire` before a PRIM request, `observe` its answer."""

    def __init__(self, database: Database, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock
        self.key_id = key_digest(settings.prim_api_key)
        self._key_checked_at = -1e18
        self._key_rejection: str | None = None  # the message, while PRIM rejects our key
        self._reported: str | None = None
        self._replaced_key_marked = False
        self._prepared = False

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def acquire(self, api: str, max_wait: float) -> None:
        """Takes one request from `api`'s budget and waits for its pacing slot; raises `UpstreamError` (not attempted)
        when the key is rejected, the day's allowance is spent, or the next slot is further than `max_wait`."""
        delay = await self.take(api, max_wait) - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    async def take(self, api: str, max_wait: float) -> float:
        """Takes one request from `api`'s budget; returns the Unix time of its pacing slot (send it then)."""
        try:
            await self._check_key()
            return await self._take(api, max_wait)
        except DATABASE_ERRORS as exc:
            raise UpstreamError(
                "quota", f"not attempted: the shared PRIM budget is unreadable (database: {type(exc).__name__})"
            ) from exc

    async def _take(self, api: str, max_wait: float) -> float:
        for _ in range(3):
            now_epoch = self._clock()
            now = datetime.fromtimestamp(now_epoch, UTC)
            async with self._database.write_sessions() as session, session.begin():
                if not self._prepared:
                    await ensure_budgets(session, self._settings, now)
                    self._prepared = True
                start = case(
                    (UpstreamBudget.next_slot_epoch > now_epoch, UpstreamBudget.next_slot_epoch), else_=now_epoch
                )
                taken = (
                    await session.execute(
                        update(UpstreamBudget)
                        .where(
                            UpstreamBudget.api == api,
                            UpstreamBudget.remaining > 0,
                            UpstreamBudget.reset_at > now,
                            UpstreamBudget.next_slot_epoch <= now_epoch + max_wait,
                        )
                        .values(
                            remaining=UpstreamBudget.remaining - 1,
                            used_today=UpstreamBudget.used_today + 1,
                            next_slot_epoch=start + UpstreamBudget.spacing_seconds,
                            updated_at=now,
                        )
                        .returning(UpstreamBudget.next_slot_epoch, UpstreamBudget.spacing_seconds)
                    )
                ).first()
                if taken is not None:
                    return float(taken.next_slot_epoch - taken.spacing_seconds)
                row = await session.get(UpstreamBudget, api)
                if row is None:
                    self._prepared = False
                    continue
                if row.reset_at <= now:
                    await roll_over(session, now)
                    continue
                if row.remaining <= 0:
                    row.held_back_today += 1  # committed as the block ends; the refusal is raised after
                    refusal = UpstreamError(
                        "quota",
                        f"not attempted: PRIM {api}: the key's {row.daily_limit} requests of the day are spent; "
                        f"PRIM counts again from {row.reset_at.strftime('%H:%M:%S')} UTC",
                        short="PRIM allowance spent",
                    )
                else:
                    refusal = UpstreamError(
                        "quota",
                        f"not attempted: PRIM {api} paced at {row.per_second_limit}/s across the fleet: "
                        f"next free slot in {row.next_slot_epoch - now_epoch:.1f} s",
                        short="PRIM pacing",
                    )
            raise refusal
        raise UpstreamError("quota", f"not attempted: PRIM {api}: the shared budget row could not be taken from")

    async def observe(self, api: str, response: httpx.Response) -> None:
        """Reads PRIM's rate-limit headers (and a 401 or 429) into the shared budget."""
        try:
            if response.status_code == 401:
                await self._reject_key(rejection_message(response))
                return
            await self._record_headers(api, response)
            if 200 <= response.status_code < 300 and self._replaced_key_marked:
                await self._clear_rejection()
        except DATABASE_ERRORS as exc:
            logger.warning("could not record PRIM's rate-limit headers: %s", exc)

    async def _record_headers(self, api: str, response: httpx.Response) -> None:
        headers = response.headers
        day_limit = _int_header(headers, "x-ratelimit-limit-day")
        day_remaining = _int_header(headers, "x-ratelimit-remaining-day")
        per_second = _int_header(headers, "ratelimit-limit")
        second_left = _int_header(headers, "ratelimit-remaining")
        reset_in = _int_header(headers, "ratelimit-reset")
        refused = response.status_code == 429
        if day_limit is None and day_remaining is None and per_second is None and reset_in is None and not refused:
            return
        now = self._now()
        async with self._database.write_sessions() as session, session.begin():
            row = await session.get(UpstreamBudget, api, with_for_update=True)
            if row is None:
                return
            if refused:
                row.refused_today += 1
            if day_limit is not None and day_limit > 0:
                row.daily_limit = min(day_limit, configured_limit(self._settings, api))
                row.daily_limit_source = "prim"
            if per_second is not None and per_second > 0:  # PRIM's word replaces the configured assumption
                row.per_second_limit = per_second
                row.spacing_seconds = spacing_for(per_second)
            if reset_in is not None:
                reset_at = now + timedelta(seconds=reset_in) + RESET_MARGIN
                if reset_at > row.reset_at + NEW_DAY_THRESHOLD and day_remaining is not None:
                    row.remaining = min(day_remaining, row.daily_limit)  # PRIM's new day: its count is the truth
                    row.used_today = max(0, row.daily_limit - day_remaining)
                    row.refused_today = 1 if refused else 0
                    row.held_back_today = 0
                    row.day_started_at = now
                    day_remaining = None
                row.reset_at = reset_at
            if day_remaining is not None:
                row.remaining = min(row.remaining, day_remaining)
            if second_left == 0 or refused:
                # PRIM's second is full (requests arrived later than their slots): the fleet waits for the next.
                row.next_slot_epoch = max(row.next_slot_epoch, float(int(self._clock()) + 1))
            row.observed_at = now
            row.updated_at = now

    async def _check_key(self) -> None:
        now = self._clock()
        if now - self._key_checked_at >= KEY_STATE_TTL_SECONDS:
            async with self._database.sessions() as session:
                status = await key_status(session)
            self._key_checked_at = now
            rejected = status is not None and status.state == "rejected" and status.key_id == self.key_id
            self._key_rejection = status.message if rejected and status is not None else None
            # Another key was rejected: ours replaced it; its first good answer clears the mark.
            self._replaced_key_marked = status is not None and status.key_id != self.key_id
        if self._key_rejection is not None:
            raise UpstreamError(
                "key_rejected",
                f"not attempted: {self._key_rejection}; PRIM is not asked until the key changes or an operator "
                "retries (POST /api/system/prim/key/retry)",
            )

    async def _reject_key(self, message: str) -> None:
        now = self._now()
        async with self._database.write_sessions() as session, session.begin():
            insert = dialect_insert(session)(UpstreamKeyStatus).values(
                source=KEY_SOURCE, state="rejected", key_id=self.key_id, message=message, since=now
            )
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["source"],
                    set_={"state": "rejected", "key_id": self.key_id, "message": message, "since": now},
                    where=(UpstreamKeyStatus.state != "rejected") | (UpstreamKeyStatus.key_id != self.key_id),
                )
            )
        self._key_rejection = message
        self._key_checked_at = self._clock()
        if self._reported != message:
            self._reported = message
            logger.error(
                "%s (key %s); PRIM fetching stops until the key changes or an operator retries",
                message,
                self.key_id,
                extra={"key_id": self.key_id},
            )

    async def _clear_rejection(self) -> None:
        async with self._database.write_sessions() as session, session.begin():
            await session.execute(delete(UpstreamKeyStatus).where(UpstreamKeyStatus.key_id != self.key_id))
        self._replaced_key_marked = False
