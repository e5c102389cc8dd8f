"""One guarded HTTP GET for every source: concurrency caps, circuit breaker, deadline, 429 handling, fault naming.

Turns every transport or HTTP fault into an `UpstreamError` with a readable reason and feeds the source's
circuit breaker; sources only parse what comes back. Imports `resilience` only.

Two caps hold a request back: its line fetch's own slots for its source (`line_fan_out`, e.g. PRIM_LINE_CONCURRENCY:
a long line fans out without waiting behind the other lines' requests, and never takes all of the process's), then
the process's ceiling (UPSTREAM_MAX_CONCURRENCY, all tasks together).

The process's requests go through one httpx client (`UpstreamClient`) whose transport is aiohttp's connection pool
(`aiohttp_transport`).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Required, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from backend.services.aiohttp_transport import AiohttpTransport
from backend.services.resilience import AttemptMeter, CircuitBreaker, Deadline, UpstreamError

PayloadT = TypeVar("PayloadT", bound=BaseModel)
SchemaT = TypeVar("SchemaT")

# Two tries after the first: a 429 with a short Retry-After is waited for, a longer one pauses the source.
MAX_RATE_LIMIT_RETRIES = 2


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# The slots of the line fetch running in this context, by source (breaker) name; unset outside a line fetch.
_line_slots: ContextVar[Mapping[str, asyncio.Semaphore] | None] = ContextVar("line_slots", default=None)
_UNLIMITED = nullcontext()


@contextmanager
def line_fan_out(limits: Mapping[str, int]) -> Iterator[None]:
    """Within this block (and the tasks it starts), each source's requests run at most `limits[source]` at a time:
    one line fetch's own slots, apart from the other fetches of the process."""
    token = _line_slots.set({source: asyncio.Semaphore(limit) for source, limit in limits.items()})
    try:
        yield
    finally:
        _line_slots.reset(token)


def pause_for_rate_limit(
    breaker: CircuitBreaker, wait: float | None, refusal: str, *, short: str | None = None
) -> UpstreamError:
    """A 429 not waited for: the source pauses for the Retry-After asked (its cool-down when none was)."""
    pause = wait if wait is not None else breaker.cooldown_seconds
    reason = f"{refusal}; {breaker.name} paused for {pause:.0f} s"
    breaker.hold(pause, reason, short=short)
    return UpstreamError("rate_limited", reason, retry_after=wait, short=short)


# A URL is a string, or a prebuilt `httpx.URL` for one a source asks again and again (parsing a URL and its query
# costs 0.1 ms of CPU a request).
Url = str | httpx.URL


def describe_url(url: Url) -> str:
    return urlsplit(str(url)).path or "/"


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing an answer sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    """An httpx client that keeps no cookies. The only cookies sent upstream are ratp.fr's browser session, which
    `ratp_http` sends itself; a jar here would send whatever some earlier answer set, and reading every answer's
    headers into it cost 4% of a worker's CPU."""

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the upstream clients keep no cookies: send them as a Cookie header")


class UpstreamClient:
    """The process's HTTP client: at most `connections` open at a time (as many as requests may be in flight), on
    aiohttp's pool (`AiohttpTransport`). Proxies are the environment's, read by the transport."""

    def __init__(self, connections: int, *, timeout: float) -> None:
        # One TLS context: loading the CA bundle takes 50 ms of CPU.
        transport = AiohttpTransport(connections=connections, tls=httpx.create_ssl_context())
        self._client = _CookielessClient(timeout=timeout, transport=transport, follow_redirects=False, trust_env=False)

    async def get(
        self, url: Url, *, params: Mapping[str, str] | None, headers: Mapping[str, str] | None, timeout: float
    ) -> httpx.Response:
        """The answer, its body read. A request whose connection broke before any answer (a kept-alive connection
        the server closed while idle, its keep-alive timeout racing ours) is sent once more on a new connection, by
        aiohttp (RFC 9112's retry of an idempotent request): a second failure is the upstream's."""
        return await self._client.get(url, params=params, headers=headers, timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()


class Send(TypedDict, total=False):
    """How `UpstreamHttp.get` sends a request, for the methods that read its answer."""

    breaker: Required[CircuitBreaker]
    meter: Required[AttemptMeter]
    deadline: Required[Deadline]
    params: Mapping[str, str] | None
    headers: Mapping[str, str] | None
    pass_statuses: Collection[int]
    on_response: Callable[[httpx.Response], Awaitable[None]] | None
    before_send: Callable[[], Awaitable[None]] | None


class UpstreamHttp:
    """Sends GETs through the process's clients: within the line fetch's slots for the source (`line_fan_out`), and
    at most `semaphore`'s count at a time across the process."""

    def __init__(
        self,
        client: UpstreamClient,
        *,
        semaphore: asyncio.Semaphore,
        request_timeout: float,
        retry_after_max: float,
    ) -> None:
        self.client = client
        self._semaphore = semaphore
        self._request_timeout = request_timeout
        self._retry_after_max = retry_after_max

    async def get(
        self,
        url: Url,
        *,
        breaker: CircuitBreaker,
        meter: AttemptMeter,
        deadline: Deadline,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        pass_statuses: Collection[int] = (),
        on_response: Callable[[httpx.Response], Awaitable[None]] | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        """A 2xx response (or one whose status is in `pass_statuses`); raises `UpstreamError` otherwise.

        `before_send` runs before every send, a 429's retry included (PRIM's budget takes the request there);
        `on_response` sees every answer, refused ones included (PRIM's rate-limit headers). The caller settles the
        breaker (`settle`) once it knows whether the body was usable.
        """
        for attempt in range(1, MAX_RATE_LIMIT_RETRIES + 2):
            response = await self._send(url, breaker, meter, deadline, params, headers, before_send)
            if on_response is not None:
                await on_response(response)
            status = response.status_code
            if status == 429:
                wait = retry_after_seconds(response.headers.get("retry-after"))
                if (
                    wait is not None
                    and wait <= self._retry_after_max
                    and wait < deadline.remaining() - 0.5
                    and attempt <= MAX_RATE_LIMIT_RETRIES
                ):
                    breaker.release()  # a half-open probe stays this request's through its retry
                    await asyncio.sleep(wait)
                    continue
                raise pause_for_rate_limit(
                    breaker,
                    wait,
                    f"HTTP 429 rate limited on {describe_url(url)} "
                    f"(Retry-After {'absent' if wait is None else f'{wait:.0f} s'})",
                    short="HTTP 429",
                )
            if status in pass_statuses or 200 <= status < 300:
                return response
            error = _status_error(status, url, response)
            self.settle(breaker, error)
            raise error
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def _send(
        self,
        url: Url,
        breaker: CircuitBreaker,
        meter: AttemptMeter,
        deadline: Deadline,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        line_slots = (_line_slots.get() or {}).get(breaker.name)
        # The line's own slot first: a line waiting for its own holds none of the process's.
        async with line_slots or _UNLIMITED, self._semaphore:
            # Asked once a slot is free, so requests queued behind a failing one see the circuit open.
            breaker.before_request()
            if before_send is not None:
                # After the breaker: a request the circuit refuses takes nothing from the budget.
                try:
                    await before_send()
                except BaseException:
                    breaker.release()
                    raise
            started = time.monotonic()
            try:
                timeout = deadline.cap(self._request_timeout)
                meter.requests += 1
                response = await self.client.get(url, params=params, headers=headers, timeout=timeout)
            except httpx.TimeoutException:
                error = UpstreamError(
                    "timeout", f"timeout after {time.monotonic() - started:.1f} s on {describe_url(url)}"
                )
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                error = UpstreamError("connection", f"connection failed on {describe_url(url)}: {_short(exc)}")
            except httpx.HTTPError as exc:
                error = UpstreamError("connection", f"HTTP error on {describe_url(url)}: {_short(exc)}")
            except BaseException:  # the deadline ran out or the task was cancelled: no verdict on the upstream
                breaker.release()
                raise
            else:
                return response
        self.settle(breaker, error)
        raise error

    async def get_json(self, url: Url, what: str, **send: Unpack[Send]) -> Any:
        """The decoded JSON body of a 2xx answer (sent as `get` sends it); a broken body counts against the source
        like a 5xx."""
        response = await self.get(url, **send)
        try:
            payload = parse_json(response, what)
        except UpstreamError as error:
            self.settle(send["breaker"], error)
            raise
        self.settle(send["breaker"], None)
        return payload

    async def get_model(
        self, url: Url, what: str, schema: TypeAdapter[SchemaT], *, expected: str, **send: Unpack[Send]
    ) -> SchemaT:
        """`get_json` and `validated` in one step: the body is read by pydantic's JSON parser straight into `schema`
        (the fields the schema ignores never become Python objects: on a 20 KB stop-monitoring answer, 0.22 ms of
        CPU here against 0.34 ms for `json.loads` then `model_validate`). As there, a broken body counts against
        the source like a 5xx, and a body of the wrong shape is a `bad_response` that does not."""
        response = await self.get(url, **send)
        breaker = send["breaker"]
        body = response.content
        try:
            _require_body(body, what)
        except UpstreamError as empty:
            self.settle(breaker, empty)
            raise
        try:
            answer = schema.validate_json(body)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            if first["type"] == "json_invalid":
                reason = f"malformed JSON for {what} ({first['msg']}, {len(body)} bytes)"
                error = UpstreamError("bad_response", reason, short="malformed JSON")
                self.settle(breaker, error)
                raise error from None
            self.settle(breaker, None)
            raise shape_error(exc, what, expected) from None
        self.settle(breaker, None)
        return answer

    @staticmethod
    def settle(breaker: CircuitBreaker, error: UpstreamError | None) -> None:
        """Tells the breaker how a request that reached the upstream ended."""
        if error is not None and error.counts_against_source:
            breaker.record_failure(error.reason, error.short)
        else:
            breaker.record_success()


def _status_error(status: int, url: Url, response: httpx.Response) -> UpstreamError:
    where = describe_url(url)
    body = " ".join(response.text[:160].split())
    short = f"HTTP {status}"
    if status >= 500:
        return UpstreamError("server_error", f"HTTP {status} from {where}", short=short)
    if status == 401:
        return UpstreamError("unauthorized", f"HTTP 401 unauthorised on {where}: {body}", short="API key rejected")
    if status == 403:
        return UpstreamError("blocked", f"HTTP 403 forbidden on {where}", short=short)
    if status in (400, 404, 410):
        # The upstream refuses what we asked (an id it does not know), which says nothing of its health.
        return UpstreamError("not_found", f"HTTP {status} on {where} (unknown id): {body}", short=short)
    return UpstreamError("bad_response", f"HTTP {status} on {where}: {body}", short=short)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def parse_json(response: httpx.Response, what: str) -> Any:
    """The JSON body, or `UpstreamError("bad_response")` naming what was expected when it is empty or broken."""
    text = response.text
    _require_body(text, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UpstreamError(
            "bad_response",
            f"malformed JSON for {what} ({exc.msg} at char {exc.pos} of {len(text)})",
            short="malformed JSON",
        ) from None


def _require_body(body: str | bytes, what: str) -> None:
    """Raises `UpstreamError("empty")` for an answer with nothing but blanks in it."""
    if not body.strip():
        raise UpstreamError("empty", f"empty answer for {what}")


def validated(model: type[PayloadT], payload: Any, what: str, *, expected: str) -> PayloadT:
    """`payload` read as `model`; else one `UpstreamError("bad_response")` naming the first field path that is wrong
    and what the answer should hold (`expected`)."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise shape_error(exc, what, expected) from None


def shape_error(exc: ValidationError, what: str, expected: str) -> UpstreamError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "top level"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return UpstreamError(
        "bad_response",
        f"unexpected {what} answer: {where}: {first['msg']}{more}; expected {expected}",
        short="unusable answer",
    )
