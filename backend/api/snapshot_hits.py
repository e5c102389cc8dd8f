"""Rider reads answered from a kept snapshot without routing: `GET /api/lines`, `GET /api/lines/{network}/{code}`
and `GET /api/stations/{id}`.

A snapshot hit costs what a static answer costs: a pure ASGI middleware finds the answer's key from the path, asks
`RiderSnapshots.hit` (which never waits: no version check, no build, no database), notes the view for the viewing
leases (written in the background, backend/api/views.py) and sends the bytes with their ETag and Cache-Control.
Everything else goes the full way through FastAPI (the routes in backend/api/routers/public.py, which build and
keep the answers): a miss, an answer the clock or the data made untrue, a path that does not name a known line, a
request with an `Origin` (CORS is answered by its middleware, inside this one) or with a body. The security headers,
the request id and the body-size limit wrap this middleware like every other answer (backend/api/app.py).

What stays per request, and why: the clock (ages are written into the bytes at serve time, and an answer past its
first departure or its first board turning stale is not served), the `If-None-Match` comparison, `max-age` (never
past that moment) and the viewing lease (a dict look-up; a write at most every few seconds, off the request).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.snapshots import RiderSnapshots, Snapshot, SnapshotKey
from backend.api.views import ViewLeases
from backend.catalogue import UnknownLineError, get_catalogue

LINES_PATH = "/api/lines"
LINES_KEY: SnapshotKey = ("lines",)
_LINE_PREFIX = "/api/lines/"
_STATION_PREFIX = "/api/stations/"
# The routes' path parameters refuse longer values (422): those requests go the full way.
LINE_PART_MAX_LENGTH = 32
STATION_ID_MAX_LENGTH = 96
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


def line_key(network: str, code: str) -> SnapshotKey:
    """The key of a line's answer; UnknownLineError when the catalogue has no such line."""
    return ("line", get_catalogue().find(network, code).id)


def station_key(station_id: str) -> SnapshotKey:
    return ("station", station_id.strip().lower())


def lines_viewed(key: SnapshotKey) -> Sequence[str]:
    """The lines whose viewing lease an answer renews: a line page its line, a station page its lines."""
    if key[0] == "line":
        return key[1:]
    if key[0] == "station":
        try:
            return [line.id for line in get_catalogue().lines_at(key[1])]
        except KeyError:
            return ()
    return ()


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match, weak comparison (RFC 9110 13.1.2): any listed tag, or `*`."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == opaque for tag in header.split(","))


def cache_control(snapshot: Snapshot, now: datetime, longest_seconds: float) -> str:
    return f"public, max-age={snapshot.max_age(now, longest_seconds)}"


@functools.lru_cache(maxsize=4096)  # the catalogue's look-up normalises names: once per path is enough
def _key_of(path: str) -> SnapshotKey | None:
    """The answer a path names, as the routes would find it, or None (not a rider read, or one they refuse)."""
    if path == LINES_PATH:
        return LINES_KEY
    if path.startswith(_LINE_PREFIX):
        parts = path[len(_LINE_PREFIX) :].split("/")
        if len(parts) != 2 or not all(0 < len(part) <= LINE_PART_MAX_LENGTH for part in parts):
            return None
        try:
            return line_key(parts[0], parts[1])
        except UnknownLineError:
            return None
    if path.startswith(_STATION_PREFIX):
        station_id = path[len(_STATION_PREFIX) :]
        if not station_id or len(station_id) > STATION_ID_MAX_LENGTH or "/" in station_id or "\x00" in station_id:
            return None
        return station_key(station_id)
    return None


class SnapshotHitMiddleware:
    """Answers a rider read from its kept snapshot, or passes the request on (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, cache_max_age_seconds: float) -> None:
        self.app = app
        self.cache_max_age_seconds = cache_max_age_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and await self._answered(scope, send):
            return
        await self.app(scope, receive, send)

    async def _answered(self, scope: Scope, send: Send) -> bool:
        key = _key_of(scope["path"])
        if key is None:
            return False
        if_none_match: str | None = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name in (b"origin", b"content-length", b"transfer-encoding"):
                return False
        state = scope["app"].state
        snapshots: RiderSnapshots | None = getattr(state, "rider_snapshots", None)
        leases: ViewLeases | None = getattr(state, "view_leases", None)
        hit = snapshots.hit(key) if snapshots is not None and leases is not None else None
        if hit is None:
            return False
        snapshot, now = hit
        assert leases is not None
        leases.viewed(lines_viewed(key))
        headers = [
            (b"etag", snapshot.etag.encode("latin-1")),
            (b"cache-control", cache_control(snapshot, now, self.cache_max_age_seconds).encode("latin-1")),
        ]
        if etag_matches(if_none_match, snapshot.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        body = snapshot.body(now)
        headers += [_JSON_CONTENT_TYPE, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
