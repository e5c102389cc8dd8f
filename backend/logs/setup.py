"""`configure_logging(settings, service)`: the one logging setup of every process (api, scheduler, worker, …).

Every record goes to stdout as one `key=value` line (from `LOG_LEVEL`) and, unless `CENTRALIZED_LOGGING_ENABLED` is
false, to the `system_logs` table (from `CENTRALIZED_LOG_LEVEL`) through the non-blocking sink of `backend.logs.sink`.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from typing import Any

from backend.config import Settings
from backend.logs.records import LineFormatter, StdoutHandler
from backend.logs.sink import DatabaseLogHandler, LogWriter
from backend.vocabulary import Service

# Libraries that are too chatty at INFO (SQLAlchemy even logs every statement when its logger is enabled for INFO).
# Only applied when the logger has no level of its own, so `echo=True` or an explicit level still wins.
_LIBRARY_LEVELS = {
    "sqlalchemy": logging.WARNING,
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "urllib3": logging.WARNING,
    "docker": logging.WARNING,
    "websockets": logging.INFO,
    "asyncio": logging.WARNING,
}
# uvicorn installs its own handlers; its records go through ours instead (its access lines to stdout only, unless
# `--no-access-log` turned them off).
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_lock = threading.Lock()
_active: CentralizedLogging | None = None


class CentralizedLogging:
    """The logging of one process: its counters for the worker heartbeat, and `close()` for shutdown."""

    def __init__(
        self,
        service: str,
        key: tuple[Any, ...],
        handlers: list[logging.Handler],
        writer: LogWriter | None,
    ) -> None:
        self.service = service
        self._key = key
        self._handlers = handlers
        self._writer = writer
        self.closed = False

    @property
    def database_enabled(self) -> bool:
        return self._writer is not None

    @property
    def written(self) -> int:
        """Records written to `system_logs` so far."""
        return self._writer.written if self._writer else 0

    @property
    def dropped(self) -> int:
        """Records dropped because the queue was full (the database slow or down)."""
        return self._writer.dropped if self._writer else 0

    @property
    def failed(self) -> int:
        """Records refused by the database (bad data) or still unwritten when the process stopped."""
        return self._writer.failed if self._writer else 0

    @property
    def queue_depth(self) -> int:
        """Records waiting to be written."""
        return self._writer.queue_depth if self._writer else 0

    def stats(self) -> dict[str, int | str]:
        """Counters for a heartbeat's `metrics` (JSON-ready)."""
        writer = self._writer
        return {
            "logs_sink": "disabled" if writer is None else writer.state,
            "logs_written": self.written,
            "logs_dropped": self.dropped,
            "logs_failed": self.failed,
            "logs_queue_depth": self.queue_depth,
            "logs_queue_capacity": writer.capacity if writer else 0,
        }

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until what is queued has been written; False when the database did not take it within `timeout`."""
        return self._writer.flush(timeout) if self._writer else True

    def close(self, timeout: float = 5.0) -> None:
        """Flush the queue (for at most `timeout` seconds), stop the writer and stop sending records to the database.

        Stdout logging stays on. Idempotent; also called at interpreter exit.
        """
        global _active
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        root = logging.getLogger()
        for handler in self._handlers:
            if isinstance(handler, DatabaseLogHandler):
                root.removeHandler(handler)
        if self._writer is not None:
            self._writer.close(timeout)
        if _active is self:
            _active = None


def configure_logging(settings: Settings, service: str) -> CentralizedLogging:
    """Set up this process's logging as `service` and return its handle.

    Calling it again with the same settings returns the same handle; with other settings it replaces the previous
    setup (never adding a second pair of handlers). A console handler left by `logging.basicConfig()` is replaced.
    """
    global _active
    if service not in set(Service):
        raise ValueError(f"unknown service {service!r}: expected one of {', '.join(Service)}")
    key = (
        service,
        settings.resolved_database_url,
        settings.centralized_logging_enabled,
        settings.centralized_log_level,
        settings.centralized_log_queue_size,
        settings.log_level,
    )
    with _lock:
        if _active is not None and not _active.closed and _active._key == key:
            return _active
        if _active is not None:
            _active.close()
        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, StdoutHandler | DatabaseLogHandler) or _is_console_handler(handler):
                root.removeHandler(handler)

        stdout = StdoutHandler(settings.log_level)
        stdout.setFormatter(LineFormatter(service))
        handlers: list[logging.Handler] = [stdout]
        writer: LogWriter | None = None
        levels = [logging.getLevelName(settings.log_level)]
        if settings.centralized_logging_enabled:
            writer = LogWriter(settings, service)
            handlers.append(DatabaseLogHandler(writer, settings.centralized_log_level))
            levels.append(logging.getLevelName(settings.centralized_log_level))
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(min(levels))
        _tame_libraries()
        if writer is not None:
            writer.start()

        handle = CentralizedLogging(service, key, handlers, writer)
        atexit.register(handle.close)
        _active = handle
        return handle


def _is_console_handler(handler: logging.Handler) -> bool:
    """A plain console handler, as `logging.basicConfig()` installs: replaced by ours, or every line would print twice.
    (Handlers of other kinds, such as pytest's capture, are left alone.)"""
    consoles = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    return type(handler) is logging.StreamHandler and any(handler.stream is console for console in consoles)


def _tame_libraries() -> None:
    for name, level in _LIBRARY_LEVELS.items():
        library_logger = logging.getLogger(name)
        if library_logger.level == logging.NOTSET:
            library_logger.setLevel(level)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        if name == "uvicorn.access" and not uvicorn_logger.handlers and not uvicorn_logger.propagate:
            continue  # `uvicorn --no-access-log`: no record is even made for a request
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
