"""The database sink: a logging handler that never blocks, and the background writer that fills `system_logs`.

The handler only appends the record to a bounded in-memory buffer (or counts it as dropped when the buffer is full).
A daemon thread with its own event loop and its own engine (`<service>-logs`) takes batches from the buffer and
inserts them; it is independent of the application's event loop, so logging is safe from any thread and from async
code. When the database is unreachable the writer keeps its current batch and retries with backoff while the buffer
stays bounded (new records are dropped and counted); writing resumes when the database is back.

The writer's own database activity is never logged back into the table: records from the database drivers, from
Alembic and from this package are excluded by logger name, records emitted on the writer thread are ignored, and a
re-entrancy guard stops a record whose formatting logs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import insert
from sqlalchemy.exc import DataError as SQLDataError
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, retry_if_result, wait_exponential

from backend.config import Settings, host_name
from backend.db.engine import WRITE_OPTIONS, create_engine
from backend.db.models import SystemLog
from backend.logs.context import log_context
from backend.logs.records import MAX_MESSAGE_CHARS, clean_text, json_safe, record_extra

# Loggers whose records never reach the table: the database stack the writer itself uses, and this package.
EXCLUDED_LOGGER_PREFIXES = ("sqlalchemy", "asyncpg", "aiosqlite", "alembic", "backend.logs", "uvicorn.access")

INSERT_TIMEOUT_SECONDS = 30.0

SinkState = Literal["starting", "ok", "retrying", "stopped"]

_internal = logging.getLogger("backend.logs.sink")
_exception_formatter = logging.Formatter()
_BufferedRecord = tuple[logging.LogRecord, Mapping[str, Any]]


class LogWriter:
    """The background writer of one process: a bounded buffer, a daemon thread, batched inserts."""

    def __init__(
        self,
        settings: Settings,
        service: str,
        *,
        capacity: int | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_backoff: float = 10.0,
        drop_report_seconds: float = 60.0,
    ) -> None:
        self.service = service
        self.capacity = capacity or settings.centralized_log_queue_size
        self.batch_size = max(1, min(batch_size, self.capacity))
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.drop_report_seconds = drop_report_seconds
        self.state: SinkState = "starting"
        self.last_error: str | None = None
        self.written = 0
        self.failed = 0  # accepted, then refused by the database or abandoned at shutdown
        self._dropped = 0  # refused because the buffer was full
        self._reported_dropped = 0
        self._drop_lock = threading.Lock()
        self._buffer: deque[_BufferedRecord] = deque()
        self._in_flight = 0  # records taken from the buffer and not yet written
        self._host = host_name()
        # Built here so a bad URL or a missing driver fails the caller at start-up; it connects only on the writer's
        # own event loop.
        self._engine: AsyncEngine = create_engine(settings, f"{service}-logs")
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._thread_main, name=f"{service}-log-writer", daemon=True)
        self.thread_ident: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()  # set by close() to cut a backoff short; used on the writer's loop only
        self._closed = False
        self._last_report = time.monotonic()  # when dropped records were last reported

    # --- called from any thread --------------------------------------------------------------------------------

    def offer(self, item: _BufferedRecord) -> None:
        """Buffer one record, or count it as dropped when the buffer is full. Never blocks."""
        if len(self._buffer) + self._in_flight >= self.capacity or self._closed:
            with self._drop_lock:
                self._dropped += 1
            return
        self._buffer.append(item)

    def count_failed(self, count: int = 1) -> None:
        with self._drop_lock:
            self.failed += count

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def queue_depth(self) -> int:
        return len(self._buffer) + self._in_flight

    def start(self) -> None:
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every buffered record is written (or refused); False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while self.queue_depth and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        return self.queue_depth == 0

    def close(self, timeout: float = 5.0) -> None:
        """Write what is buffered (for at most `timeout` seconds), then stop the writer and release its engine."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop may have just closed
                self._loop.call_soon_threadsafe(self._wake.set)
        if self._thread.is_alive():
            self._thread.join(timeout + 2.0)
        self._report_drops(final=True)

    # --- the writer thread -------------------------------------------------------------------------------------

    def _thread_main(self) -> None:
        self.thread_ident = threading.get_ident()
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    async def _run(self) -> None:
        pending: list[dict[str, Any]] = []
        self._last_report = time.monotonic()
        try:
            while True:
                stopping = self._stopping.is_set()
                if not pending:
                    pending = self._take_batch()
                if not pending:
                    if stopping:
                        break
                    await asyncio.sleep(self.flush_interval)
                elif stopping and time.monotonic() >= self._deadline:
                    break
                elif await self._write_patiently(pending):
                    full = len(pending) >= self.batch_size
                    pending = []
                    self._in_flight = 0
                    if not full and not stopping:
                        # Let records gather into the next batch rather than inserting them one by one.
                        await asyncio.sleep(self.flush_interval)
                else:
                    break  # shutting down, and the deadline passed with the database still unreachable
                self._report_drops_when_due()
        finally:
            abandoned = len(pending) + len(self._buffer)
            self._buffer.clear()
            self._in_flight = 0
            if abandoned:
                self.count_failed(abandoned)
                _internal.warning("%d log records not written to the database at shutdown", abandoned)
            self.state = "stopped"
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._engine.dispose()

    def _take_batch(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while self._buffer and len(rows) < self.batch_size:
            # Counted before it leaves the buffer, so `flush()` never sees an empty queue with work in hand.
            self._in_flight = len(rows) + 1
            record, context = self._buffer.popleft()
            try:
                rows.append(self._row(record, context))
            except Exception:  # noqa: BLE001 - one unconvertible record is counted, never fatal
                self.count_failed()
        self._in_flight = len(rows)
        return rows

    def _row(self, record: logging.LogRecord, context: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "created_at": dt.datetime.fromtimestamp(record.created, dt.UTC),
            "service": self.service,
            "level": record.levelname[:10],
            "level_no": record.levelno,
            "logger": record.name[:128],
            "message": clean_text(record.message, MAX_MESSAGE_CHARS),
            "extra": json_safe(record_extra(record, context)),
            "host": self._host[:255],
            "pid": record.process,
        }

    async def _write_patiently(self, rows: list[dict[str, Any]]) -> bool:
        """Write `rows`, backing off (0.5 s doubled up to `max_backoff`) while the database cannot take them; False
        when close()'s deadline passed first."""
        retrying = AsyncRetrying(
            retry=retry_if_result(lambda done: not done),
            wait=wait_exponential(multiplier=0.5, max=self.max_backoff),
            stop=lambda _state: self._stopping.is_set() and time.monotonic() >= self._deadline,
            sleep=self._sleep,
            before_sleep=lambda _state: self._report_drops_when_due(),
            retry_error_callback=lambda _state: False,
        )
        done: bool = await retrying(self._write, rows)
        return done

    async def _write(self, rows: list[dict[str, Any]]) -> bool:
        """Insert `rows`; True when they are done with (written or refused as bad data), False to retry later."""
        try:
            await self._insert(rows)
        except Exception as exc:  # noqa: BLE001 - classified below; the writer must survive anything
            if not _is_bad_data(exc):
                self._retrying(exc)
                return False
            return await self._write_one_by_one(rows)
        self._written(len(rows))
        return True

    async def _write_one_by_one(self, rows: list[dict[str, Any]]) -> bool:
        while rows:
            try:
                await self._insert(rows[:1])
            except Exception as exc:  # noqa: BLE001 - classified below
                if not _is_bad_data(exc):
                    self._retrying(exc)
                    return False
                self.count_failed()
                _internal.warning("a log record was refused by the database: %s", _describe(exc))
            else:
                self._written(1)
            del rows[0]
            self._in_flight = len(rows)
        return True

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert in one transaction; give up after `INSERT_TIMEOUT_SECONDS`, or at the deadline once close() began."""
        attempt = asyncio.ensure_future(self._execute_insert(rows))
        given_up_at = time.monotonic() + INSERT_TIMEOUT_SECONDS
        while not attempt.done():
            await asyncio.wait({attempt}, timeout=0.1)
            if not attempt.done() and time.monotonic() >= min(given_up_at, self._deadline):
                attempt.cancel()
                with contextlib.suppress(BaseException):
                    await attempt
                raise TimeoutError("the database did not answer in time")
        attempt.result()

    async def _execute_insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._engine.execution_options(**WRITE_OPTIONS).begin() as connection:
            await connection.execute(insert(SystemLog), rows)

    def _written(self, count: int) -> None:
        self.written += count
        if self.state != "ok" and self.last_error:
            _internal.warning("writing logs to the database again after: %s", self.last_error)
        self.state = "ok"
        self.last_error = None

    def _retrying(self, exc: BaseException) -> None:
        if self.state != "retrying":
            _internal.warning("cannot write logs to the database, retrying: %s", _describe(exc))
        self.state = "retrying"
        self.last_error = _describe(exc)

    async def _sleep(self, seconds: float) -> None:
        """Back off for `seconds`, cut short when shutdown starts; then retry in short steps until the deadline."""
        if self._stopping.is_set():
            await asyncio.sleep(min(seconds, 0.2, max(0.0, self._deadline - time.monotonic())))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _report_drops_when_due(self) -> None:
        if time.monotonic() - self._last_report >= self.drop_report_seconds:
            self._last_report = time.monotonic()
            self._report_drops()

    def _report_drops(self, *, final: bool = False) -> None:
        with self._drop_lock:
            dropped = self._dropped - self._reported_dropped
            self._reported_dropped = self._dropped
        if dropped:
            period = "since the last report" if final else f"in the last {_period(self.drop_report_seconds)}"
            _internal.warning(
                "dropped %d log records %s: the log queue (%d) was full",
                dropped,
                period,
                self.capacity,
                extra={"dropped": dropped, "queue_capacity": self.capacity},
            )


class DatabaseLogHandler(logging.Handler):
    """Puts records on the writer's bounded buffer; the caller never waits for the database."""

    def __init__(self, writer: LogWriter, level: int | str = logging.INFO) -> None:
        super().__init__(level)
        self.writer = writer
        self._guard = threading.local()

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: the buffer is a deque, safe to append to from any thread.
        if self.filters and not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        if (
            record.name.startswith(EXCLUDED_LOGGER_PREFIXES)
            or threading.get_ident() == self.writer.thread_ident
            or getattr(self._guard, "active", False)
        ):
            return
        self._guard.active = True
        try:
            # Formatted now: arguments may change after the call returns.
            record.message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = _exception_formatter.formatException(record.exc_info)
            self.writer.offer((record, log_context()))
        except Exception:  # noqa: BLE001 - a bad format string or argument must not break the caller
            self.writer.count_failed()
        finally:
            self._guard.active = False

    def close(self) -> None:
        self.writer.close()
        super().close()


def _is_bad_data(exc: BaseException) -> bool:
    """A refusal that retrying cannot fix (as opposed to an unreachable or not yet migrated database)."""
    if isinstance(exc, SQLDataError | IntegrityError | TypeError | ValueError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def _period(seconds: float) -> str:
    return "minute" if seconds == 60 else f"{seconds:g} s"
