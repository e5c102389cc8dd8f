"""ratp.fr: a line's stop list (`getStopPoints`) and each stop's next-passages board, behind Cloudflare.

The stop list gives the upstream ids of a line's stations (stop places for boards and vehicle positions, stop
areas for PRIM) and, for bus lines, the stations themselves. Boards are asked per stop and direction and parsed
by `ratp_board`. A Cloudflare challenge (HTTP 403 page) is passed by seeding a browser session with Playwright
(`cloudflare.seed_session`), reused until its cookies expire and kept in RATP_COOKIE_FILE (operators refresh or
inspect it with `python -m backend.services.scrapers.ratp_session`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, RootModel, StrictInt, StrictStr

from backend.catalogue import Line, LineStation, Station
from backend.catalogue.names import slugify
from backend.config import Settings
from backend.services.records import DepartureRecord, StationRecord, StopOutcome
from backend.services.resilience import (
    AttemptMeter,
    CircuitBreaker,
    Deadline,
    DepartureBatch,
    ErrorKind,
    SingleFlight,
    UpstreamError,
    failed_stop,
)
from backend.services.scrapers.cloudflare import (
    DEFAULT_USER_AGENT,
    BrowserSessionStore,
    SeedingError,
    is_challenge,
    seed_session,
)
from backend.services.scrapers.ratp_board import parse_board, row_time
from backend.services.stop_refs import StopRef, StopRefRegistry
from backend.services.times import utc_now
from backend.services.topology import LineTopology
from backend.services.upstream_http import UpstreamHttp, describe_url, parse_json, validated

SOURCE = "ratp_http"
# The registry's name for "ratp.fr's stop list was asked for this line's stop ids".
LOOK_UP_SOURCE = "ratp_http:stop_points"
NETWORK_SEGMENTS = {"metro": "metro", "rer": "rer", "tram": "tram", "bus": "busratp"}
# ratp.fr's own direction letters; which of our directions each serves is read from the destinations.
BOARD_DIRECTIONS = ("A", "B")
# After a failed seeding, challenged requests fail fast for this long rather than start Chromium again.
SEED_RETRY_AFTER_SECONDS = 300.0


def ratp_line_code(line: Line) -> str:
    """The line as ratp.fr's URLs spell it: metro "3B" for 3bis, tram "t3a", RER "A", bus "38"."""
    if line.network == "metro" and line.code.endswith("bis"):
        return line.code[: -len("bis")] + "B"
    if line.network == "tram":
        return line.code.lower()
    return line.code


def default_cookie_file(settings: Settings) -> Path:
    return settings.ratp_cookie_file or settings.data_dir / "ratp_cookies.json"


@dataclass(frozen=True)
class StopPoint:
    name: str
    stop_place_ref: str  # "ART:IDFM:22087"
    stop_area_id: str | None  # "71264" of "LDA:IDFM:71264"
    line_ref: str | None  # "LIG:IDFM:C01371"


class _StopPointEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: StrictStr | None = None
    stop_place_id: StrictStr | StrictInt | None = None
    stop_area_id: StrictStr | StrictInt | None = None  # "LDA:IDFM:71264"
    line_id: StrictStr | None = None


class StopPointList(RootModel[list[_StopPointEntry]]):
    """A getStopPoints answer: the line's stops, in order."""


def parse_stop_points(payload: Any) -> list[StopPoint]:
    """The stops of a getStopPoints answer, in the order listed (those without a name or a stop place are left
    out); raises `UpstreamError` when it has none."""
    answer = validated(StopPointList, payload, "ratp.fr stop list", expected="a list of stops")
    points: list[StopPoint] = []
    for item in answer.root:
        name = (item.name or "").strip()
        place = str(item.stop_place_id if item.stop_place_id is not None else "").strip()
        if not (name and place):
            continue
        area = str(item.stop_area_id) if item.stop_area_id is not None else ""
        points.append(
            StopPoint(
                name=name,
                stop_place_ref=place,
                stop_area_id=area.rsplit(":", 1)[-1] if area else None,
                line_ref=item.line_id or None,
            )
        )
    if not points:
        raise UpstreamError("empty", "ratp.fr stop list is empty")
    return points


def stop_refs_of(points: list[StopPoint], station_for_name: Callable[[str], str | None]) -> list[StopRef]:
    """Registry entries for the stops that `station_for_name` places on a station."""
    refs = []
    for point in points:
        station_id = station_for_name(point.name)
        if station_id is not None:
            refs.append(
                StopRef(
                    station_id=station_id,
                    upstream_name=point.name,
                    stop_place_ref=point.stop_place_ref,
                    stop_area_id=point.stop_area_id,
                    ratp_line_ref=point.line_ref,
                    source=SOURCE,
                )
            )
    return refs


def bus_stations(line: Line, points: list[StopPoint]) -> list[StationRecord]:
    """A bus line's stations from its stop list: "A" in the order listed, "R" reversed, one branch."""
    unique = list({slugify(point.name): point for point in points}.items())
    records: list[StationRecord] = []
    for direction, ordered in (("A", unique), ("R", unique[::-1])):
        records.extend(
            StationRecord(
                line_id=line.id,
                direction=direction,
                branch=0,
                position=position,
                station_id=station_id,
                name=point.name,
                upstream_ref=point.stop_place_ref,
            )
            for position, (station_id, point) in enumerate(ordered)
        )
    return records


def topology_of(stations: list[StationRecord]) -> LineTopology:
    """A topology for stations fetched at run time (bus lines)."""
    return LineTopology(
        stations[0].line_id if stations else "",
        [
            LineStation(
                line_id=record.line_id,
                direction="A" if record.direction == "A" else "R",
                branch=record.branch,
                position=record.position,
                station=Station(id=record.station_id, name=record.name, town=None),
            )
            for record in stations
        ],
    )


def board_departures(
    html: str, line: Line, station_id: str, topology: LineTopology, fetched_at: datetime
) -> tuple[list[DepartureRecord], int]:
    """The line's departures on one stop's board, and how many rows had a terminus not on the line."""
    records: list[DepartureRecord] = []
    unplaced = 0
    for board in parse_board(html):
        for row in board.rows:
            when = row_time(row, fetched_at)
            if when is None:
                continue
            direction = topology.direction_for_destination(station_id, row.destination)
            if direction is None:
                if topology.station_for_name(row.destination) != station_id:
                    unplaced += 1
                continue
            records.append(
                DepartureRecord(
                    line_id=line.id,
                    station_id=station_id,
                    direction=direction,
                    destination=row.destination,
                    expected_at=when.expected_at,
                    aimed_at=None,
                    status=when.status,
                    is_realtime=when.is_realtime,
                    vehicle_at_stop=when.vehicle_at_stop,
                    source=SOURCE,
                    fetched_at=fetched_at,
                )
            )
    return records, unplaced


class RatpHttpSource:
    def __init__(
        self,
        *,
        base_url: str,
        http: UpstreamHttp,
        breaker: CircuitBreaker,
        registry: StopRefRegistry,
        sessions: BrowserSessionStore,
        seeding_enabled: bool,
        chromium_executable_path: str,
        seed_timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.breaker = breaker
        self.registry = registry
        self.sessions = sessions
        self.seeding_enabled = seeding_enabled
        self.chromium_executable_path = chromium_executable_path
        self.seed_timeout_seconds = seed_timeout_seconds
        self._clock = clock
        self._stop_points: dict[str, list[StopPoint]] = {}
        self._stop_list_flights: SingleFlight[str, list[StopPoint]] = SingleFlight("the stop list")
        self._seed_lock = asyncio.Lock()
        self._seed_failure: tuple[float, str] | None = None
        self.seedings = 0

    # --- stop lists -------------------------------------------------------------------------------------------

    async def stop_points(self, line: Line, deadline: Deadline, meter: AttemptMeter) -> list[StopPoint]:
        """The line's stop list, asked once per process (concurrent askers share the request)."""
        known = self._stop_points.get(line.id)
        if known is not None:
            return known

        async def request() -> list[StopPoint]:
            segment = NETWORK_SEGMENTS[line.network]
            response = await self._get(
                f"{self.base_url}/horaires/api/getStopPoints/{segment}/{ratp_line_code(line)}",
                line=line,
                deadline=deadline,
                meter=meter,
            )
            points: list[StopPoint] = self._settled(
                lambda: parse_stop_points(parse_json(response, "ratp.fr stop list"))
            )
            self._stop_points[line.id] = points
            return points

        return await self._stop_list_flights.run(line.id, request, deadline)

    async def resolve(self, line: Line, topology: LineTopology, deadline: Deadline, meter: AttemptMeter) -> int:
        """Records the upstream ids of the line's stations in the registry; returns how many stations matched."""
        points = await self.stop_points(line, deadline, meter)
        refs = stop_refs_of(points, topology.station_for_name)
        self.registry.merge(line.id, refs, looked_up=LOOK_UP_SOURCE)
        if not refs:
            raise UpstreamError(
                "not_found",
                f"no stop ids known for {line.id}: ratp.fr listed {len(points)} stops, none matching the catalogue",
            )
        return len(refs)

    # --- departures -------------------------------------------------------------------------------------------

    async def departures(
        self, line: Line, topology: LineTopology, deadline: Deadline, meter: AttemptMeter
    ) -> DepartureBatch:
        """Next departures at every station of the line whose stop place ratp.fr listed, both directions."""
        refs = {
            station_id: ref
            for station_id, ref in self.registry.for_line(line.id).items()
            if ref.stop_place_ref and station_id in topology.stations
        }
        if not refs:
            await self.resolve(line, topology, deadline, meter)
            refs = {
                station_id: ref
                for station_id, ref in self.registry.for_line(line.id).items()
                if ref.stop_place_ref and station_id in topology.stations
            }
        jobs = [(station_id, ref, sens) for station_id, ref in refs.items() for sens in BOARD_DIRECTIONS]
        outcomes = await asyncio.gather(
            *(self._board(line, ref, sens, deadline, meter) for _station, ref, sens in jobs), return_exceptions=True
        )
        fetched_at = utc_now()
        departures: dict[tuple[str, str, datetime, str], DepartureRecord] = {}
        # A station answered when all its boards did; one failed board keeps its whole previous board.
        boards: dict[str, list[DepartureRecord]] = {station_id: [] for station_id in refs}
        failed: dict[str, UpstreamError] = {}
        failures: list[UpstreamError] = []
        unplaced = 0
        for (station_id, _ref, _sens), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, UpstreamError):
                raise outcome
            try:
                if isinstance(outcome, UpstreamError):
                    raise outcome
                records, skipped = board_departures(outcome, line, station_id, topology, fetched_at)
            except UpstreamError as error:
                failures.append(error)
                failed.setdefault(station_id, error)
                continue
            unplaced += skipped
            boards[station_id].extend(records)
        stops: list[StopOutcome] = []
        for station_id, records in boards.items():
            if station_id in failed:
                stops.append(failed_stop(station_id, SOURCE, failed[station_id]))
                continue
            for record in records:
                key = (record.station_id, record.direction, record.expected_at, record.destination)
                departures.setdefault(key, record)
            stops.append(StopOutcome(station_id, SOURCE, True, len(records), None, None))
        for station_id in topology.station_ids:
            if station_id not in refs:
                stops.append(
                    StopOutcome(
                        station_id, SOURCE, False, 0, "no_stop_ids", "not attempted: not in ratp.fr's stop list"
                    )
                )
        meter.items = len(departures)
        if failures and len(failures) == len(jobs) and all(failure.kind == "not_found" for failure in failures):
            # ratp.fr no longer knows these stop places: ask for the line's stop list again next time.
            self.registry.forget(line.id)
            self._stop_points.pop(line.id, None)
        return DepartureBatch.of(
            list(departures.values()), stops=stops, unit="stations", unplaced=unplaced, line_id=line.id
        )

    async def _board(self, line: Line, ref: StopRef, sens: str, deadline: Deadline, meter: AttemptMeter) -> str:
        line_ref = ref.ratp_line_ref or (f"LIG:IDFM:{line.idfm_line_id}" if line.idfm_line_id else line.code)
        response = await self._get(
            f"{self.base_url}/horaires/blocs-horaires-next-passages/"
            f"{NETWORK_SEGMENTS[line.network]}/{line_ref}/{ref.stop_place_ref}",
            line=line,
            deadline=deadline,
            meter=meter,
            params={"stopPlaceName": ref.upstream_name, "type": "now", "sens": sens},
        )

        def fragment() -> str:
            payload = parse_json(response, "ratp.fr board")
            if not isinstance(payload, str):
                raise UpstreamError("bad_response", f"unexpected ratp.fr board: a {type(payload).__name__}")
            return payload

        html: str = self._settled(fragment)
        return html

    # --- requests through Cloudflare --------------------------------------------------------------------------

    def _settled(self, parse: Callable[[], Any]) -> Any:
        """Runs a parse of a 2xx answer and tells the breaker how usable the answer was."""
        try:
            result = parse()
        except UpstreamError as error:
            UpstreamHttp.settle(self.breaker, error)
            raise
        UpstreamHttp.settle(self.breaker, None)
        return result

    def _headers(self, line: Line) -> dict[str, str]:
        session = self.sessions.current()
        headers = {
            "User-Agent": session.user_agent if session else DEFAULT_USER_AGENT,
            "Accept": "application/json, text/plain, */*",
            "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.6",
            "Referer": f"{self.base_url}/horaires/{NETWORK_SEGMENTS[line.network]}/{ratp_line_code(line)}",
            "X-Requested-With": "XMLHttpRequest",
        }
        cookie = session.cookie_header() if session else None
        if cookie:
            headers["Cookie"] = cookie
        return headers

    async def _get(
        self,
        url: str,
        *,
        line: Line,
        deadline: Deadline,
        meter: AttemptMeter,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A 2xx answer, seeding a browser session once when Cloudflare challenges the request."""
        for attempt in range(2):
            generation = self.sessions.generation
            response = await self.http.get(
                url,
                breaker=self.breaker,
                meter=meter,
                deadline=deadline,
                params=params,
                headers=self._headers(line),
                pass_statuses=(403, 503),
            )
            if 200 <= response.status_code < 300:
                return response
            challenged = is_challenge(response)
            if not challenged or attempt == 1:
                kind: ErrorKind = "blocked" if challenged or response.status_code == 403 else "server_error"
                detail = "Cloudflare challenge persists after seeding a session" if challenged else "forbidden"
                error = UpstreamError(kind, f"HTTP {response.status_code} on {describe_url(url)}: {detail}")
                UpstreamHttp.settle(self.breaker, error)
                raise error
            self.breaker.release()
            try:
                await self._refresh_session(generation, deadline)
            except UpstreamError as error:
                UpstreamHttp.settle(self.breaker, error)
                raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _refresh_session(self, seen_generation: int, deadline: Deadline) -> None:
        """Seeds a new session unless another request already did since `seen_generation`."""
        if not self.seeding_enabled:
            raise UpstreamError(
                "blocked",
                "Cloudflare challenge (HTTP 403) and seeding is off (PLAYWRIGHT_SEEDING_ENABLED=false); refresh "
                "the cookies with `python -m backend.services.scrapers.ratp_session --refresh-cookies`",
            )
        try:
            # Waits for a seeding another request started, but no longer than this fetch may last.
            async with asyncio.timeout(deadline.cap(deadline.remaining())), self._seed_lock:
                if self.sessions.generation != seen_generation:
                    return
                await self._seed(deadline)
        except TimeoutError:
            raise UpstreamError("timeout", "fetch time budget ran out while a browser session was seeded") from None

    async def _seed(self, deadline: Deadline) -> None:
        if self._seed_failure is not None and self._clock() - self._seed_failure[0] < SEED_RETRY_AFTER_SECONDS:
            wait = SEED_RETRY_AFTER_SECONDS - (self._clock() - self._seed_failure[0])
            raise UpstreamError(
                "blocked",
                f"Cloudflare challenge; the last seeding failed ({self._seed_failure[1]}), next in {wait:.0f} s",
            )
        try:
            session = await seed_session(
                base_url=self.base_url,
                executable_path=self.chromium_executable_path,
                timeout_seconds=deadline.cap(self.seed_timeout_seconds),
            )
        except SeedingError as exc:
            self._seed_failure = (self._clock(), str(exc))
            raise UpstreamError("blocked", f"Cloudflare challenge; seeding a browser session failed: {exc}") from None
        self._seed_failure = None
        self.seedings += 1
        self.sessions.save(session)
