"""The PRIM budget in the database: one row per API, taken from by every PRIM request of the fleet.

A worker takes a request from the budget (`FleetBudget.acquire`) before sending it: one transaction on the row takes
one unit of what remains until the reset and the fleet's next pacing slot for each request of the process waiting
then, so the daily allowance and the per-second limit hold whatever the number of workers (scale 1 -> 8 -> 2: the
row does not care). Each PRIM answer's rate-limit
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
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
from sqlalchemy import Float, Integer, Table, bindparam, case, delete, select, update
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
# The headers of a PRIM answer that say something of the key's allowance.
RATE_LIMIT_HEADERS = ("x-ratelimit-limit-day", "x-ratelimit-remaining-day", "ratelimit-limit", "ratelimit-reset")
# How long a worker trusts what it read of the key's state.
KEY_STATE_TTL_SECONDS = 2.0
# How long a worker may keep PRIM's headers of routine answers (same limits, same day, requests left) before it
# writes them: a cycle's burst makes one write every this often, not one per wave of answers. What changes the plan
# (a 429, a full second, new limits, a new day, the day spent) is written at once.
ROUTINE_HEADERS_SECONDS = 2.0
# How long a stopping worker tries to write them.
CLOSE_SECONDS = 5.0


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


def _unreadable(exc: BaseException) -> UpstreamError:
    return UpstreamError(
        "quota", f"not attempted: the shared PRIM budget is unreadable (database: {type(exc).__name__})"
    )


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


# The two statements of a take, built once: the row read FOR UPDATE, and what the take changes of it.
_BUDGETS = cast(Table, UpstreamBudget.__table__)
_NOW = bindparam("p_now", type_=_BUDGETS.c.updated_at.type)
_ROW_TO_TAKE_FROM = (
    select(
        _BUDGETS.c.reset_at,
        _BUDGETS.c.next_slot_epoch,
        _BUDGETS.c.spacing_seconds,
        _BUDGETS.c.remaining,
        _BUDGETS.c.daily_limit,
        _BUDGETS.c.per_second_limit,
    )
    .where(_BUDGETS.c.api == bindparam("p_api"))
    .with_for_update()
)
_TAKEN = (
    update(_BUDGETS)
    .where(_BUDGETS.c.api == bindparam("p_api"))
    .values(
        remaining=_BUDGETS.c.remaining - bindparam("p_granted"),
        used_today=_BUDGETS.c.used_today + bindparam("p_granted"),
        held_back_today=_BUDGETS.c.held_back_today + bindparam("p_held_back"),
        next_slot_epoch=bindparam("p_next_slot"),
        updated_at=_NOW,
    )
)


# The usual take in one statement: `p_count` units and as many slots, guarded (see `FleetBudget._take_all`).
_NOW_EPOCH = bindparam("p_now_epoch", type_=Float)
_COUNT = bindparam("p_count", type_=Integer)
_FIRST_FREE_SLOT = case((_BUDGETS.c.next_slot_epoch > _NOW_EPOCH, _BUDGETS.c.next_slot_epoch), else_=_NOW_EPOCH)
_TAKE_ALL = (
    update(_BUDGETS)
    .where(
        _BUDGETS.c.api == bindparam("p_api"),
        _BUDGETS.c.reset_at > _NOW,
        _BUDGETS.c.remaining >= _COUNT,
        # The last request's slot, start + (count - 1) x spacing, no later than the soonest any can wait for.
        _FIRST_FREE_SLOT + (_COUNT - 1) * _BUDGETS.c.spacing_seconds <= bindparam("p_latest_start", type_=Float),
    )
    .values(
        remaining=_BUDGETS.c.remaining - _COUNT,
        used_today=_BUDGETS.c.used_today + _COUNT,
        next_slot_epoch=_FIRST_FREE_SLOT + _COUNT * _BUDGETS.c.spacing_seconds,
        updated_at=_NOW,
    )
    .returning(_BUDGETS.c.next_slot_epoch, _BUDGETS.c.spacing_seconds)
)


@dataclass
class _Waiter:
    """A request waiting for its unit of the budget: the longest it may wait for its slot, and where it gets it."""

    max_wait: float
    slot: asyncio.Future[float]


@dataclass
class _Answers:
    """PRIM's rate-limit headers of the answers not yet written to the row: the latest answer's, with how many were
    refused (429) and whether any said this second was full, since the last write; `urgent` once one of them changes
    the plan (then the writer writes at once, and the observers of such answers wait for it)."""

    headers: Mapping[str, str]
    observed_epoch: float
    refused: int = 0
    second_full: bool = False
    urgent: asyncio.Event = field(default_factory=asyncio.Event)
    written: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class _Said:
    """What PRIM's headers said of the key when this process last wrote them: a change is written at once."""

    day_limit: int | None
    per_second: int | None
    reset_epoch: float | None

    @classmethod
    def of(cls, headers: Mapping[str, str], observed_epoch: float) -> _Said:
        reset_in = _int_header(headers, "ratelimit-reset")
        return cls(
            _int_header(headers, "x-ratelimit-limit-day"),
            _int_header(headers, "ratelimit-limit"),
            None if reset_in is None else observed_epoch + reset_in,
        )

    def differs(self, other: _Said) -> bool:
        if (self.day_limit, self.per_second) != (other.day_limit, other.per_second):
            return True
        if self.reset_epoch is None or other.reset_epoch is None:
            return self.reset_epoch != other.reset_epoch
        return abs(other.reset_epoch - self.reset_epoch) > NEW_DAY_THRESHOLD.total_seconds()


class FleetBudget:
    """A worker's handle on the shared budget: `acquire` before a PRIM request, `observe` its answer.

    The row is the fleet's one point of contention, so a process holds at most one transaction on it per API at a
    time: requests waiting meanwhile are served together by the next (each its own unit and its own slot, in order),
    and answers observed meanwhile are written together by the next (the latest headers, every 429 counted). The
    pacing and the daily count are exactly those of one request at a time."""

    def __init__(self, database: Database, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock
        self.key_id = key_digest(settings.prim_api_key)
        self._key_checked_at = -1e18
        self._key_reading: asyncio.Task[None] | None = None
        self._key_rejection: str | None = None  # the message, while PRIM rejects our key
        self._reported: str | None = None
        self._replaced_key_marked = False
        self._prepared = False
        self._waiting: dict[str, list[_Waiter]] = {}
        self._takers: dict[str, asyncio.Task[None]] = {}
        self._answers: dict[str, _Answers] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._said: dict[str, _Said] = {}  # by API, as last written

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
        except DATABASE_ERRORS as exc:
            raise _unreadable(exc) from exc
        waiter = _Waiter(max_wait, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(api, []).append(waiter)
        if api not in self._takers:
            self._takers[api] = asyncio.create_task(self._serve_waiting(api))
        return await waiter.slot

    async def _serve_waiting(self, api: str) -> None:
        """Serves `api`'s waiting requests, all those waiting at once in one transaction, until none waits."""
        try:
            while waiting := [waiter for waiter in self._waiting.pop(api, []) if not waiter.slot.done()]:
                try:
                    verdicts = await self._take(api, [waiter.max_wait for waiter in waiting])
                except DATABASE_ERRORS as exc:
                    verdicts = [_unreadable(exc)] * len(waiting)
                except Exception as exc:  # noqa: BLE001 - a bug must reach the requests, not die in this task
                    verdicts = [exc] * len(waiting)
                except BaseException:
                    for waiter in waiting:
                        waiter.slot.cancel()
                    raise
                for waiter, verdict in zip(waiting, verdicts, strict=True):
                    if waiter.slot.done():  # its request gave up meanwhile (deadline); the unit is spent
                        continue
                    if isinstance(verdict, BaseException):
                        waiter.slot.set_exception(verdict)
                    else:
                        waiter.slot.set_result(verdict)
        finally:
            del self._takers[api]
            for waiter in self._waiting.pop(api, []):  # only when cancelled (the process is stopping)
                waiter.slot.cancel()

    async def _take(self, api: str, waits: Sequence[float]) -> list[float | Exception]:
        """One unit and one pacing slot for each request, in order, or why it must not go: the Unix time of its
        slot, or an `UpstreamError` (the day is spent, or its slot is further off than it can wait)."""
        if self._prepared and (slots := await self._take_all(api, waits)) is not None:
            return slots
        return await self._take_each(api, waits)

    async def _take_all(self, api: str, waits: Sequence[float]) -> list[float | Exception] | None:
        """The usual case in one guarded `UPDATE ... RETURNING` (one round trip, the row locked for that statement
        only): every request gets its unit and its slot, the day not over, enough left, the last slot within what
        every request can wait. None when any of that fails: `_take_each` then decides request by request."""
        now_epoch = self._clock()
        parameters = {
            "p_api": api,
            "p_count": len(waits),
            "p_now_epoch": now_epoch,
            "p_latest_start": now_epoch + min(waits),
            "p_now": datetime.fromtimestamp(now_epoch, UTC),
        }
        async with self._database.statement_engine.begin() as connection:
            row = (await connection.execute(_TAKE_ALL, parameters)).one_or_none()
        if row is None:
            return None
        start = row.next_slot_epoch - len(waits) * row.spacing_seconds
        return [start + index * row.spacing_seconds for index in range(len(waits))]

    async def _take_each(self, api: str, waits: Sequence[float]) -> list[float | Exception]:
        for _ in range(3):
            now_epoch = self._clock()
            now = datetime.fromtimestamp(now_epoch, UTC)
            async with self._database.write_sessions() as session, session.begin():
                if not self._prepared:
                    await ensure_budgets(session, self._settings, now)
                    self._prepared = True
                row = (await session.execute(_ROW_TO_TAKE_FROM, {"p_api": api})).one_or_none()
                if row is None:
                    self._prepared = False
                    continue
                if row.reset_at <= now:
                    await roll_over(session, now)
                    continue
                start = max(row.next_slot_epoch, now_epoch)
                verdicts: list[float | Exception] = []
                granted = held_back = 0
                for max_wait in waits:
                    slot = start + granted * row.spacing_seconds
                    if granted >= row.remaining:
                        held_back += 1
                        verdicts.append(
                            UpstreamError(
                                "quota",
                                f"not attempted: PRIM {api}: the key's {row.daily_limit} requests of the day are "
                                f"spent; PRIM counts again from {row.reset_at.strftime('%H:%M:%S')} UTC",
                                short="PRIM allowance spent",
                            )
                        )
                    elif slot > now_epoch + max_wait:
                        verdicts.append(
                            UpstreamError(
                                "quota",
                                f"not attempted: PRIM {api} paced at {row.per_second_limit}/s across the fleet: "
                                f"next free slot in {slot - now_epoch:.1f} s",
                                short="PRIM pacing",
                            )
                        )
                    else:
                        verdicts.append(slot)
                        granted += 1
                taken = {
                    "p_api": api,
                    "p_granted": granted,
                    "p_held_back": held_back,
                    "p_next_slot": start + granted * row.spacing_seconds if granted else row.next_slot_epoch,
                    "p_now": now,
                }
                await session.execute(_TAKEN, taken)
            return verdicts
        raise UpstreamError("quota", f"not attempted: PRIM {api}: the shared budget row could not be taken from")

    async def observe(self, api: str, response: httpx.Response) -> None:
        """Reads PRIM's rate-limit headers (and a 401 or 429) into the shared budget. An answer that changes the plan
        (see `_record_headers`) returns once written, with those observed meanwhile; a routine one at once, its
        headers written within ROUTINE_HEADERS_SECONDS."""
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
        refused = response.status_code == 429
        if not refused and not any(name in response.headers for name in RATE_LIMIT_HEADERS):
            return
        observed_epoch = self._clock()
        answers = self._answers.get(api)
        if answers is None:
            answers = self._answers[api] = _Answers(response.headers, observed_epoch)
        else:
            answers.headers, answers.observed_epoch = response.headers, observed_epoch
        answers.refused += int(refused)
        second_full = refused or _int_header(response.headers, "ratelimit-remaining") == 0
        answers.second_full |= second_full
        said = self._said.get(api)
        urgent = (
            second_full
            or said is None
            or said.differs(_Said.of(response.headers, observed_epoch))
            or _int_header(response.headers, "x-ratelimit-remaining-day") == 0
        )
        if api not in self._writers:
            self._writers[api] = asyncio.create_task(self._write_answers(api))
        if urgent:
            answers.urgent.set()
            await asyncio.shield(answers.written)

    async def _write_answers(self, api: str) -> None:
        """Writes `api`'s observed answers, those observed while writing in the next transaction, until none is
        left; routine ones at most every ROUTINE_HEADERS_SECONDS, those that change the plan at once."""
        try:
            while (answers := self._answers.get(api)) is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answers.urgent.wait(), ROUTINE_HEADERS_SECONDS)
                del self._answers[api]
                try:
                    await self._write_headers(api, answers)
                except BaseException as exc:
                    answers.written.set_exception(exc)
                    answers.written.exception()  # retrieved: every observer logs it
                    if not isinstance(exc, Exception):
                        raise
                else:
                    self._said[api] = _Said.of(answers.headers, answers.observed_epoch)
                    answers.written.set_result(None)
        finally:
            del self._writers[api]

    async def aclose(self) -> None:
        """Writes the routine answers still kept (the process is stopping); gives up after a few seconds (the
        database is down: they only said what the row's own count already knows, a little late)."""
        for answers in self._answers.values():
            answers.urgent.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._writers.values(), return_exceptions=True), CLOSE_SECONDS)

    async def _write_headers(self, api: str, answers: _Answers) -> None:
        headers = answers.headers
        day_limit = _int_header(headers, "x-ratelimit-limit-day")
        day_remaining = _int_header(headers, "x-ratelimit-remaining-day")
        per_second = _int_header(headers, "ratelimit-limit")
        reset_in = _int_header(headers, "ratelimit-reset")
        now = datetime.fromtimestamp(answers.observed_epoch, UTC)
        async with self._database.write_sessions() as session, session.begin():
            row = await session.get(UpstreamBudget, api, with_for_update=True)
            if row is None:
                return
            row.refused_today += answers.refused
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
                    row.refused_today = answers.refused
                    row.held_back_today = 0
                    row.day_started_at = now
                    day_remaining = None
                row.reset_at = reset_at
            if day_remaining is not None:
                row.remaining = min(row.remaining, day_remaining)
            if answers.second_full:
                # PRIM's second is full (requests arrived later than their slots): the fleet waits for the next.
                row.next_slot_epoch = max(row.next_slot_epoch, float(int(self._clock()) + 1))
            row.observed_at = now
            row.updated_at = now

    async def _check_key(self) -> None:
        if self._clock() - self._key_checked_at >= KEY_STATE_TTL_SECONDS:
            # One read for all the requests that find the state old at once (a cycle's burst would make dozens).
            if self._key_reading is None or self._key_reading.done():
                self._key_reading = asyncio.create_task(self._read_key())
                self._key_reading.add_done_callback(_retrieved)
            await asyncio.shield(self._key_reading)
        if self._key_rejection is not None:
            raise UpstreamError(
                "key_rejected",
                f"not attempted: {self._key_rejection}; PRIM is not asked until the key changes or an operator "
                "retries (POST /api/system/prim/key/retry)",
            )

    async def _read_key(self) -> None:
        now = self._clock()
        async with self._database.sessions() as session:
            status = await key_status(session)
        self._key_checked_at = now
        rejected = status is not None and status.state == "rejected" and status.key_id == self.key_id
        self._key_rejection = status.message if rejected and status is not None else None
        # Another key was rejected: ours replaced it; its first good answer clears the mark.
        self._replaced_key_marked = status is not None and status.key_id != self.key_id

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


def _retrieved(task: asyncio.Task[None]) -> None:
    """Marks a shared read's failure as seen: the requests that awaited it got it; none may be left to see it."""
    if not task.cancelled():
        task.exception()
