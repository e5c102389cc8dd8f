"""`GET /api/system/logs` (search the centralized logs) and `GET /api/system/logs/stream` (live tail, server-sent
events). Both need a system API key (admin or read-only). The queries live in `backend.logs.repository`."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import Field

from backend.api.routers.deps import AppDatabase, database_unavailable, invalid_input, known_query_parameters
from backend.api.schemas import ApiModel, ErrorResponse
from backend.api.security import ReadCaller, require_read_key
from backend.db.engine import DATABASE_ERRORS, Database
from backend.db.keyset import InvalidCursorError
from backend.db.models import SystemLog
from backend.logs.repository import (
    LiveTail,
    LogCursor,
    LogFilters,
    latest_log_id,
    newest_logs,
    search_logs,
)
from backend.vocabulary import LogLevel, Service

router = APIRouter(
    prefix="/api/system/logs",
    tags=["system"],
    dependencies=[Depends(require_read_key)],  # the key first, before any parameter
    responses={
        401: {"model": ErrorResponse, "description": "Missing `X-API-Key`."},
        403: {"model": ErrorResponse, "description": "Wrong key."},
        422: {"model": ErrorResponse, "description": "Invalid parameter (the message says which and why)."},
    },
)

# Seconds between two polls of the table by a live tail, and between two heartbeat comments when nothing is sent.
STREAM_POLL_SECONDS = 1.0
STREAM_HEARTBEAT_SECONDS = 15.0
STREAM_BACKLOG_LIMIT = 1000

# Upper case, as stored: the query side compares exactly.
Level = LogLevel | None
ServiceQuery = Annotated[
    Service | None,
    Query(description="Only logs of this service."),
]
LevelQuery = Annotated[Level, Query(description="Only logs of exactly this level.")]
MinLevelQuery = Annotated[
    Level,
    Query(description="Only logs of this level or more severe: DEBUG < INFO < WARNING < ERROR < CRITICAL."),
]
Search = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Plain text looked for, case-insensitively, in the message and the extra fields (no control "
        "characters). `%`, `_`, quotes and backslashes match themselves.",
    ),
]
# ISO 8601 as people and programs write it: a date, optionally a time, optionally an offset (none means UTC).
# [0-9], not \d: Python's \d also matches other scripts' digits, ECMA-262's (the OpenAPI reader's) does not.
ISO_8601_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)
_ISO_8601 = re.compile(ISO_8601_PATTERN)


def _time_query(description: str) -> Any:
    return Query(
        description=f"{description} ISO 8601, e.g. `2026-03-01T12:00:00Z` or `2026-03-01` (UTC when no offset).",
        max_length=40,
        json_schema_extra={"pattern": ISO_8601_PATTERN},
    )


class LogRecord(ApiModel):
    """One structured log record."""

    id: int = Field(description="Increasing id of the record.")
    created_at: dt.datetime = Field(description="When the record was emitted (UTC).")
    service: str = Field(description="The emitting service.", examples=["worker"])
    level: str = Field(description="DEBUG, INFO, WARNING, ERROR or CRITICAL.", examples=["ERROR"])
    logger: str = Field(description="The Python logger name.", examples=["backend.workers.worker"])
    message: str = Field(description="The formatted message.")
    extra: dict[str, Any] = Field(
        description="Structured fields: `request_id`, `task_id`, `line_id`, `worker_id`, `exception`, …"
    )


class LogPage(ApiModel):
    """Logs, newest first; pass `next_cursor` as `cursor` for the next (older) page (null on the last page)."""

    items: list[LogRecord]
    next_cursor: str | None


def _parse_time(parameter: str, value: str | None) -> dt.datetime | None:
    """An ISO 8601 query value as an aware UTC datetime (numbers such as Unix times are refused: ambiguous)."""
    if value is None:
        return None
    try:
        if not _ISO_8601.fullmatch(value):
            raise ValueError(value)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid_input(
            ("query", parameter),
            "expected an ISO 8601 time, e.g. 2026-03-01T12:00:00Z or 2026-03-01 (UTC when no offset)",
            value,
        ) from exc
    try:
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    except OverflowError as exc:
        raise invalid_input(
            ("query", parameter), "out of range: the time in UTC must fall between years 1 and 9999", value
        ) from exc


def _since(
    since: Annotated[str | None, _time_query("Only logs created at or after this time.")] = None,
) -> dt.datetime | None:
    return _parse_time("since", since)


def _until(
    until: Annotated[str | None, _time_query("Only logs created before this time.")] = None,
) -> dt.datetime | None:
    return _parse_time("until", until)


MAX_LOG_ID = 2**63 - 1  # a BIGINT


def _resume_after(
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)] = None,
) -> int | None:
    """The id of the last record a reconnecting client received (the `id` of an event we sent)."""
    resume = last_event_id.strip() if last_event_id else ""
    if not resume:
        return None
    if not resume.isascii() or not resume.isdigit() or int(resume) > MAX_LOG_ID:
        raise invalid_input(
            ("header", "Last-Event-ID"),
            "expected the id of an event of this stream: digits 0-9, at most 2^63-1",
            last_event_id,
        )
    return int(resume)


# Parsed in dependencies, so that a bad value is a 422 before a stream starts.
Since = Annotated[dt.datetime | None, Depends(_since)]
Until = Annotated[dt.datetime | None, Depends(_until)]
ResumeAfter = Annotated[int | None, Depends(_resume_after)]


@router.get(
    "",
    response_model=LogPage,
    summary="Search the centralized logs, newest first",
    dependencies=[
        known_query_parameters("limit", "service", "level", "min_level", "search", "since", "until", "cursor")
    ],
)
async def list_logs(
    database: AppDatabase,
    _caller: ReadCaller,
    limit: Annotated[int, Query(ge=1, le=1000, description="Records per page (1 to 1000).")] = 100,
    service: ServiceQuery = None,
    level: LevelQuery = None,
    min_level: MinLevelQuery = None,
    search: Search = None,
    since: Since = None,
    until: Until = None,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` of the previous page, unchanged: an opaque URL-safe base64 token (A-Z, a-z, "
            "0-9, `-`, `_`, no padding). Any other value is a 422.",
        ),
    ] = None,
) -> LogPage:
    if since is not None and until is not None and until <= since:
        raise invalid_input(("query", "until"), "until must be after since", until.isoformat())
    position = None
    if cursor is not None:
        try:
            position = LogCursor.decode(cursor)
        except InvalidCursorError as exc:
            raise invalid_input(("query", "cursor"), str(exc), cursor) from exc
    filters = LogFilters(service=service, level=level, min_level=min_level, search=search, since=since, until=until)
    try:
        page = await search_logs(database, filters, limit=limit, cursor=position)
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc) from exc
    return LogPage(items=[LogRecord.model_validate(row) for row in page.items], next_cursor=page.next_cursor)


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    summary="Follow the centralized logs live (server-sent events)",
    dependencies=[known_query_parameters("service", "level", "min_level", "search", "since")],
    description="One `LogRecord` JSON per `data:` line (its `id` as the event id), oldest first, as they are written. "
    "With `since`, the newest records since then (up to 1000) come first. A reconnecting client's `Last-Event-ID` "
    "resumes after that record (a header that is not such an id is a 422). Comment lines (`: heartbeat`) keep idle "
    "connections open.",
)
async def stream_logs(
    request: Request,
    database: AppDatabase,
    _caller: ReadCaller,
    service: ServiceQuery = None,
    level: LevelQuery = None,
    min_level: MinLevelQuery = None,
    search: Search = None,
    since: Since = None,
    resume_after: ResumeAfter = None,
) -> AsyncIterator[ServerSentEvent]:
    filters = LogFilters(service=service, level=level, min_level=min_level, search=search, since=since)
    tail: LiveTail | None = None
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        try:
            if tail is None:
                tail, backlog = await _start_tail(database, filters, resume_after)
                rows = backlog
            else:
                rows = await tail.poll(database)
        except DATABASE_ERRORS as exc:
            yield ServerSentEvent(comment=f"database unavailable ({type(exc).__name__}), retrying")
            last_sent = time.monotonic()
            await asyncio.sleep(STREAM_POLL_SECONDS)
            continue
        for row in rows:
            yield ServerSentEvent(data=LogRecord.model_validate(row), id=str(row.id))
        if rows:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= STREAM_HEARTBEAT_SECONDS:
            yield ServerSentEvent(comment="heartbeat")
            last_sent = time.monotonic()
        if not tail.more:
            await asyncio.sleep(STREAM_POLL_SECONDS)


async def _start_tail(
    database: Database, filters: LogFilters, resume_after: int | None
) -> tuple[LiveTail, list[SystemLog]]:
    if resume_after is not None:
        return LiveTail(filters, resume_after), []
    start = await latest_log_id(database)
    backlog: list[SystemLog] = []
    if filters.since is not None:
        backlog = await newest_logs(database, filters, up_to_id=start, limit=STREAM_BACKLOG_LIMIT)
    return LiveTail(filters, start), backlog
