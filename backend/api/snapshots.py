"""Pre-serialised rider answers: a line's board, a station's board and the lines list, kept as bytes in the API
process and rebuilt when the data under them changes.

Data changes when a worker writes a line (every write upserts the line's `line_snapshots` row with a new
`fetched_at` and `task_run_id`). Each process checks those versions, every `API_SNAPSHOT_CHECK_SECONDS` at most,
with one small query over `lines LEFT JOIN line_snapshots`; a line's answer is rebuilt when its own version moved,
a station's answer and the lines list when any version moved (or the catalogue was synced again). A request that
finds its answer kept never waits for that check (backend/api/snapshot_hits.py): a due check runs in the
background, so a worker's write shows within one interval plus one query.

What the clock alone changes is never served wrong from a snapshot:
- `age_seconds` is written into the bytes at serve time, from the `last_success_at` beside it;
- a snapshot lasts only until its first departure passes (it is then no longer listed, and the next one of its
  board comes in) and until its first fresh board or line turns stale (`stale`, `status`, `stops_stale` and the
  summary change), so a passed departure or a stale board called fresh is never served;
- `Cache-Control: max-age` never lets a client keep an answer past that moment either.

The ETag is weak: two answers with the same tag differ at most in `age_seconds`, which a client derives from
`last_success_at` (the dashboard does). A miss builds the answer once, validated once, with concurrent requests
for the same answer waiting for that one build.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import utcnow
from backend.db.engine import DATABASE_ERRORS, Database
from backend.db.models import Line, LineSnapshot, TrafficStatus
from backend.livedata.queries import AT_PLATFORM_GRACE

logger = logging.getLogger("backend.api.snapshots")

# Where an age goes: a string value for the key `age_seconds`, which no data can produce (in JSON an unescaped
# `"age_seconds":"` is a key and its string value, and every real `age_seconds` is a number or null).
_AGE_MARK = re.compile(rb'"age_seconds":"age:(\d+)"')
_AGE_KEY = "age_seconds"
# Rebuilt at least this often whatever the versions say: a bound on any change this module does not see.
_LONGEST_LIFE = timedelta(minutes=10)

LineVersions = dict[str, tuple[Any, ...]]
# ("line", line id), ("station", station id) or ("lines",)
SnapshotKey = tuple[str, ...]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_AGE_STEP_US = 100_000  # ages are rounded to a tenth of a second


def _microseconds(moment: datetime) -> int:
    """Exact, as `timedelta.total_seconds()` counts: a float of POSIX seconds would round some ages differently."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One answer's bytes, cut where an `age_seconds` value goes, and how long they stay true."""

    chunks: tuple[bytes, ...]  # len(ages_of) + 1 pieces of the body, each age's key at the end of the one before
    ages_of: tuple[int, ...]  # per age in body order, its index in `successes`
    successes: tuple[int, ...]  # the distinct `last_success_at` the ages are counted from (POSIX microseconds)
    valid_until: datetime  # the first moment the clock changes the answer (a departure passes, a board turns stale)
    etag: str
    tag: Hashable  # the versions of the data it was built from
    # The last body written, from when and until when (POSIX microseconds) its rounded ages stay exact.
    _memo: list[Any] = field(default_factory=lambda: [b"", float("-inf"), float("-inf")], compare=False)

    def body(self, now: datetime) -> bytes:
        if not self.ages_of:
            return self.chunks[0]
        at = _microseconds(now)
        body, written_at, exact_until = self._memo
        if written_at <= at < exact_until:
            return cast(bytes, body)
        # An age as the response models round it (queries._age); each may change where it crosses a half tenth.
        ages = [b"%.1f" % (max(0, at - success) / 1e6) for success in self.successes]
        until = at + min(
            (success + _AGE_STEP_US // 2 - at) % _AGE_STEP_US or _AGE_STEP_US for success in self.successes
        )
        parts = [self.chunks[0]]
        for index, chunk in zip(self.ages_of, self.chunks[1:], strict=True):
            parts.append(ages[index])
            parts.append(chunk)
        body = b"".join(parts)
        self._memo[:] = [body, at, until]
        return body

    def max_age(self, now: datetime, longest: float) -> int:
        """Seconds a client may keep the answer: within the refresh interval, never past `valid_until`."""
        return max(0, int(min(longest, (self.valid_until - now).total_seconds())))


def _departure_leaves_at(item: dict[str, Any]) -> datetime:
    """When a listed departure stops being listed (queries._next_departures_query): at its time, or, for a train a
    recent answer saw at the platform, a grace after its time and after that answer."""
    expected_at: datetime = item["expected_at"]
    if item.get("vehicle_at_stop"):
        seen_at: datetime = item["fetched_at"]
        return max(expected_at, min(expected_at, seen_at) + AT_PLATFORM_GRACE)
    return expected_at


def snapshot_of(
    model: BaseModel, *, stale_after_seconds: float, now: datetime, tag: Hashable, until: datetime | None = None
) -> Snapshot:
    """Serialise a validated response once, marking each `age_seconds` and finding the first moment the clock
    changes the answer: a listed departure's departure, a fresh board's or line's turning stale, or `until` (what
    the clock changes that the answer does not show item by item, such as a count of stale boards)."""
    data = model.model_dump()
    ages_from: list[datetime] = []
    horizon = min(now + _LONGEST_LIFE, until) if until is not None else now + _LONGEST_LIFE
    stale_after = timedelta(seconds=stale_after_seconds)

    def visit(value: Any) -> None:
        nonlocal horizon
        if isinstance(value, list):
            for item in value:
                visit(item)
            return
        if not isinstance(value, dict):
            return
        if "expected_at" in value and "vehicle_at_stop" in value:
            horizon = min(horizon, _departure_leaves_at(value))
        if _AGE_KEY in value:
            last_success_at = value.get("last_success_at")
            if isinstance(last_success_at, datetime):
                value[_AGE_KEY] = f"age:{len(ages_from)}"
                ages_from.append(last_success_at)
                if value.get("stale") is False:
                    horizon = min(horizon, last_success_at + stale_after)
        for item in value.values():
            if isinstance(item, list | dict):
                visit(item)

    visit(data)
    template = to_json(data)
    pieces = _AGE_MARK.split(template)
    # split() alternates body pieces and captured indexes; each age's key goes back at the end of its piece.
    chunks = tuple(piece + (b'"age_seconds":' if n < len(ages_from) else b"") for n, piece in enumerate(pieces[0::2]))
    if [int(index) for index in pieces[1::2]] != list(range(len(ages_from))):
        raise AssertionError("age marks lost in serialisation")
    successes = {success: index for index, success in enumerate(dict.fromkeys(map(_microseconds, ages_from)))}
    ages_of = tuple(successes[_microseconds(success)] for success in ages_from)
    etag = 'W/"' + hashlib.blake2b(template, digest_size=12).hexdigest() + '"'
    return Snapshot(chunks, ages_of, tuple(successes), horizon, etag, tag)


async def line_versions(session: AsyncSession) -> LineVersions:
    """Every line's data version: its latest write's time and task (None for a line never fetched), and its traffic
    status's time (the fleet's read of the traffic feed writes every line's status and disruptions at once)."""
    rows = await session.execute(
        select(Line.id, LineSnapshot.fetched_at, LineSnapshot.task_run_id, TrafficStatus.updated_at)
        .outerjoin(LineSnapshot, LineSnapshot.line_id == Line.id)
        .outerjoin(TrafficStatus, TrafficStatus.line_id == Line.id)
    )
    return {line_id: (fetched_at, task_run_id, traffic_at) for line_id, fetched_at, task_run_id, traffic_at in rows}


async def read_line_versions(database: Database) -> LineVersions:
    async with database.sessions() as session:
        return await line_versions(session)


@dataclass
class RiderSnapshots:
    """The process's snapshots and the data versions they were built from.

    `read_versions` reads every line's version (`line_versions`); `synced_at` says when the process found the
    catalogue in its database (its arrival drops every snapshot, built while the lines were missing)."""

    check_seconds: float
    read_versions: Callable[[], Awaitable[LineVersions]]
    synced_at: Callable[[], datetime | None]
    versions: LineVersions = field(default_factory=dict)
    generation: int = 0  # moves whenever any line's version (or the catalogue) moves
    catalogue_synced_at: datetime | None = None
    _checked_at: float = float("-inf")
    _check: asyncio.Future[None] | None = None
    _background_check: asyncio.Task[None] | None = None
    _entries: dict[SnapshotKey, Snapshot] = field(default_factory=dict)
    _building: dict[SnapshotKey, asyncio.Future[Snapshot | None]] = field(default_factory=dict)

    def _note_catalogue_sync(self) -> None:
        synced_at = self.synced_at()
        if synced_at != self.catalogue_synced_at:
            self.catalogue_synced_at = synced_at
            self._entries.clear()
            self.generation += 1

    async def refresh_versions(self) -> None:
        """Read the versions when the last read is older than `check_seconds` (one read at a time)."""
        self._note_catalogue_sync()
        if time.monotonic() - self._checked_at < self.check_seconds:
            return
        if self._check is not None:
            await asyncio.shield(self._check)
            return
        self._check = asyncio.get_running_loop().create_future()
        try:
            started = time.monotonic()
            versions = await self.read_versions()
            if versions != self.versions:
                changed = {
                    line
                    for line in versions.keys() | self.versions.keys()
                    if versions.get(line) != self.versions.get(line)
                }
                self.versions = versions
                self.generation += 1
                for key in [key for key in self._entries if key[0] != "line" or key[1] in changed]:
                    del self._entries[key]
            self._checked_at = started
            self._check.set_result(None)
        except BaseException as exc:
            self._check.set_exception(exc)
            self._check.exception()  # retrieved here, raised by whoever awaits it
            raise
        finally:
            self._check = None

    def hit(self, key: SnapshotKey) -> tuple[Snapshot, datetime] | None:
        """The kept answer for `key` when the clock and the data leave it true, without waiting for anything: when
        the versions are due for a check, the check runs in the background (one at a time) and this answer, built
        from data at most one check old, is served meanwhile. None when a request must go the full way: nothing
        kept, a kept answer the clock or the data made untrue, or `check_seconds` 0 (every read checks first)."""
        if self.check_seconds <= 0:
            return None
        self._note_catalogue_sync()
        if time.monotonic() - self._checked_at >= self.check_seconds and self._background_check is None:
            self._background_check = asyncio.get_running_loop().create_task(self._check_in_background())
        kept = self._entries.get(key)
        if kept is None:
            return None
        now = utcnow()
        if now < kept.valid_until and kept.tag == self.tag_for(key):
            return kept, now
        return None

    async def _check_in_background(self) -> None:
        try:
            await self.refresh_versions()
        except DATABASE_ERRORS as exc:
            # Kept answers stay true by the clock; a failed check is tried again one interval later.
            self._checked_at = time.monotonic()
            logger.warning("data versions not checked: %s: %s", type(exc).__name__, exc)
        finally:
            self._background_check = None

    async def close(self) -> None:
        if self._background_check is not None:
            self._background_check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background_check

    def tag_for(self, key: SnapshotKey) -> Hashable:
        """What an answer depends on: a line's answer on its line's version, the others on every version."""
        if key[0] == "line":
            return ("line", self.versions.get(key[1]), self.catalogue_synced_at)
        return ("all", self.generation)

    async def get(
        self, key: SnapshotKey, build: Callable[[Hashable, datetime], Awaitable[Snapshot | None]]
    ) -> tuple[Snapshot | None, datetime]:
        """The answer for `key` now: the kept one while its data and the clock leave it true, else one build shared
        by every request asking meanwhile. None when `build` finds nothing (nothing is kept then)."""
        while True:
            now = utcnow()
            tag = self.tag_for(key)
            kept = self._entries.get(key)
            if kept is not None and kept.tag == tag and now < kept.valid_until:
                return kept, now
            pending = self._building.get(key)
            if pending is None:
                return await self._build(key, tag, now, build), now
            shared = await asyncio.shield(pending)
            now = utcnow()
            if shared is None or now < shared.valid_until:
                return shared, now

    async def _build(
        self,
        key: SnapshotKey,
        tag: Hashable,
        now: datetime,
        build: Callable[[Hashable, datetime], Awaitable[Snapshot | None]],
    ) -> Snapshot | None:
        pending: asyncio.Future[Snapshot | None] = asyncio.get_running_loop().create_future()
        self._building[key] = pending
        try:
            snapshot = await build(tag, now)
            if snapshot is not None and self.tag_for(key) == tag:
                self._entries[key] = snapshot
            pending.set_result(snapshot)
            return snapshot
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved here; raised again to whoever shares the build
            raise
        finally:
            del self._building[key]
