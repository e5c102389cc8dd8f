"""What a structured log record is made of: its extra fields, their JSON-safe form, and its one-line stdout rendering.

Extra fields are whatever a caller passed through `logger.info(..., extra={...})` (anything that is not a standard
`logging.LogRecord` attribute), the fields bound with `bind_log_context`, and the exception or stack text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from backend.logs.context import log_context

# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",  # Python 3.12+
    "color_message",  # uvicorn's coloured copy of the message
}

_BARE_VALUE = re.compile(r'[^\s"=\x00-\x1f\x7f]+')

MAX_MESSAGE_CHARS = 32_000
MAX_VALUE_CHARS = 8_000
_MAX_DEPTH = 4


def record_extra(record: logging.LogRecord, context: Mapping[str, Any]) -> dict[str, Any]:
    """The record's extra fields: bound context first, then the record's own extras, then exception and stack text."""
    extra: dict[str, Any] = dict(context)
    for key, value in record.__dict__.items():
        if key not in STANDARD_RECORD_ATTRIBUTES and not key.startswith("_"):
            extra[key] = value
    if record.exc_text:
        extra["exception"] = record.exc_text
    if record.stack_info:
        extra["stack"] = record.stack_info
    return extra


def clean_text(value: str, limit: int) -> str:
    """Text that any database accepts: no NUL characters (Postgres refuses them), at most `limit` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    return value if len(value) <= limit else value[:limit] + "…"


def json_safe(value: Any, depth: int = 0) -> Any:
    """`value` as plain JSON data (str, int, float, bool, None, lists, dicts with string keys)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return clean_text(value, MAX_VALUE_CHARS)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if depth >= _MAX_DEPTH:
        return clean_text(repr(value), MAX_VALUE_CHARS)
    if isinstance(value, Mapping):
        return {clean_text(str(key), 200): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item, depth + 1) for item in value]
    return clean_text(str(value), MAX_VALUE_CHARS)


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    else:
        text = json.dumps(json_safe(value), ensure_ascii=False)
    # Bare when unambiguous, JSON-quoted when it has spaces, quotes, `=` or control characters.
    return text if _BARE_VALUE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class LineFormatter(logging.Formatter):
    """`2026-01-31T12:00:00.123Z INFO worker backend.workers: message task_id=… line_id=metro:1`, one line per record.

    Multi-line values (tracebacks) are JSON-quoted so that every record stays on one line.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        if "\n" in message or "\r" in message:
            message = json.dumps(message, ensure_ascii=False)
        line = f"{stamp}.{int(record.msecs):03d}Z {record.levelname} {self.service} {record.name}: {message}"
        extra = record_extra(record, log_context())
        if extra:
            line += " " + " ".join(f"{key}={_render_value(value)}" for key, value in extra.items())
        return line


class StdoutHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is at the time (so redirections and test captures are honoured)."""

    terminator = "\n"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - a broken stdout must never break the caller
            self.handleError(record)
