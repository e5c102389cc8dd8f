"""Stub upstream: PRIM, ratp.fr and the vehicle socket on one loopback port, replaying recorded payload shapes.

    python -m backend.devtools.upstream --host 127.0.0.1 --port 8765 [--latency-ms 100] [--fault SPEC ...]

Faults and latency can also come from STUB_UPSTREAM_FAULTS and STUB_UPSTREAM_LATENCY_MS. Point the sources at
it (it prints these lines): PRIM_BASE_URL=http://HOST:PORT/marketplace, RATP_BASE_URL=
http://HOST:PORT, VMTR_SOCKET_URL=ws://HOST:PORT/socket.io/, VMTR_ORIGIN as given, any non-empty PRIM_API_KEY.
Every catalogue line is served (see `replay.py`), with times around "now". It is replayed data: responses carry
`X-Stub-Upstream: replayed`, and no real run ever points at it.

Faults, injected per source and optionally per route, line and number of uses, written
`SOURCE[/ROUTE]:KIND[@LINE][*COUNT]` on the command line (`--fault prim:timeout`, `--fault ratp:challenge@metro:1`,
`--fault prim/general-message:rate_limit*2`) or as JSON objects at run time:

    GET    /__stub/faults                 the active faults
    POST   /__stub/faults                 {"source": "prim", "kind": "timeout", "line": "metro:1", "route": null,
                                           "count": null, "retry_after": 30} (or {"faults": [...], "replace": true})
    DELETE /__stub/faults                 remove every fault
    POST   /__stub/latency                {"ms": 100}
    GET    /__stub/stats                  requests per route ({"prim.stop-monitoring": 12, ...}), faults applied,
                                          and PRIM's rate-limit counts (`rate_limits`: used, refused, per day)
    POST   /__stub/stats/reset
    GET    /__stub/limits                 PRIM's limits as played here (see ratelimits.py)
    POST   /__stub/limits                 {"daily_limit": 1000, "per_second": 5, "day_seconds": 300, "api_key": "k"}
    POST   /__stub/disruptions            the traffic feed to serve (a `disruptions_bulk` answer: {"disruptions": [...],
                                          "lines": [...]}); DELETE: back to the recording, re-dated to today

PRIM answers carry PRIM's rate-limit headers and are refused (429) past the per-second or daily limit
(`--daily-limit`, `--per-second`; `--day-seconds 300` makes a day last five minutes); `--api-key` makes every other
key a `401 {"message": "Unauthorized"}`, as a missing key is `401 {"message": "No API key found in request"}`.

Sources: prim (routes stop-monitoring, general-message, navitia, disruptions: the `disruptions_bulk` traffic feed,
one request for every line), ratp (stop-points, next-passages, page), vmtr
(socket). Kinds: timeout (no answer for `--hang-seconds`), challenge (Cloudflare's 403 page, passable by a real
browser), forbidden (403), rate_limit (429 with Retry-After), server_error (500), truncated (body cut in half),
malformed (not the expected JSON or HTML), empty (empty body, or no vehicles), unknown_id (the upstream's answer
for an id it does not know: a SIRI ErrorCondition for PRIM), bad_request (400), no_visits (a valid stop-monitoring
delivery announcing nothing), dropped (the vehicle socket closes the connection before sending vehicles). A fault's
"stations" list limits a stop-monitoring fault to those catalogue stations' stop areas. Tests run it in-process:
`with StubUpstream(faults=[...]) as stub: Settings(**stub.settings_overrides())`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import socketio
import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from backend.catalogue import Catalogue, Line, get_catalogue
from backend.config import get_settings
from backend.devtools.ratelimits import RateLimits, Verdict
from backend.devtools.replay import ReplayNetwork, StubLine, recorded_json, recording
from backend.services.times import PARIS

SOURCES = ("prim", "ratp", "vmtr")
ROUTES = {
    "prim": ("stop-monitoring", "general-message", "navitia", "disruptions"),
    "ratp": ("stop-points", "next-passages", "page"),
    "vmtr": ("socket",),
}
FAULT_KINDS = (
    "timeout",
    "challenge",
    "forbidden",
    "rate_limit",
    "server_error",
    "truncated",
    "malformed",
    "empty",
    "unknown_id",
    "bad_request",
    "no_visits",
    "dropped",
)
DEFAULT_VMTR_ORIGIN = "https://vmtr.ratp.fr"
CLEARANCE_COOKIE = "cf_clearance"
CHALLENGE_SCRIPT_PATH = "/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"
# Plays the part of Cloudflare's challenge script: only a browser running it gets the clearance cookie.
CHALLENGE_SCRIPT = """(function () {
  var o = window._cf_chl_opt || {};
  var token = String(o.cH || '').split('').reverse().join('') + '.' + o.cITimeS;
  document.cookie = 'cf_clearance=' + token + '; path=/; max-age=1800; SameSite=Lax';
  setTimeout(function () { location.reload(); }, 150);
}());
"""
REPLAYED = {"X-Stub-Upstream": "replayed"}
SOCKET_PING_SECONDS = 25.0
POSV_INIT_EVENT = "[POSV - INIT]"


@dataclass
class Fault:
    source: str
    kind: str
    line: str | None = None
    route: str | None = None
    count: int | None = None  # uses left; None: until removed
    retry_after: float = 30.0
    stations: list[str] | None = None  # stop-monitoring only: just the stop areas of these catalogue stations

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown fault source {self.source!r}: use one of {', '.join(SOURCES)}")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: use one of {', '.join(FAULT_KINDS)}")
        if self.route is not None and self.route not in ROUTES[self.source]:
            raise ValueError(f"unknown {self.source} route {self.route!r}: use one of {', '.join(ROUTES[self.source])}")
        if self.count is not None and self.count < 1:
            raise ValueError("a fault's count must be at least 1")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """`SOURCE[/ROUTE]:KIND[@LINE][*COUNT]`, e.g. "prim:timeout", "ratp/next-passages:malformed@rer:A*3"."""
        text = spec.strip()
        count = None
        if "*" in text:
            text, _, count_text = text.rpartition("*")
            count = int(count_text)
        line = None
        if "@" in text:
            text, _, line = text.partition("@")
        target, separator, kind = text.partition(":")
        if not separator:
            raise ValueError(f"fault {spec!r}: write SOURCE[/ROUTE]:KIND[@LINE][*COUNT], e.g. prim:timeout")
        source, _, route = target.partition("/")
        return cls(source=source, kind=kind, line=line or None, route=route or None, count=count)


@dataclass
class StubState:
    """What the stub is told to do (faults, latency) and what it saw (request counts); shared across threads."""

    latency_ms: float = 0.0
    hang_seconds: float = 30.0
    vmtr_origin: str = DEFAULT_VMTR_ORIGIN
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    faults_applied: Counter[str] = field(default_factory=Counter)
    limits: RateLimits = field(default_factory=RateLimits)
    disruptions: dict[str, Any] | None = None  # the traffic feed served; None: the recording, re-dated
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _challenges: dict[str, str] = field(default_factory=dict, repr=False)  # nonce -> user agent it was shown to

    def set_faults(self, faults: Iterable[Fault], *, replace: bool = True) -> None:
        with self._lock:
            if replace:
                self.faults.clear()
            self.faults.extend(faults)

    def clear_faults(self) -> None:
        self.set_faults([], replace=True)

    def count(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_source: Counter[str] = Counter()
            for key, value in self.requests.items():
                by_source[key.split(".", 1)[0]] += value
            return {
                "requests": dict(sorted(self.requests.items())),
                "requests_by_source": dict(sorted(by_source.items())),
                "faults_applied": dict(sorted(self.faults_applied.items())),
                "latency_ms": self.latency_ms,
                "rate_limits": self.limits.stats(),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults_applied.clear()

    def match(
        self, source: str, route: str, lines: set[str], *, cleared: bool = False, station: str | None = None
    ) -> Fault | None:
        """The first fault applying to this request (using one of its `count`), or None.

        `cleared`: the request carries a valid challenge clearance, so challenge faults let it through.
        `station`: the catalogue station a stop-monitoring request is for.
        """
        with self._lock:
            for fault in self.faults:
                if fault.source != source or (fault.route is not None and fault.route != route):
                    continue
                if fault.stations is not None and station not in fault.stations:
                    continue
                if cleared and fault.kind == "challenge":
                    continue
                # A page with no line is challenged by any challenge fault, so a browser can pass it.
                line_ok = fault.line is None or fault.line in lines or (not lines and fault.kind == "challenge")
                if not line_ok:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                self.faults_applied[f"{source}.{route}:{fault.kind}"] += 1
                return fault
            return None

    def issue_challenge(self, user_agent: str) -> str:
        nonce = secrets.token_hex(16)
        with self._lock:
            self._challenges[nonce] = user_agent
        return nonce

    def has_clearance(self, cookie: str | None, user_agent: str) -> bool:
        """True when `cookie` is a clearance the challenge script made for a challenge shown to this user agent."""
        if not cookie:
            return False
        reversed_nonce, _, _issued = cookie.partition(".")
        with self._lock:
            return self._challenges.get(reversed_nonce[::-1]) == user_agent


# --- the app ------------------------------------------------------------------------------------------------


class Replies:
    """How the stub answers a request for replayed data: counted, delayed, rate limited like PRIM, or faulted."""

    def __init__(self, state: StubState, network: ReplayNetwork) -> None:
        self.state = state
        self.network = network

    async def respond(
        self,
        request: Request,
        source: str,
        route: str,
        lines: set[str],
        build: Callable[[], Awaitable[Response]],
        station: str | None = None,
    ) -> Response:
        self.state.count(f"{source}.{route}")
        if self.state.latency_ms:
            await asyncio.sleep(self.state.latency_ms / 1000.0)
        limited: Verdict | None = None
        if source == "prim":
            rejected = self.state.limits.check_key(request.headers.get("apikey"))
            if rejected is not None:
                return JSONResponse({"message": rejected}, status_code=401, headers=REPLAYED)
            limited = self.state.limits.take(route)
            if not limited.allowed:
                return JSONResponse(
                    {"message": "API rate limit exceeded"}, status_code=429, headers={**limited.headers, **REPLAYED}
                )
        cleared = source == "ratp" and self.state.has_clearance(
            request.cookies.get(CLEARANCE_COOKIE), request.headers.get("user-agent", "")
        )
        fault = self.state.match(source, route, lines, cleared=cleared, station=station)
        if fault is None:
            response = await build()
        else:
            response = await self.fault_response(fault, source, route, request, build)
        response.headers.update(REPLAYED)
        if limited is not None:
            response.headers.update(limited.headers)
        return response

    async def fault_response(
        self, fault: Fault, source: str, route: str, request: Request, build: Callable[[], Awaitable[Response]]
    ) -> Response:
        kind = fault.kind
        if kind == "timeout":
            await asyncio.sleep(self.state.hang_seconds)
            return PlainTextResponse("Gateway Timeout", status_code=504)
        if kind == "challenge" and source == "ratp":
            return self.challenge_page(request)
        if kind in ("challenge", "forbidden"):
            return HTMLResponse(
                "<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1></body></html>",
                status_code=403,
            )
        if kind == "rate_limit":
            return JSONResponse(
                {"message": "API rate limit exceeded"},
                status_code=429,
                headers={"Retry-After": str(round(fault.retry_after))},
            )
        if kind == "server_error":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if kind == "bad_request":
            return JSONResponse({"message": "Bad Request: invalid MonitoringRef"}, status_code=400)
        if kind == "no_visits" and source == "prim" and route == "stop-monitoring":
            return JSONResponse(self.network.no_visits(datetime.now(UTC)))
        if kind == "empty":
            return Response(b"", status_code=200, media_type="application/json")
        if kind == "truncated":
            full = await build()
            body = bytes(full.body)
            return Response(body[: len(body) // 2], status_code=200, media_type=full.media_type)
        if kind == "malformed":
            if route == "next-passages":
                # A JSON string, as usual, but holding HTML cut off inside the timetable.
                broken = '<div class="ixxi-horaire-result-timetable"><div class="timetable_group"><table class="time'
                return JSONResponse(broken)
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1><p>upstream sent an invalid response", 200)
        return self.unknown_id(source, route, request)

    def challenge_page(self, request: Request) -> Response:
        nonce = self.state.issue_challenge(request.headers.get("user-agent", ""))
        page = (
            recording("ratp_challenge.html")
            .replace("{{RAY}}", secrets.token_hex(8))
            .replace("{{NONCE}}", nonce)
            .replace("{{PATH}}", request.url.path)
            .replace("{{ISSUED_AT}}", str(int(time.time())))
        )
        return HTMLResponse(
            page,
            status_code=403,
            headers={"cf-mitigated": "challenge", "Server": "cloudflare", "Cache-Control": "no-store"},
        )

    def unknown_id(self, source: str, route: str, request: Request) -> Response:
        now = datetime.now(UTC)
        if source == "prim" and route == "stop-monitoring":
            ref = request.query_params.get("MonitoringRef", "")
            return JSONResponse(self.network.unknown_monitoring_ref(ref, now))
        if source == "prim" and route == "general-message":
            return JSONResponse(
                {
                    "Siri": {
                        "ServiceDelivery": {
                            "ResponseTimestamp": now.isoformat(),
                            "GeneralMessageDelivery": [
                                {
                                    "Status": "false",
                                    "ErrorCondition": {
                                        "ErrorInformation": {
                                            "ErrorText": f"LineRef inconnu : {request.query_params.get('LineRef', '')}"
                                        }
                                    },
                                }
                            ],
                        }
                    }
                }
            )
        if source == "prim":
            return JSONResponse(
                {"error": {"id": "unknown_object", "message": f"ptobject not found: {request.url.path}"}},
                status_code=404,
            )
        return JSONResponse({"message": "Not Found"}, status_code=404)


STOP_MONITORING_PATH = "/marketplace/stop-monitoring"


def stop_monitoring_handler(replies: Replies, network: ReplayNetwork) -> Callable[[Request], Awaitable[Response]]:
    """PRIM's stop-monitoring: a stop area's visits (`ReplayNetwork.stop_monitoring`), or the answer to an id PRIM
    does not know."""

    async def stop_monitoring(request: Request) -> Response:
        ref = request.query_params.get("MonitoringRef", "")
        station_id = network.station_of_area(ref) if ref.startswith("STIF:StopArea:SP:") else None
        lines = {stub.line.id for stub in network.lines_at(station_id)} if station_id else set()

        async def build() -> Response:
            if station_id is None:
                return replies.unknown_id("prim", "stop-monitoring", request)
            return Response(network.stop_monitoring(station_id, datetime.now(UTC)), media_type="application/json")

        return await replies.respond(request, "prim", "stop-monitoring", lines, build, station=station_id)

    return stop_monitoring


def prim_routes(
    replies: Replies, network: ReplayNetwork, stop_monitoring: Callable[[Request], Awaitable[Response]]
) -> APIRouter:
    """PRIM's marketplace: SIRI Lite stop-monitoring (`stop_monitoring_handler`) and general-message, Navitia."""
    router = APIRouter()

    router.add_api_route(STOP_MONITORING_PATH, stop_monitoring, methods=["GET"])

    @router.get("/marketplace/general-message")
    async def general_message(request: Request) -> Response:
        stub = network.line_by_ref(request.query_params.get("LineRef", ""))

        async def build() -> Response:
            if stub is None:
                return replies.unknown_id("prim", "general-message", request)
            return JSONResponse(network.general_message(stub, datetime.now(UTC)))

        return await replies.respond(request, "prim", "general-message", _ids(stub), build)

    @router.get("/marketplace/disruptions_bulk/disruptions/v2")
    async def disruptions_bulk(request: Request) -> Response:
        async def build() -> Response:
            payload = (
                replies.state.disruptions
                if replies.state.disruptions is not None
                else recorded_disruptions(datetime.now(UTC))
            )
            return JSONResponse(payload)

        return await replies.respond(request, "prim", "disruptions", set(), build)

    navitia = {
        "stop_areas": network.navitia_stop_areas,
        "routes": network.navitia_routes,
        "route_schedules": network.navitia_route_schedules,
    }

    @router.get("/marketplace/v2/navitia/lines/{line_ref}/{collection}")
    async def navitia_line(request: Request, line_ref: str, collection: str) -> Response:
        if collection not in navitia:
            raise HTTPException(404, "Not Found")
        answer = navitia[collection]
        stub = network.line_by_ref(line_ref)

        async def build() -> Response:
            if stub is None:
                return replies.unknown_id("prim", "navitia", request)
            return JSONResponse(answer(stub, datetime.now(UTC)))

        return await replies.respond(request, "prim", "navitia", _ids(stub), build)

    return router


def ratp_routes(replies: Replies, network: ReplayNetwork) -> APIRouter:
    """ratp.fr: the schedules page, its Cloudflare challenge script, stop lists and next-passages boards."""
    router = APIRouter()

    @router.get("/horaires")
    async def schedules_page(request: Request) -> Response:
        async def build() -> Response:
            return HTMLResponse(
                "<!DOCTYPE html><html><head><title>Horaires | RATP</title></head><body>"
                "<h1>Horaires</h1><p>Stub upstream: replayed data.</p></body></html>"
            )

        return await replies.respond(request, "ratp", "page", set(), build)

    @router.get(CHALLENGE_SCRIPT_PATH)
    async def challenge_script() -> Response:
        return Response(CHALLENGE_SCRIPT, media_type="application/javascript", headers=REPLAYED)

    @router.get("/horaires/api/getStopPoints/{segment}/{code}")
    async def stop_points(request: Request, segment: str, code: str) -> Response:
        stub = network.line_by_board_code(segment, code)

        async def build() -> Response:
            if stub is None:
                return replies.unknown_id("ratp", "stop-points", request)
            return JSONResponse(network.stop_points(stub))

        return await replies.respond(request, "ratp", "stop-points", _ids(stub), build)

    @router.get("/horaires/blocs-horaires-next-passages/{segment}/{line_ref}/{stop_place}")
    async def next_passages(request: Request, segment: str, line_ref: str, stop_place: str) -> Response:
        place = network.place(stop_place)
        stub = network.line_by_ref(line_ref)
        sens = request.query_params.get("sens", "A").upper()

        async def build() -> Response:
            if place is None or stub is None or place[0] is not stub or sens not in ("A", "B"):
                return replies.unknown_id("ratp", "next-passages", request)
            direction = "A" if sens == "A" else "R"
            return JSONResponse(network.board_html(stub, place[1], direction, datetime.now(UTC)))

        return await replies.respond(request, "ratp", "next-passages", _ids(stub), build)

    return router


def control_routes(state: StubState) -> APIRouter:
    """The stub's own controls: faults, latency, PRIM limits and request counts (`/__stub/...`)."""
    router = APIRouter()

    @router.get("/")
    async def index() -> Response:
        return PlainTextResponse("RATP Live Tracker stub upstream: replayed data (PRIM, ratp.fr, vehicle socket)")

    @router.get("/__stub/faults")
    async def list_faults() -> Response:
        return JSONResponse([asdict(fault) for fault in state.faults])

    @router.post("/__stub/faults")
    async def add_faults(request: Request) -> Response:
        body = await request.json()
        entries = body.get("faults", []) if isinstance(body, dict) and "faults" in body else [body]
        replace = bool(body.get("replace", False)) if isinstance(body, dict) else False
        try:
            faults = [Fault(**entry) for entry in entries]
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        state.set_faults(faults, replace=replace)
        return JSONResponse([asdict(fault) for fault in state.faults])

    @router.delete("/__stub/faults")
    async def clear_faults() -> Response:
        state.clear_faults()
        return JSONResponse([])

    @router.post("/__stub/latency")
    async def set_latency(request: Request) -> Response:
        body = await request.json()
        state.latency_ms = max(0.0, float(body.get("ms", 0)))
        return JSONResponse({"latency_ms": state.latency_ms})

    @router.get("/__stub/limits")
    async def get_limits() -> Response:
        return JSONResponse(state.limits.stats())

    @router.post("/__stub/limits")
    async def set_limits(request: Request) -> Response:
        body = await request.json()
        allowed: dict[str, tuple[type, ...]] = {
            "daily_limit": (int,),
            "per_second": (int,),
            "day_seconds": (int, float),
            "api_key": (str, type(None)),
        }
        if not isinstance(body, dict) or any(
            key not in allowed or not isinstance(value, allowed[key]) for key, value in body.items()
        ):
            return JSONResponse({"message": f"give some of {sorted(allowed)}"}, status_code=422)
        state.limits.configure(**body)
        return JSONResponse(state.limits.stats())

    @router.post("/__stub/disruptions")
    async def set_disruptions(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("disruptions"), list):
            return JSONResponse({"message": "give a disruptions_bulk answer: {disruptions: [...], lines: [...]}"}, 422)
        state.disruptions = body
        return JSONResponse({"disruptions": len(body["disruptions"]), "lines": len(body.get("lines") or [])})

    @router.delete("/__stub/disruptions")
    async def reset_disruptions() -> Response:
        state.disruptions = None
        return JSONResponse({"disruptions": "recorded"})

    @router.get("/__stub/stats")
    async def stats() -> Response:
        return JSONResponse(state.stats())

    @router.post("/__stub/stats/reset")
    async def reset_stats() -> Response:
        state.reset_stats()
        return JSONResponse(state.stats())

    return router


def create_app(state: StubState, network: ReplayNetwork) -> FastAPI:
    """The HTTP side of the stub (the vehicle socket wraps it: `VehicleSocket`)."""
    app = FastAPI(title="RATP Live Tracker stub upstream (replayed data)", docs_url=None, redoc_url=None)
    replies = Replies(state, network)
    # One handler for the route and for `VehicleSocket`'s direct path to it.
    app.state.stop_monitoring = stop_monitoring_handler(replies, network)
    app.include_router(prim_routes(replies, network, app.state.stop_monitoring))
    app.include_router(ratp_routes(replies, network))
    app.include_router(control_routes(state))
    return app


def _ids(stub: StubLine | None) -> set[str]:
    return {stub.line.id} if stub else set()


_PRIM_STAMP = "%Y%m%dT%H%M%S"


def recorded_disruptions(now: datetime) -> dict[str, Any]:
    """The recorded traffic feed (`prim_disruptions_bulk.json`), its dates moved by whole days so that the day it was
    recorded is today: what was current then is current now, what had ended has ended."""
    payload = recorded_json("prim_disruptions_bulk.json")
    payload.pop("_source", None)
    recorded_at = datetime.fromisoformat(payload["lastUpdatedDate"].replace("Z", "+00:00"))
    shift = timedelta(days=(now.date() - recorded_at.date()).days)

    def moved(stamp: str) -> str:
        return (datetime.strptime(stamp, _PRIM_STAMP) + shift).strftime(_PRIM_STAMP)

    for disruption in payload["disruptions"]:
        for period in disruption["applicationPeriods"]:
            period["begin"], period["end"] = moved(period["begin"]), moved(period["end"])
        if "lastUpdate" in disruption:
            disruption["lastUpdate"] = moved(disruption["lastUpdate"])
    payload["lastUpdatedDate"] = (recorded_at + shift).isoformat().replace("+00:00", "Z")
    return payload


def feed_disruption(
    line: Line,
    *,
    disruption_id: str,
    begin: datetime,
    end: datetime,
    severity: str = "BLOQUANTE",
    section: tuple[str, str] | None = None,
    whole_line: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recorded disruption with impacted sections (`prim_disruptions_bulk.json`) moved onto a catalogue line for
    one period: its `disruptions[]` entry and its `lines[]` entry. Times are aware datetimes, written as PRIM does
    (Paris wall-clock)."""
    catalogue_line = line
    recorded = recorded_json("prim_disruptions_bulk.json")
    entry = copy.deepcopy(recorded["disruptions"][0])
    line_ref = f"line:IDFM:{catalogue_line.idfm_line_id}"
    entry.update(
        id=disruption_id,
        severity=severity,
        applicationPeriods=[{"begin": _paris_stamp(begin), "end": _paris_stamp(end)}],
        lastUpdate=_paris_stamp(begin),
        title=f"{catalogue_line.name} : {entry['title'].split(' : ', 1)[-1]}",
    )
    if section is None:
        entry.pop("impactedSections", None)
    else:
        entry["impactedSections"][0].update(lineId=line_ref)
        entry["impactedSections"][0]["from"]["name"], entry["impactedSections"][0]["to"]["name"] = section
    impacted = {
        "type": "line" if whole_line else "stop_area",
        "id": line_ref,
        "name": catalogue_line.name,
        "disruptionIds": [disruption_id],
    }
    feed_line = {
        "id": line_ref,
        "name": catalogue_line.name,
        "shortName": catalogue_line.code,
        "mode": catalogue_line.network,
        "networkId": "network:IDFM:Operator_100",
        "impactedObjects": [impacted],
    }
    return entry, feed_line


def feed_of(*entries: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """A `disruptions_bulk` answer from `feed_disruption` entries (lines listed once, their objects merged)."""
    lines: dict[str, dict[str, Any]] = {}
    for _, feed_line in entries:
        kept = lines.setdefault(feed_line["id"], {**feed_line, "impactedObjects": []})
        kept["impactedObjects"].extend(feed_line["impactedObjects"])
    return {
        "disruptions": [disruption for disruption, _ in entries],
        "lines": list(lines.values()),
        "lastUpdatedDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def _paris_stamp(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime(_PRIM_STAMP)


# --- the vehicle socket -------------------------------------------------------------------------------------


class VehicleSocket:
    """The vehicle socket, served by python-socketio's server to the client of services/scrapers/vmtr.py (the same
    library's client); the protocol tests read its frames by hand (tests/devtools/test_stub_upstream.py).

    What ratp.fr refuses at the handshake (another Origin, a fault's 403/429/500) is an HTTP answer before Engine.IO
    starts; the room is checked by the socket.io connect handler (`44` when unknown), and the `[POSV - INIT]` event
    follows the connection. Other HTTP requests go to `app`, but for PRIM's stop-monitoring, which a cycle asks
    a thousand times: its handler (the same as its route's) answers it without FastAPI's middleware and routing,
    0.75-0.89 ms of the stub's CPU an answer before, 0.42-0.52 ms after (937 requests, 48 at a time). The stub
    shares the benchmark machine's two cores with the fleet it serves.
    """

    def __init__(self, state: StubState, network: ReplayNetwork, app: FastAPI) -> None:
        self.state = state
        self.network = network
        self.server = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins="*",  # the Origin is checked at the handshake, with ratp.fr's answer
            ping_interval=SOCKET_PING_SECONDS,
            ping_timeout=20,
        )
        self.server.on("connect", self._connect)
        self.asgi = socketio.ASGIApp(self.server, other_asgi_app=app, socketio_path="socket.io")
        self.stop_monitoring: Callable[[Request], Awaitable[Response]] = app.state.stop_monitoring
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == STOP_MONITORING_PATH and scope["method"] == "GET":
            response = await self.stop_monitoring(Request(scope, receive))
            await response(scope, receive, send)
            return
        is_socket = scope["type"] == "websocket" and scope["path"].rstrip("/") == "/socket.io"
        if is_socket and not await self._handshake(WebSocket(scope, receive, send)):
            return
        await self.asgi(scope, receive, send)

    async def _handshake(self, websocket: WebSocket) -> bool:
        """False when the handshake was answered with a refusal; else the fault to play is left in the scope."""
        state = self.state
        state.count("vmtr.socket")
        params = websocket.query_params
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000.0)
        if websocket.headers.get("origin") != state.vmtr_origin or params.get("EIO") != "4":
            await websocket.close(code=1008)  # refused handshake: HTTP 403
            return False
        fault = state.match("vmtr", "socket", _ids(self.network.line_by_ref(params.get("roomName", ""))))
        kind = fault.kind if fault else None
        if kind in ("challenge", "forbidden"):
            await websocket.close(code=1008)
            return False
        if kind == "rate_limit" and fault is not None:
            await websocket.send_denial_response(
                PlainTextResponse("Too Many Requests", 429, headers={"Retry-After": str(round(fault.retry_after))})
            )
            return False
        if kind == "server_error":
            await websocket.send_denial_response(PlainTextResponse("Internal Server Error", 500))
            return False
        websocket.scope["stub.vmtr_fault"] = kind
        return True

    async def _connect(self, sid: str, environ: dict[str, Any], _auth: Any = None) -> None:
        kind = environ["asgi.scope"].get("stub.vmtr_fault")
        params = parse_qs(environ.get("QUERY_STRING", ""))
        stub = self.network.line_by_ref(params.get("roomName", [""])[0])
        direction = params.get("directionId", [""])[0].rsplit(":", 1)[-1]
        if kind == "timeout":
            await asyncio.sleep(self.state.hang_seconds)
            raise socketio.exceptions.ConnectionRefusedError("no answer")
        if stub is None or direction not in ("A", "R") or kind == "unknown_id":
            raise socketio.exceptions.ConnectionRefusedError("Unknown room or direction")
        task = asyncio.create_task(self._send_vehicles(sid, stub, direction, kind))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_vehicles(self, sid: str, stub: StubLine, direction: str, kind: str | None) -> None:
        """The `[POSV - INIT]` event, once the connection is acknowledged (cut, replaced or never sent when the fault
        says)."""
        manager = self.server.manager
        while not manager.is_connected(sid, "/"):
            if not manager.is_pre_connected(sid, "/"):
                return
            await asyncio.sleep(0.005)
        if kind == "dropped":
            await self.server.disconnect(sid)
            return
        payload = self.network.posv_init(stub, direction, datetime.now(UTC))
        if kind == "empty":
            payload["vehicles"] = []
        if kind not in ("truncated", "malformed"):
            await self.server.emit(POSV_INIT_EVENT, payload, to=sid)
            return
        # Broken frames go out as raw Engine.IO messages ("4" + the socket.io packet).
        frame = "42" + json.dumps([POSV_INIT_EVENT, payload], ensure_ascii=False)
        broken = frame[: len(frame) // 2] if kind == "truncated" else '42{"vehicles": "not an event array"}'
        await self.server.eio.send(manager.eio_sid_from_sid(sid, "/"), broken[1:])


# --- running it -----------------------------------------------------------------------------------------------


class StubUpstream:
    """The stub on a loopback port, served from a background thread (its own event loop); `stop()` ends it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        faults: Iterable[Fault | str] = (),
        hang_seconds: float = 30.0,
        vmtr_origin: str = DEFAULT_VMTR_ORIGIN,
        catalogue: Catalogue | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        self.state = StubState(
            latency_ms=latency_ms, hang_seconds=hang_seconds, vmtr_origin=vmtr_origin, limits=limits or RateLimits()
        )
        self.state.set_faults(fault if isinstance(fault, Fault) else Fault.parse(fault) for fault in faults)
        self.network = ReplayNetwork(catalogue or get_catalogue())
        self.app = VehicleSocket(self.state, self.network, create_app(self.state, self.network))
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        )
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def prim_base_url(self) -> str:
        return f"{self.base_url}/marketplace"

    @property
    def vmtr_socket_url(self) -> str:
        return f"ws://{self.host}:{self.port}/socket.io/"

    def settings_overrides(self) -> dict[str, Any]:
        """Settings values that point every source at this stub."""
        return {
            "prim_api_key": "stub-key",
            "prim_base_url": self.prim_base_url,
            "ratp_base_url": self.base_url,
            "vmtr_socket_url": self.vmtr_socket_url,
            "vmtr_origin": self.state.vmtr_origin,
        }

    def run(self) -> None:
        """Serves in this thread until interrupted (the command line's way)."""
        self._server.run(sockets=[self._socket])

    def start(self) -> StubUpstream:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="stub-upstream", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("stub upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._socket.close()

    def __enter__(self) -> StubUpstream:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # Shortcuts for tests running in the same process.
    def set_faults(self, *faults: Fault | str, replace: bool = True) -> None:
        self.state.set_faults((f if isinstance(f, Fault) else Fault.parse(f) for f in faults), replace=replace)

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def set_disruptions(self, payload: dict[str, Any] | None) -> None:
        """The traffic feed to serve (None: the recording, re-dated)."""
        self.state.disruptions = payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backend.devtools.upstream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    settings = get_settings()
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=settings.stub_upstream_latency_ms,
        help="delay before every answer (default STUB_UPSTREAM_LATENCY_MS)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="SOURCE[/ROUTE]:KIND[@LINE][*COUNT], repeatable (e.g. prim:timeout, ratp:challenge); "
        "added to those of STUB_UPSTREAM_FAULTS",
    )
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long a 'timeout' fault keeps silent")
    parser.add_argument("--vmtr-origin", default=DEFAULT_VMTR_ORIGIN, help="Origin the socket accepts")
    parser.add_argument("--daily-limit", type=int, default=1_000_000, help="PRIM requests a day per API (default 1e6)")
    parser.add_argument("--per-second", type=int, default=1_000, help="PRIM requests a second per API (default 1000)")
    parser.add_argument(
        "--day-seconds",
        type=float,
        default=86_400.0,
        help="length of the stub's day in real seconds (below 86400: a sped-up day from the start, for tests)",
    )
    parser.add_argument("--api-key", default=None, help="the only PRIM key accepted (default: any non-empty key)")
    args = parser.parse_args(argv)
    specs = settings.stub_upstream_faults.split() + args.fault
    try:
        faults = [Fault.parse(spec) for spec in specs]
    except ValueError as exc:
        parser.error(str(exc))
    stub = StubUpstream(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        faults=faults,
        hang_seconds=args.hang_seconds,
        vmtr_origin=args.vmtr_origin,
        limits=RateLimits(
            daily_limit=args.daily_limit, per_second=args.per_second, day_seconds=args.day_seconds, api_key=args.api_key
        ),
    )
    print("stub upstream (replayed data) for the whole catalogue; point the sources at it with:")
    for name, value in stub.settings_overrides().items():
        print(f"  {name.upper()}={value}")
    print(f"faults: {', '.join(specs) or 'none'}; latency {args.latency_ms:.0f} ms; admin at {stub.base_url}/__stub/")
    stub.run()


if __name__ == "__main__":
    main()
