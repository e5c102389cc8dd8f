"""Reading `system_logs` back: filters, plain-text search, keyset paging (newest first) and the live tail.

The query shapes are chosen for the indexes: `(created_at, id)`, `(service, created_at)`, `(level_no, created_at)`
for filters and ordering, and on Postgres a trigram GIN index on `SEARCH_TEXT_SQL` (migration 0002) for `search`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Text, cast, func, literal_column, or_, select

from backend.db.engine import Database
from backend.db.keyset import INVALID_CURSOR, InvalidCursorError, decode_cursor, encode_cursor
from backend.db.models import SystemLog
from backend.vocabulary import LogLevel

# What `search` looks in: the message and the extra fields' JSON text. Migration 0002 indexes exactly this expression
# on Postgres (`SEARCH_TEXT_SQL`); the two must stay identical for the index to be used.
SEARCH_TEXT_SQL = "message || ' ' || (extra)::text"
_LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class LogFilters:
    service: str | None = None
    level: str | None = None  # exactly this level
    min_level: str | None = None  # this level or more severe
    search: str | None = None  # plain text, case-insensitive, in the message or the extra fields
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


@dataclass(frozen=True)
class LogCursor:
    """A position in the newest-first order: the last row of the previous page."""

    created_at: dt.datetime
    id: int

    def encode(self) -> str:
        return encode_cursor(self.created_at, self.id)

    @classmethod
    def decode(cls, value: str) -> LogCursor:
        created_at, row_id = decode_cursor(value)
        if not row_id.isascii() or not row_id.isdigit() or int(row_id) < 1:
            raise InvalidCursorError(INVALID_CURSOR)
        return cls(created_at, int(row_id))


@dataclass(frozen=True)
class LogPage:
    items: list[SystemLog]
    next_cursor: str | None


def escape_like(text: str) -> str:
    """`text` as a literal LIKE pattern: `%`, `_` and the escape character itself lose their meaning."""
    return (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_")
    )


def search_text() -> ColumnElement[str]:
    """`SEARCH_TEXT_SQL` as a SQLAlchemy expression (the separator is a literal, not a bound parameter, so that the
    expression matches the index's)."""
    return SystemLog.message + literal_column("' '", Text) + cast(SystemLog.extra, Text)


def _conditions(filters: LogFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.service:
        conditions.append(SystemLog.service == filters.service)
    if filters.level:
        conditions.append(SystemLog.level == filters.level)
    if filters.min_level:
        conditions.append(SystemLog.level_no >= LogLevel(filters.min_level).number)
    if filters.since is not None:
        conditions.append(SystemLog.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(SystemLog.created_at < filters.until)
    if filters.search:
        # NULs are stored as U+FFFD (`records.clean_text`); search for them the same way.
        pattern = f"%{escape_like(filters.search.replace(chr(0), chr(0xFFFD)))}%"
        conditions.append(search_text().ilike(pattern, escape=_LIKE_ESCAPE))
    return conditions


def search_query(filters: LogFilters, cursor: LogCursor | None) -> Select[SystemLog]:
    """The logs matching `filters`, newest first, after `cursor` (without a limit)."""
    query = select(SystemLog).where(*_conditions(filters))
    if cursor is not None:
        # Keyset on (created_at, id), spelled so that the created_at bound can drive any of the btree indexes.
        query = query.where(
            SystemLog.created_at <= cursor.created_at,
            or_(SystemLog.created_at < cursor.created_at, SystemLog.id < cursor.id),
        )
    return query.order_by(SystemLog.created_at.desc(), SystemLog.id.desc())


async def search_logs(
    database: Database, filters: LogFilters, *, limit: int = 100, cursor: LogCursor | None = None
) -> LogPage:
    """One page of logs, newest first, and the cursor of the next (older) page if there is one."""
    async with database.sessions() as session:
        rows = list((await session.scalars(search_query(filters, cursor).limit(limit + 1))).all())
    if len(rows) <= limit:
        return LogPage(items=rows, next_cursor=None)
    last = rows[limit - 1]
    return LogPage(items=rows[:limit], next_cursor=LogCursor(last.created_at, last.id).encode())


async def latest_log_id(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.max(SystemLog.id), 0))) or 0)


async def logs_after(
    database: Database, filters: LogFilters, *, after_id: int, limit: int, up_to_id: int | None = None
) -> Sequence[SystemLog]:
    """Logs with an id above `after_id` (and at most `up_to_id`), oldest first: the live tail's poll."""
    query = select(SystemLog).where(SystemLog.id > after_id, *_conditions(filters))
    if up_to_id is not None:
        query = query.where(SystemLog.id <= up_to_id)
    async with database.sessions() as session:
        return (await session.scalars(query.order_by(SystemLog.id).limit(limit))).all()


async def newest_logs(database: Database, filters: LogFilters, *, up_to_id: int, limit: int) -> list[SystemLog]:
    """The newest `limit` logs matching `filters` with an id of at most `up_to_id`, oldest first (a tail's backlog)."""
    query = select(SystemLog).where(SystemLog.id <= up_to_id, *_conditions(filters))
    async with database.sessions() as session:
        rows = (await session.scalars(query.order_by(SystemLog.id.desc()).limit(limit))).all()
    return list(reversed(rows))


class LiveTail:
    """Follows new logs by id for the live stream.

    Postgres hands out ids before commit, so a batch inserted by one process can become visible just after a batch
    with higher ids from another. The tail therefore re-reads from the high-water mark of the previous poll (one poll
    interval of grace) and skips the ids it already sent.
    """

    def __init__(self, filters: LogFilters, after_id: int, *, batch_size: int = 500) -> None:
        self.filters = filters
        self.batch_size = batch_size
        self.more = False  # the last poll hit its limit: poll again without waiting
        self._floor = after_id
        self._high = after_id
        self._recent: set[int] = set()

    async def poll(self, database: Database) -> list[SystemLog]:
        limit = self.batch_size + len(self._recent)
        rows = await logs_after(database, self.filters, after_id=self._floor, limit=limit)
        fresh = [row for row in rows if row.id not in self._recent]
        self.more = len(rows) >= limit
        floor = self._high
        if rows:
            self._high = max(self._high, rows[-1].id)
        self._recent = {row_id for row_id in self._recent | {row.id for row in fresh} if row_id > floor}
        self._floor = floor
        return fresh
