"""Per-request and per-task log context: fields merged into every log record emitted while they are bound.

The API binds `request_id` for each HTTP request (`RequestIdMiddleware`, header `X-Request-ID` in and out); a worker
may bind `task_id`, `line_id`, `worker_id` around a task with `bind_log_context(...)`. Fields given explicitly through
`logger.info(..., extra={...})` win over bound ones.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_EMPTY: Mapping[str, Any] = MappingProxyType({})
# A caller's id is kept when it looks like an id; anything else (too long, spaces, control characters) is replaced.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

# One immutable mapping per context: reading it on the logging hot path is a single lookup.
_log_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=_EMPTY)


def log_context() -> Mapping[str, Any]:
    """The fields bound in the current context (read-only)."""
    return _log_context.get()


def current_request_id() -> str | None:
    value = _log_context.get().get("request_id")
    return value if isinstance(value, str) else None


@contextmanager
def bind_log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log record emitted inside the block (by this task or thread)."""
    token = _log_context.set(MappingProxyType({**_log_context.get(), **fields}))
    try:
        yield
    finally:
        _log_context.reset(token)


class RequestIdMiddleware:
    """Gives every HTTP request an id: the caller's `X-Request-ID` when valid, else a new one.

    The id is echoed in the response header and bound as `request_id` for the request's log records. When the request
    fails with an unhandled exception the id stays bound, so the error handler's log line still carries it.
    """

    def __init__(self, app: ASGIApp, header_name: str = REQUEST_ID_HEADER) -> None:
        self.app = app
        self.header_name = header_name
        self._header_key = header_name.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._incoming(scope) or uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[self.header_name] = request_id
            await send(message)

        token = _log_context.set(MappingProxyType({**_log_context.get(), "request_id": request_id}))
        await self.app(scope, receive, send_with_id)
        _log_context.reset(token)

    def _incoming(self, scope: Scope) -> str | None:
        for key, value in scope.get("headers", ()):
            if key == self._header_key:
                candidate = value.decode("latin-1").strip()
                return candidate if _VALID_REQUEST_ID.fullmatch(candidate) else None
        return None
