"""The workers' entry point to live data: `LiveDataService.fetch_line(line)` -> `LineFetchResult`.

Built once per worker process from `Settings`; it owns the shared HTTP client, the per-source circuit breakers,
the PRIM quota counters, the ratp.fr browser session and the registry of resolved stop ids. A fetch runs three
parts side by side within one time budget:

- departures from the first source of SOURCE_ORDER that has them (`prim` when PRIM_API_KEY is set, `ratp_http`);
- train positions from the vehicle socket (`vmtr`, when listed and VMTR_SOCKET_ENABLED);
- the traffic status from PRIM, or "unknown" with the reason: nothing to ask while the fleet's read of PRIM's traffic
  feed is fresh (`traffic_gate`: the scheduler's one `disruptions_bulk` request per refresh, `read_traffic_feed`
  below, covers every line), one general-message request for the line as the fallback when it is not.

Upstream faults never escape: each source's outcome is a `SourceAttempt`, and the result says "ok", "partial"
(some part missing, with why) or "no_data" (no departures and no positions, with every reason). Nothing is made
up: a departure comes from an upstream's answer, and is `is_realtime=False` when that answer gave a timetable time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

from backend.catalogue import Catalogue, Line, get_catalogue, normalise_name
from backend.catalogue.names import slugify
from backend.config import Settings
from backend.services.records import (
    DepartureRecord,
    FetchStatus,
    FreshnessReason,
    LineFetchResult,
    SourceAttempt,
    StationRecord,
    StopList,
    StopOutcome,
    TrafficStatusRecord,
    VehiclePositionRecord,
)
from backend.services.resilience import (
    AttemptMeter,
    BreakerSnapshot,
    CircuitBreaker,
    DailyQuota,
    Deadline,
    QuotaSnapshot,
    UpstreamError,
    failed_stop,
    main_reason,
)
from backend.services.scrapers import prim, prim_disruptions, ratp_http, vmtr
from backend.services.scrapers.cloudflare import BrowserSessionStore
from backend.services.stop_refs import LineStopRefs, ResolvedHook, StopRef, StopRefRegistry, shipped_stop_refs
from backend.services.times import utc_now
from backend.services.topology import LineTopology
from backend.services.upstream_http import UpstreamClient, UpstreamHttp, line_fan_out

logger = logging.getLogger(__name__)

DEPARTURE_SOURCES = ("prim", "ratp_http")
KNOWN_SOURCES = frozenset({*DEPARTURE_SOURCES, "vmtr"})
STOP_LIST_ATTEMPT = "ratp_http:stops"
ROUTES_ATTEMPT = "prim:routes"
NAVITIA_STOP_AREA = "stop_area:IDFM:"
TRAFFIC_ATTEMPT = "prim:traffic"
# The per-line traffic request made because the fleet's read of the traffic feed failed or is old.
TRAFFIC_FALLBACK_ATTEMPT = "prim:traffic-fallback"
TRAFFIC_FEED_ATTEMPT = "prim:disruptions"
# Share of the traffic quota the automatic refresh interval plans to use, leaving room for retries and restarts.
TRAFFIC_QUOTA_TARGET = 0.9


def fetch_budget_seconds(settings: Settings) -> float:
    return min(settings.upstream_fetch_budget_seconds, 0.85 * settings.task_timeout_seconds)


def error_cache_seconds(settings: Settings) -> float:
    """How long an error answer for a stop serves the other lines at that stop: the burst of one cycle, but shorter
    than a retry's back-off, so that a retried task asks again."""
    return min(settings.prim_stop_cache_seconds, 0.9 * settings.task_retry_backoff_seconds)


def traffic_refresh_seconds(settings: Settings, line_count: int) -> float:
    """Least time between two traffic requests for a line, so that `line_count` lines keep within the quota."""
    share = settings.prim_daily_quota_traffic / settings.prim_quota_processes
    needed = 86_400.0 * max(1, line_count) / (TRAFFIC_QUOTA_TARGET * share)
    return max(settings.prim_traffic_refresh_seconds, needed)


class TrafficGate(Protocol):
    """Whether the fleet's read of the traffic feed is fresh enough that a line fetch asks no traffic of its own."""

    async def covers(self) -> bool: ...


@dataclass(frozen=True)
class TrafficFeedRead:
    """One read of PRIM's traffic feed: every catalogue line's disruptions, or why there are none."""

    disruptions: dict[str, list[prim_disruptions.DisruptionRecord]]  # by catalogue line id (only lines listed)
    line_ids: list[str]  # every catalogue line the feed speaks for (those with an IDFM id)
    disruptions_count: int  # entries of the whole feed
    attempt: SourceAttempt
    error: str | None  # None: read

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Part:
    """What one part of a fetch (departures, positions, traffic) brought, and why anything is missing."""

    attempts: list[SourceAttempt] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Departures:
    records: list[DepartureRecord]
    stops: list[StopOutcome]
    dropped: dict[str, int]
    part: _Part


class LiveDataService:
    """One per worker process; `fetch_line` is safe to call concurrently for different lines."""

    def __init__(
        self,
        settings: Settings,
        *,
        catalogue: Catalogue | None = None,
        on_stop_refs_resolved: ResolvedHook | None = None,
        prim_budget: prim.PrimBudget | None = None,
        traffic_gate: TrafficGate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or get_catalogue()
        self.traffic_gate = traffic_gate
        self.client = UpstreamClient(settings.upstream_max_concurrency, timeout=settings.upstream_timeout_seconds)
        self.sources = _source_order(settings)
        self.breakers = _breakers(settings, clock)
        self.quotas = _local_quotas(settings)
        self.registry = _stop_ref_registry(settings, self.catalogue, on_stop_refs_resolved)
        self._reported_without_ids: dict[str, frozenset[str]] = {}
        # Each line fetch's own requests in flight per source; the process's ceiling over all its fetches.
        self.line_concurrency = {"prim": settings.prim_line_concurrency, "ratp_http": settings.ratp_line_concurrency}
        http = UpstreamHttp(
            self.client,
            semaphore=asyncio.Semaphore(settings.upstream_max_concurrency),
            request_timeout=settings.upstream_timeout_seconds,
            retry_after_max=settings.upstream_retry_after_max_seconds,
        )
        self.prim = prim.PrimSource(
            api_key=settings.prim_api_key,
            base_url=settings.prim_base_url,
            http=http,
            breaker=self.breakers["prim"],
            registry=self.registry,
            budget=prim_budget or prim.LocalBudget(self.quotas),
            stop_cache_seconds=settings.prim_stop_cache_seconds,
            error_cache_seconds=error_cache_seconds(settings),
            traffic_refresh_seconds=traffic_refresh_seconds(settings, len(self.catalogue.schedulable_lines())),
        )
        self.ratp = ratp_http.RatpHttpSource(
            base_url=settings.ratp_base_url,
            http=http,
            breaker=self.breakers["ratp_http"],
            registry=self.registry,
            sessions=BrowserSessionStore(ratp_http.default_cookie_file(settings), settings.ratp_base_url),
            seeding_enabled=settings.playwright_seeding_enabled,
            chromium_executable_path=settings.chromium_executable_path,
            seed_timeout_seconds=settings.playwright_seed_timeout_seconds,
        )
        self.vmtr = vmtr.VmtrSource(
            socket_url=settings.vmtr_socket_url,
            origin=settings.vmtr_origin,
            breaker=self.breakers["vmtr"],
            # A socket session listens for seconds: it has slots of its own, and never holds the HTTP requests'.
            semaphore=asyncio.Semaphore(settings.vmtr_max_concurrency),
            connect_timeout=settings.upstream_timeout_seconds,
            listen_seconds=settings.vmtr_listen_seconds,
        )
        self.budget_seconds = fetch_budget_seconds(settings)

    async def aclose(self) -> None:
        await self.vmtr.aclose()
        await self.client.aclose()
        await self.prim.budget.aclose()

    async def __aenter__(self) -> LiveDataService:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # --- what the process knows -------------------------------------------------------------------------------

    def stop_refs(self, line_id: str) -> dict[str, StopRef]:
        """Upstream ids resolved so far for the line's stations (persist them with `registry.export()`)."""
        return self.registry.for_line(line_id)

    def load_stop_refs(self, stored: LineStopRefs) -> None:
        """What another worker learnt of a line's stop ids (from the database), before this process fetches it."""
        self.registry.load_line(stored)

    def breaker_snapshots(self) -> list[BreakerSnapshot]:
        return [breaker.snapshot() for breaker in self.breakers.values()]

    def quota_snapshots(self) -> list[QuotaSnapshot]:
        return [quota.snapshot() for quota in self.quotas.values()]

    # --- fetching ---------------------------------------------------------------------------------------------

    async def fetch_line(self, line: Line, stops: StopList | None = None) -> LineFetchResult:
        """The line's live data from the real sources, or the reasons there is none; never raises for upstreams.

        `stops`: for a line without catalogue stations (a bus line), the stop list kept from an earlier fetch; it is
        used as long as it is younger than BUS_STOPS_REFRESH_HOURS, and kept should asking again fail."""
        result = await self._fetch_within_budget(line, stops)
        if not line.has_station_data:  # a bus line's ids are in its stop list, kept with its stations
            return result
        return replace(result, stop_refs=self.registry.changes(line.id))

    async def _fetch_within_budget(self, line: Line, stops: StopList | None) -> LineFetchResult:
        deadline = Deadline(self.budget_seconds)
        try:
            # The deadline bounds every request; this is the backstop should anything not honour it.
            async with asyncio.timeout(self.budget_seconds + 2.0):
                with line_fan_out(self.line_concurrency):
                    return await self._fetch(line, deadline, stops)
        except TimeoutError:
            error = f"fetch exceeded its {self.budget_seconds:.0f} s time budget"
            code: FreshnessReason = "unreachable"
        except Exception as exc:  # a bug here must not take the worker down with it
            logger.exception("fetch of %s failed", line.id)
            error = f"internal error: {exc!r}"
            code = "upstream_error"
        return LineFetchResult(
            line_id=line.id,
            departures=(),
            positions=(),
            traffic=None,
            attempts=(),
            stations=(),
            status="failed",
            error=error,
            reason=code,
        )

    async def _fetch(self, line: Line, deadline: Deadline, cached: StopList | None) -> LineFetchResult:
        topology = LineTopology(line.id, self.catalogue.stations_for(line.id))
        fetched: StopList | None = None
        setup = _Part()
        if not topology:
            fetched = await self._bus_stations(line, deadline, setup, cached)
            in_use = fetched or cached
            if fetched is not None:
                self.registry.forget(line.id)  # the new list's ids replace whatever the old one said
            if in_use is not None:
                self._learn_stop_list(in_use)
            topology = ratp_http.topology_of(list(in_use.stations) if in_use else [])
        found, (positions, position_part), (traffic, traffic_part) = await asyncio.gather(
            self._departures(line, topology, deadline),
            self._positions(line, topology, deadline),
            self._traffic(line, deadline),
        )
        departures = found.records
        parts = (setup, found.part, position_part, traffic_part)
        problems = [problem for part in parts for problem in part.problems]
        answered = sum(1 for stop in found.stops if stop.answered)
        status: FetchStatus
        if not answered:
            status = "failed"
        elif answered < len(found.stops):
            status = "partial"
        else:
            status = "ok" if departures else "no_data"
        reason = main_reason(found.stops) if status in ("failed", "partial") else None
        if status == "failed" and reason is None:
            reason = "not_configured" if topology else "no_stop_ids"
        order = {station_id: index for index, station_id in enumerate(topology.station_ids)}
        return LineFetchResult(
            line_id=line.id,
            departures=tuple(
                sorted(departures, key=lambda d: (order.get(d.station_id, len(order)), d.direction, d.expected_at))
            ),
            positions=tuple(positions),
            traffic=traffic,
            attempts=tuple(attempt for part in parts for attempt in part.attempts),
            stations=fetched.stations if fetched else (),
            status=status,
            error="; ".join(problems) or None,
            stops=tuple(found.stops),
            reason=reason,
            dropped=tuple(sorted(found.dropped.items())),
            stations_source=fetched.source if fetched else None,
        )

    async def _bus_stations(
        self, line: Line, deadline: Deadline, part: _Part, cached: StopList | None
    ) -> StopList | None:
        """A new stop list for a line without catalogue stations (a bus line) when the kept one is missing or older
        than BUS_STOPS_REFRESH_HOURS; None when the kept one serves (or asking failed: the kept one, if any, still
        serves, and the failure is reported)."""
        refresh_after = timedelta(hours=self.settings.bus_stops_refresh_hours)
        if cached is not None and cached.stations and utc_now() - cached.fetched_at < refresh_after:
            return None
        problems: list[str] = []
        if "prim" in self.sources and self.prim.configured and line.idfm_line_id:
            meter = AttemptMeter(ROUTES_ATTEMPT)
            try:
                routes = await self.prim.line_routes(line, deadline, meter)
            except UpstreamError as error:
                part.attempts.append(meter.finish(ok=False, error=error.reason))
                problems.append(f"prim: {error.reason}")
            else:
                part.attempts.append(meter.finish(ok=True, error=None))
                stations = navitia_stations(line, routes, self.catalogue)
                return StopList(line.id, prim.SOURCE, utc_now(), tuple(stations))
        if "ratp_http" in self.sources:
            meter = AttemptMeter(STOP_LIST_ATTEMPT)
            try:
                points = await self.ratp.stop_points(line, deadline, meter)
            except UpstreamError as error:
                part.attempts.append(meter.finish(ok=False, error=error.reason))
                problems.append(f"ratp_http: {error.reason}")
            else:
                stations = ratp_http.bus_stations(line, points)
                self.registry.merge(line.id, ratp_http.stop_refs_of(points, slugify))
                meter.items = len(stations) // 2
                if meter.requests:
                    part.attempts.append(meter.finish(ok=True, error=None))
                return StopList(line.id, "ratp_http", utc_now(), tuple(stations))
        if not problems:
            problems.append(f"{line.id} has none in the catalogue, and neither PRIM (key) nor ratp_http can list them")
        kept = f" (kept the list of {cached.fetched_at:%Y-%m-%d %H:%M} UTC)" if cached and cached.stations else ""
        part.problems.append("stations: " + "; ".join(problems) + kept)
        return None

    def _learn_stop_list(self, stops: StopList) -> None:
        """The stop ids a stop list carries, so that no other look-up is needed for its stations."""
        refs = []
        for record in {record.station_id: record for record in stops.stations}.values():
            ref = record.upstream_ref or ""
            refs.append(
                StopRef(
                    station_id=record.station_id,
                    upstream_name=record.name,
                    stop_area_id=ref.removeprefix(NAVITIA_STOP_AREA) if ref.startswith(NAVITIA_STOP_AREA) else None,
                    stop_place_ref=ref if ref.startswith("ART:") else None,
                    source=stops.source,
                )
            )
        self.registry.merge(stops.line_id, refs)

    def _has_place_refs(self, line_id: str) -> bool:
        return any(ref.stop_place_ref for ref in self.registry.for_line(line_id).values())

    async def _resolve_stop_refs(self, line: Line, topology: LineTopology, deadline: Deadline, part: _Part) -> None:
        meter = AttemptMeter(STOP_LIST_ATTEMPT)
        try:
            meter.items = await self.ratp.resolve(line, topology, deadline, meter)
        except UpstreamError as error:
            part.attempts.append(meter.finish(ok=False, error=error.reason))
            return
        if meter.requests:
            part.attempts.append(meter.finish(ok=True, error=None))

    async def _departures(self, line: Line, topology: LineTopology, deadline: Deadline) -> _Departures:
        """Departures from the first source of SOURCE_ORDER at which some stop answered (an answer with no visits
        is an answer: the board empties), with each station's outcome; when none answered, every station failed."""
        part = _Part()
        reasons: list[str] = []
        stops: list[StopOutcome] = []
        fallback_reason: FreshnessReason = "not_configured"
        for name in self.sources:
            if name not in DEPARTURE_SOURCES:
                continue
            meter = AttemptMeter(name)
            if name == "prim" and not self.prim.configured:
                reasons.append("prim skipped (PRIM_API_KEY is empty)")
                fallback_reason = "no_key"
                continue
            if not topology:
                error = f"no stations known for {line.id}"
                part.attempts.append(meter.finish(ok=False, error=error))
                reasons.append(f"{name}: {error}")
                continue
            try:
                if name == "prim":
                    batch = await self.prim.departures(line, topology, deadline, meter)
                else:
                    batch = await self.ratp.departures(line, topology, deadline, meter)
            except UpstreamError as error:
                reason = f"skipped: {error.reason}" if error.kind == "not_configured" else error.reason
                part.attempts.append(meter.finish(ok=False, error=reason))
                reasons.append(f"{name}: {reason}")
                stops = [failed_stop(station_id, name, error) for station_id in topology.station_ids]
                continue
            part.attempts.append(meter.finish(ok=batch.ok, error=batch.error))
            self._report_stations_without_ids(line, name, batch.stops)
            if batch.ok:
                if batch.error:
                    part.problems.append(f"departures: {name}: {batch.error}")
                return _Departures(batch.departures, batch.stops, batch.dropped, part)
            stops = batch.stops
            reasons.append(f"{name}: {batch.error or 'no stop answered'}")
        summary = "; ".join(reasons) or "no departure source in SOURCE_ORDER"
        if not stops:
            stops = [
                StopOutcome(station_id, None, False, 0, fallback_reason, f"not attempted: {summary}")
                for station_id in topology.station_ids
            ]
        part.problems.append(f"departures: {summary}")
        return _Departures([], stops, {}, part)

    def _report_stations_without_ids(self, line: Line, source: str, stops: list[StopOutcome]) -> None:
        """Logs, once per process and whenever the list changes, the stations no stop id is known for."""
        missing = frozenset(stop.station_id for stop in stops if stop.reason == "no_stop_ids")
        if missing == self._reported_without_ids.get(line.id, frozenset()):
            return
        self._reported_without_ids[line.id] = missing
        if missing:
            logger.warning(
                "%s: no %s stop id for %d station(s), which get no live departures from it: %s",
                line.id,
                source,
                len(missing),
                ", ".join(sorted(missing)),
                extra={"line_id": line.id, "stations_without_ids": sorted(missing)},
            )

    async def _positions(
        self, line: Line, topology: LineTopology, deadline: Deadline
    ) -> tuple[list[VehiclePositionRecord], _Part]:
        part = _Part()
        if "vmtr" not in self.sources:
            return [], part
        meter = AttemptMeter("vmtr")
        if not self.settings.vmtr_socket_enabled:
            part.attempts.append(meter.finish(ok=False, error="skipped: VMTR_SOCKET_ENABLED is false"))
            return [], part
        if not line.idfm_line_id:
            part.attempts.append(meter.finish(ok=False, error=f"skipped: {line.id} has no IDFM line id to ask for"))
            return [], part
        lookups = []
        if (
            topology
            and "ratp_http" in self.sources
            and not self._has_place_refs(line.id)
            and not self.registry.looked_up(line.id, ratp_http.LOOK_UP_SOURCE)
        ):
            # The socket names stops by stop place; ratp.fr's stop list says which station each one is.
            lookups.append(self._resolve_stop_refs(line, topology, deadline, part))
        *outcomes, _ = await asyncio.gather(
            *(self.vmtr.vehicles(line, direction, deadline, meter) for direction in vmtr.SOCKET_DIRECTIONS),
            asyncio.gather(*lookups),
            return_exceptions=True,
        )
        received_at = utc_now()
        positions: dict[str, VehiclePositionRecord] = {}
        failures: list[str] = []
        unplaced = 0
        for direction, outcome in zip(vmtr.SOCKET_DIRECTIONS, outcomes, strict=True):
            if isinstance(outcome, UpstreamError):
                failures.append(f"{direction}: {outcome.reason}")
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            if not isinstance(outcome, list):
                continue
            records, skipped = vmtr.vehicles_to_positions(
                outcome,
                line=line,
                asked_direction=direction,
                topology=topology,
                registry=self.registry,
                received_at=received_at,
            )
            unplaced += skipped
            for record in records:
                positions.setdefault(record.vehicle_id, record)
        meter.items = len(positions)
        notes = list(failures)
        if unplaced:
            notes.append(f"{unplaced} stop refs not matched to a station")
        ok = len(failures) < len(vmtr.SOCKET_DIRECTIONS)
        part.attempts.append(meter.finish(ok=ok, error="; ".join(notes) or None))
        if failures:
            part.problems.append("positions: " + "; ".join(failures))
        elif positions and all(p.previous_station_id is None and p.next_station_id is None for p in positions.values()):
            part.problems.append("positions: no stop ids known to place the trains on stations")
        return list(positions.values()), part

    async def read_traffic_feed(self) -> TrafficFeedRead:
        """Every catalogue line's disruptions from one request of PRIM's traffic feed (the fleet's traffic task)."""
        meter = AttemptMeter(TRAFFIC_FEED_ATTEMPT)
        line_ids = {line.idfm_line_id: line.id for line in self.catalogue.lines if line.idfm_line_id}
        error: str | None = None
        if "prim" not in self.sources:
            error = "skipped: prim is not in SOURCE_ORDER"
        elif not self.prim.configured:
            error = "skipped: PRIM_API_KEY is empty"
        if error is not None:
            return TrafficFeedRead({}, [], 0, meter.finish(ok=False, error=error), error)
        try:
            async with asyncio.timeout(self.budget_seconds + 2.0):
                feed = await self.prim.disruptions_feed(Deadline(self.budget_seconds), meter)
        except UpstreamError as exc:
            return TrafficFeedRead({}, [], 0, meter.finish(ok=False, error=exc.reason), exc.reason)
        except TimeoutError:
            error = f"read exceeded its {self.budget_seconds:.0f} s time budget"
            return TrafficFeedRead({}, [], 0, meter.finish(ok=False, error=error), error)
        disruptions = prim_disruptions.disruptions_by_line(feed, line_ids)
        return TrafficFeedRead(
            disruptions, sorted(line_ids.values()), len(feed.disruptions), meter.finish(ok=True, error=None), None
        )

    async def _traffic(self, line: Line, deadline: Deadline) -> tuple[TrafficStatusRecord | None, _Part]:
        part = _Part()
        if "prim" not in self.sources or not self.prim.configured:
            reason = "no traffic source: PRIM is not configured (PRIM_API_KEY)"
            if "prim" not in self.sources:
                reason = "no traffic source: prim is not in SOURCE_ORDER"
            return _unknown_traffic(line, reason, source="none"), part
        if not line.idfm_line_id:
            return _unknown_traffic(line, f"no traffic source: {line.id} has no IDFM line id", source="none"), part
        fallback = self.traffic_gate is not None
        if self.traffic_gate is not None and await self.traffic_gate.covers():
            return None, part  # the fleet's read of the traffic feed wrote this line's status
        meter = AttemptMeter(TRAFFIC_FALLBACK_ATTEMPT if fallback else TRAFFIC_ATTEMPT)
        try:
            record = await self.prim.traffic(line, deadline, meter)
        except UpstreamError as error:
            part.attempts.append(meter.finish(ok=False, error=error.reason))
            part.problems.append(f"traffic: {error.reason}")
            return _unknown_traffic(line, f"traffic unavailable: {error.reason}", source=prim.SOURCE), part
        part.attempts.append(meter.finish(ok=True, error=None))
        return record, part

    def counters(self) -> dict[str, Any]:
        """This process's hold on its upstreams, JSON-ready for the worker heartbeat (`metrics["upstream"]`): each
        source's circuit, the daily quotas when they are this process's own (a worker's PRIM budget is the fleet's,
        in the database), and its cache and browser-session counts."""
        local_quotas = isinstance(self.prim.budget, prim.LocalBudget)
        return {
            "breakers": [asdict(snapshot) for snapshot in self.breaker_snapshots()],
            "quotas": [asdict(snapshot) for snapshot in self.quota_snapshots()] if local_quotas else [],
            "prim_stop_cache_hits": self.prim.stop_cache_hits,
            "ratp_seedings": self.ratp.seedings,
        }


def _unknown_traffic(line: Line, reason: str, *, source: str) -> TrafficStatusRecord:
    return TrafficStatusRecord(line_id=line.id, level="unknown", message=reason, source=source, updated_at=utc_now())


def bus_station_id(name: str, town: str | None, catalogue: Catalogue) -> str:
    """The station id of a bus stop: the slug of its name when that names the same place as a catalogue station
    (same town) or a Paris stop; else the slug of name and town, so that the "Mairie" of two towns are two stations
    (the catalogue's rule for two places of one name)."""
    slug = slugify(name)
    try:
        known = catalogue.station(slug)
    except KeyError:
        known = None
    if town is None:
        return slug
    if known is not None:
        same_town = known.town is None or normalise_name(known.town) == normalise_name(town)
        return slug if same_town else slugify(f"{name} {town}")
    return slug if normalise_name(town) == "paris" else slugify(f"{name} {town}")


def navitia_stations(line: Line, routes: list[prim.NavitiaRoute], catalogue: Catalogue) -> list[StationRecord]:
    """A bus line's stations from its Navitia routes: one branch per direction, stops in calling order."""
    records: list[StationRecord] = []
    for route in routes:
        seen: set[str] = set()
        position = 0
        for stop in route.stops:
            station_id = bus_station_id(stop.name, stop.town, catalogue)
            if station_id in seen:  # a loop passing one stop twice: the first call places it
                continue
            seen.add(station_id)
            records.append(
                StationRecord(
                    line_id=line.id,
                    direction=route.direction,
                    branch=0,
                    position=position,
                    station_id=station_id,
                    name=stop.name,
                    upstream_ref=f"{NAVITIA_STOP_AREA}{stop.stop_area_id}",
                    town=stop.town,
                    lat=stop.lat,
                    lon=stop.lon,
                )
            )
            position += 1
    return records


def _source_order(settings: Settings) -> list[str]:
    unknown = [name for name in settings.source_names if name not in KNOWN_SOURCES]
    if unknown:
        logger.warning("SOURCE_ORDER names unknown sources %s; known: %s", unknown, sorted(KNOWN_SOURCES))
    return [name for name in settings.source_names if name in KNOWN_SOURCES]


def _breakers(settings: Settings, clock: Callable[[], float]) -> dict[str, CircuitBreaker]:
    return {
        name: CircuitBreaker(
            name,
            failure_threshold=settings.upstream_breaker_failure_threshold,
            cooldown_seconds=settings.upstream_breaker_cooldown_seconds,
            clock=clock,
        )
        for name in sorted(KNOWN_SOURCES)
    }


def _local_quotas(settings: Settings) -> dict[str, DailyQuota]:
    """The process's own share of the PRIM quotas, for a process without the fleet's budget (backend/budget)."""
    processes = settings.prim_quota_processes
    return {
        "departures": DailyQuota("PRIM departures", settings.prim_daily_quota_departures, processes=processes),
        "disruptions": DailyQuota("PRIM traffic feed", settings.prim_daily_quota_disruptions, processes=processes),
        "traffic": DailyQuota("PRIM traffic", settings.prim_daily_quota_traffic, processes=processes),
        "navitia": DailyQuota("PRIM Navitia", settings.prim_daily_quota_navitia, processes=processes),
    }


def _stop_ref_registry(settings: Settings, catalogue: Catalogue, on_resolved: ResolvedHook | None) -> StopRefRegistry:
    registry = StopRefRegistry(on_resolved=on_resolved, refresh_after=timedelta(hours=settings.stop_refs_refresh_hours))
    # The IDFM stop-area ids shipped in the catalogue: no look-up, no name matching for those stations.
    registry.load(
        {
            line.id: {ref.station_id: asdict(ref) for ref in shipped_stop_refs(catalogue, line.id)}
            for line in catalogue.lines
            if line.has_station_data
        }
    )
    return registry
