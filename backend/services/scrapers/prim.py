"""IDFM PRIM: next departures (SIRI Lite stop-monitoring), traffic messages (general-message), stop areas and bus
routes (Navitia).

Departures are asked per stop area (`STIF:StopArea:SP:<n>:`), so one answer serves every line calling there: answers
are kept `PRIM_STOP_CACHE_SECONDS` and concurrent askers share one request. Every request is taken from a
`PrimBudget` first (the fleet's, in the database, for workers: see backend/budget), which paces requests and refuses
those the key's allowance cannot cover; every answer's rate-limit headers go back to it.
A line's stop areas come from the registry: the IDFM ids shipped in the catalogue (`stop_areas.csv`), ids learnt
from ratp.fr's stop list, and, for stations still without one, one look-up of PRIM's Navitia `lines/<line>/stop_areas`
(kept in the database for the whole fleet, see `stop_refs`), matched to stations by name (accents, punctuation and
official long names allowed); the stops already known are asked while it runs.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from backend.catalogue import Line
from backend.services.records import (
    DepartureRecord,
    DepartureStatus,
    StopOutcome,
    TrafficLevel,
    TrafficStatusRecord,
)
from backend.services.resilience import (
    AttemptMeter,
    CircuitBreaker,
    DailyQuota,
    Deadline,
    DepartureBatch,
    SingleFlight,
    UpstreamError,
    failed_stop,
)
from backend.services.scrapers import prim_disruptions, siri
from backend.services.stop_refs import StopRef, StopRefRegistry
from backend.services.times import parse_utc, utc_now
from backend.services.topology import LineTopology, name_key
from backend.services.upstream_http import UpstreamHttp, shape_error

SOURCE = "prim"
# The registry's name for "PRIM's Navitia was asked for this line's stop areas".
LOOK_UP_SOURCE = "prim:stop_areas"

# Longest a request waits for a quota token (or its pacing slot) before it is refused instead; never past the
# fetch's deadline, less the time an answer takes.
QUOTA_MAX_WAIT_SECONDS = 30.0
ANSWER_ALLOWANCE_SECONDS = 3.0
# A traffic status older than this is not served in place of a failed refresh.
TRAFFIC_STALE_AFTER = timedelta(minutes=30)
# Departures further ahead than this are not "next departures".
DEPARTURE_HORIZON = timedelta(hours=2)
# A departure expected this long ago has left.
DEPARTED_GRACE = timedelta(seconds=60)

_SIRI_STATUS: dict[str, DepartureStatus] = {
    "ontime": "on_time",
    "early": "on_time",
    "arrived": "at_platform",
    "delayed": "delayed",
    "cancelled": "cancelled",
    "missed": "cancelled",
    "noreport": "unknown",
    "notexpected": "unknown",
}
_STOP_AREA_NUMBER = re.compile(r"(\d+)\D*$")
_LINE_ID = re.compile(r"(C\d{5})")


def monitoring_ref(stop_area_id: str) -> str:
    return f"STIF:StopArea:SP:{stop_area_id}:"


def siri_line_ref(idfm_line_id: str) -> str:
    return f"STIF:Line::{idfm_line_id}:"


# --- payload parsing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoredVisit:
    """One vehicle's call at the monitored stop, whatever line it belongs to."""

    idfm_line_id: str | None  # "C01371"
    destination: str
    direction_name: str | None
    expected_at: datetime
    aimed_at: datetime | None
    departure_status: str | None
    vehicle_at_stop: bool


@dataclass(frozen=True)
class LineVisits:
    """One line's visits in a stop-monitoring answer, and how many of its visits could not be used, by why."""

    visits: list[MonitoredVisit]
    dropped: dict[str, int]


class StopVisits:
    """A stop-monitoring answer: its visits grouped by the IDFM line id of their LineRef (None when they have none),
    a line's read only when that line asks (`of_line`). An answer lists every line calling at the stop, and a
    worker fetching one line uses a fifth of the visits it gets (measured over the stub's rail catalogue).

    A visit without a journey names no line: it counts as dropped for every line asking."""

    def __init__(self, by_line: dict[str | None, list[siri.VehicleJourney]], unattributed: dict[str, int]) -> None:
        self._by_line = by_line
        self._unattributed = Counter(unattributed)
        self._read: dict[str | None, tuple[list[MonitoredVisit], Counter[str]]] = {}

    def _own(self, idfm_line_id: str | None) -> tuple[list[MonitoredVisit], Counter[str]]:
        """The line's visits read (once), and its own that could not be used."""
        read = self._read.get(idfm_line_id)
        if read is None:
            read = self._read[idfm_line_id] = _read_visits(idfm_line_id, self._by_line.get(idfm_line_id, []))
        return read

    def of_line(self, idfm_line_id: str | None) -> LineVisits:
        """The line's usable visits, in the answer's order, and its dropped ones with the answer's unattributed."""
        visits, dropped = self._own(idfm_line_id)
        return LineVisits(visits, dict(dropped + self._unattributed))

    @property
    def visits(self) -> list[MonitoredVisit]:
        """Every line's usable visits, line after line."""
        return [visit for line_id in self._by_line for visit in self._own(line_id)[0]]

    @property
    def dropped(self) -> dict[str, int]:
        """Every visit of the answer that could not be used, by why."""
        return dict(sum((self._own(line_id)[1] for line_id in self._by_line), self._unattributed))


@dataclass(frozen=True)
class InfoMessage:
    channel: str  # "Perturbation", "Information", "Commercial"
    text: str
    valid_until: datetime | None


def _read_deliveries(
    service: siri.SiriService[siri.AnswerT, siri.DeliveryT], payload: Any, what: str
) -> Sequence[siri.DeliveryT]:
    """The deliveries of an answer read as `service` says; raises `UpstreamError` for a broken shape or an error
    answer."""
    try:
        answer = service.schema.validate_python(payload)
    except ValidationError as exc:
        raise shape_error(exc, what, service.expected) from None
    return _checked(service.deliveries(answer), what)


def _checked(deliveries: Sequence[siri.DeliveryT], what: str) -> Sequence[siri.DeliveryT]:
    """The deliveries, unless one is an error: then `UpstreamError` (`not_found` for an unknown id)."""
    for delivery in deliveries:
        error = delivery.get("ErrorCondition")
        if not error:  # absent, null or `{}`: no error
            continue
        info = error.get("ErrorInformation") or {}
        text = info.get("ErrorText")
        # Only an answer saying the id is unknown means that; any other error (a request PRIM could not read, a
        # service error) says nothing of the stop, which must keep its id.
        description = info.get("ErrorDescription")
        unknown = "ne contient pas" in str(text or "").lower() or "unknown" in str(description or "").lower()
        raise UpstreamError(
            "not_found" if unknown else "bad_response",
            f"PRIM {what} error: {text or error}",
            short="PRIM: unknown id" if unknown else "PRIM error answer",
        )
    return deliveries


def parse_stop_monitoring(payload: Any) -> StopVisits:
    """The visits of a stop-monitoring answer; raises `UpstreamError` for an error answer or a broken shape.

    A visit that cannot be used (no journey, no call, no time, no destination of any kind) is counted in `dropped`
    under that reason, never left out silently."""
    return stop_visits(_read_deliveries(siri.STOP_MONITORING, payload, "stop-monitoring"))


def stop_visits(deliveries: Sequence[siri.StopDelivery]) -> StopVisits:
    """The visits of a stop-monitoring answer's deliveries, read and checked (`_checked`), grouped by line: see
    `StopVisits`."""
    by_line: dict[str | None, list[siri.VehicleJourney]] = {}
    unattributed: Counter[str] = Counter()
    for delivery in deliveries:
        for visit in delivery.get("MonitoredStopVisit") or []:
            journey = visit.get("MonitoredVehicleJourney")
            if journey is None:
                unattributed["no journey"] += 1
                continue
            line_id = _line_id(siri.first_text(journey.get("LineRef")))
            by_line.setdefault(line_id, []).append(journey)
    return StopVisits(by_line, dict(unattributed))


@functools.lru_cache(maxsize=4096)
def _line_id(line_ref: str | None) -> str | None:
    """The IDFM line id (`C01371`) in a SIRI LineRef (`STIF:Line::C01371:`); a cycle reads the same few hundred."""
    found = _LINE_ID.search(line_ref or "")
    return found.group(1) if found else None


def _read_visits(
    idfm_line_id: str | None, journeys: list[siri.VehicleJourney]
) -> tuple[list[MonitoredVisit], Counter[str]]:
    """A line's visits (their journeys) read: the usable ones, and the others counted by why."""
    visits: list[MonitoredVisit] = []
    dropped: Counter[str] = Counter()
    for journey in journeys:
        call = journey.get("MonitoredCall")
        if call is None:
            dropped["no call"] += 1
            continue
        aimed_departure, aimed_arrival = call.get("AimedDepartureTime"), call.get("AimedArrivalTime")
        expected = (
            parse_utc(call.get("ExpectedDepartureTime"))
            or parse_utc(call.get("ExpectedArrivalTime"))
            or parse_utc(aimed_departure)
            or parse_utc(aimed_arrival)
        )
        if expected is None:
            dropped["no time"] += 1
            continue
        direction_name = siri.first_text(journey.get("DirectionName"))
        destination = (
            siri.first_text(journey.get("DestinationName"))
            or siri.first_text(call.get("DestinationDisplay"))
            or direction_name
        )
        if destination is None:
            dropped["no destination"] += 1
            continue
        visits.append(
            MonitoredVisit(
                idfm_line_id=idfm_line_id,
                destination=destination,
                direction_name=direction_name,
                expected_at=expected,
                aimed_at=parse_utc(aimed_departure) or parse_utc(aimed_arrival),
                departure_status=call.get("DepartureStatus") or call.get("ArrivalStatus"),
                vehicle_at_stop=call.get("VehicleAtStop") is True,
            )
        )
    return visits, dropped


def parse_general_message(payload: Any, now: datetime) -> list[InfoMessage]:
    """The messages of a general-message answer still valid at `now`."""
    messages: list[InfoMessage] = []
    for delivery in _read_deliveries(siri.GENERAL_MESSAGE, payload, "general-message"):
        for item in delivery.get("InfoMessage") or []:
            valid_until = parse_utc(item.get("ValidUntilTime"))
            if valid_until is not None and valid_until < now:
                continue
            content = item.get("Content")
            if content is None:
                continue
            texts = [
                text.strip()
                for message in content.get("Message") or []
                if (text := (message.get("MessageText") or {}).get("value")) and text.strip()
            ]
            if texts:
                channel = siri.first_text(item.get("InfoChannelRef")) or "Information"
                text = " ".join(dict.fromkeys(texts))
                messages.append(InfoMessage(channel=channel, text=text, valid_until=valid_until))
    return messages


def traffic_level(messages: list[InfoMessage]) -> tuple[TrafficLevel, str | None]:
    """ "disrupted" for a current disruption message ("closed" when it stops the whole line), else "normal"."""
    disruptions = [message.text for message in messages if name_key(message.channel) == "perturbation"]
    if disruptions:
        whole_line = any(_stops_whole_line(text) for text in disruptions)
        return ("closed" if whole_line else "disrupted"), _join(disruptions)
    information = [message.text for message in messages if name_key(message.channel) == "information"]
    return "normal", _join(information) if information else None


def _stops_whole_line(text: str) -> bool:
    key = name_key(text)
    return ("ensemble de la ligne" in key and ("interrompu" in key or "ferme" in key)) or "ligne fermee" in key


def _join(texts: list[str], limit: int = 500) -> str:
    joined = " | ".join(dict.fromkeys(texts))
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def parse_navitia_stop_areas(payload: Any) -> list[tuple[str, str]]:
    """(stop area number, name) pairs of a Navitia `stop_areas` answer."""
    if not isinstance(payload, dict) or not isinstance(payload.get("stop_areas"), list):
        message = payload.get("message") if isinstance(payload, dict) else None
        if message:
            raise UpstreamError("not_found", f"PRIM Navitia error: {message}")
        raise UpstreamError("bad_response", "unexpected Navitia answer: no stop_areas list")
    areas: list[tuple[str, str]] = []
    for area in payload["stop_areas"]:
        if not isinstance(area, dict):
            continue
        number = _STOP_AREA_NUMBER.search(str(area.get("id", "")))
        name = area.get("name")
        if number and isinstance(name, str) and name.strip():
            areas.append((number.group(1), name.strip()))
    return areas


@dataclass(frozen=True)
class NavitiaStop:
    """One stop area of a route, as Navitia gives it: `stop_area:IDFM:<number>`, its name, town and point."""

    stop_area_id: str
    name: str
    town: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class NavitiaRoute:
    """One route of a line in one direction ("A": Navitia's forward/outbound, "R": backward/inbound), stops in
    the order the buses call at them."""

    route_id: str
    direction: str
    name: str
    stops: tuple[NavitiaStop, ...]


# Navitia's direction_type values; IDFM's data uses forward/backward, other coverages outbound/inbound.
_DIRECTION_TYPES = {"forward": "A", "outbound": "A", "backward": "R", "inbound": "R"}


def _navitia_list(payload: Any, key: str, what: str) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get(key), list):
        error = payload.get("error") if isinstance(payload, dict) else None
        message = (error.get("message") if isinstance(error, dict) else None) or (
            payload.get("message") if isinstance(payload, dict) else None
        )
        if message:
            raise UpstreamError("not_found", f"PRIM Navitia error: {message}", short="PRIM: unknown id")
        raise UpstreamError("bad_response", f"unexpected Navitia {what} answer: no {key} list")
    return [item for item in payload[key] if isinstance(item, dict)]


def parse_navitia_route_directions(payload: Any) -> dict[str, str]:
    """Direction ("A" or "R") by route id of a Navitia `routes` answer; routes of no known direction type are left
    out."""
    directions = {}
    for route in _navitia_list(payload, "routes", "routes"):
        direction = _DIRECTION_TYPES.get(str(route.get("direction_type", "")).lower())
        if isinstance(route.get("id"), str) and direction is not None:
            directions[route["id"]] = direction
    return directions


def _navitia_stop(stop_point: Any) -> NavitiaStop | None:
    """The stop area of a route-schedule row's stop point (or the stop point's own name and point if it has none)."""
    if not isinstance(stop_point, dict):
        return None
    area = stop_point.get("stop_area") if isinstance(stop_point.get("stop_area"), dict) else None
    number = _STOP_AREA_NUMBER.search(str((area or {}).get("id", "")))
    name = (area or {}).get("name") or stop_point.get("name")
    if number is None or not isinstance(name, str) or not name.strip():
        return None
    coord = (area or {}).get("coord") or stop_point.get("coord") or {}
    towns = [
        region.get("name")
        for region in (area or {}).get("administrative_regions") or stop_point.get("administrative_regions") or []
        if isinstance(region, dict) and region.get("level") == 8 and isinstance(region.get("name"), str)
    ]
    return NavitiaStop(
        stop_area_id=number.group(1),
        name=name.strip(),
        town=towns[0] if towns else None,
        lat=_coordinate(coord.get("lat") if isinstance(coord, dict) else None),
        lon=_coordinate(coord.get("lon") if isinstance(coord, dict) else None),
    )


def _coordinate(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number != 0.0 else None  # Navitia writes "0" for an unknown point


def parse_navitia_route_schedules(payload: Any, directions: dict[str, str]) -> list[NavitiaRoute]:
    """The routes of a line's `route_schedules` answer whose direction `directions` knows, each with its stop areas
    in the order of the schedule's rows (a stop area listed twice in a row, two stop points of one stop, once)."""
    routes = []
    for schedule in _navitia_list(payload, "route_schedules", "route schedules"):
        links = schedule.get("links") or []
        route_id = next(
            (link.get("id") for link in links if isinstance(link, dict) and link.get("type") == "route"), None
        )
        direction = directions.get(route_id) if isinstance(route_id, str) else None
        if route_id is None or direction is None:
            continue
        table = schedule.get("table")
        rows = table.get("rows") if isinstance(table, dict) else None
        stops: dict[str, NavitiaStop] = {}
        for row in rows if isinstance(rows, list) else []:
            stop = _navitia_stop(row.get("stop_point") if isinstance(row, dict) else None)
            if stop is not None:
                stops.setdefault(stop.stop_area_id, stop)
        informations = schedule.get("display_informations") or {}
        name = informations.get("direction") if isinstance(informations, dict) else None
        if len(stops) >= 2:
            routes.append(NavitiaRoute(route_id, direction, str(name or route_id), tuple(stops.values())))
    return routes


def main_routes(routes: list[NavitiaRoute]) -> list[NavitiaRoute]:
    """One route per direction, the one calling at most stops (a line's short workings and variants are left out);
    a line whose routes all run one way is given that way's reverse as its other direction."""
    chosen: dict[str, NavitiaRoute] = {}
    for route in routes:
        current = chosen.get(route.direction)
        if current is None or len(route.stops) > len(current.stops):
            chosen[route.direction] = route
    if len(chosen) == 1:
        (only,) = chosen.values()
        other = "R" if only.direction == "A" else "A"
        chosen[other] = NavitiaRoute(only.route_id, other, only.stops[0].name, only.stops[::-1])
    return [chosen[direction] for direction in ("A", "R") if direction in chosen]


def visits_to_departures(
    visits: list[MonitoredVisit],
    *,
    line: Line,
    station_id: str,
    topology: LineTopology,
    fetched_at: datetime,
) -> tuple[list[DepartureRecord], int]:
    """The line's departures among a stop's visits, and how many of them had a terminus not on the line."""
    records: list[DepartureRecord] = []
    unplaced = 0
    for visit in visits:
        if visit.idfm_line_id != line.idfm_line_id:
            continue
        if not (fetched_at - DEPARTED_GRACE <= visit.expected_at <= fetched_at + DEPARTURE_HORIZON):
            continue
        direction = topology.direction_for_destination(station_id, visit.destination)
        if direction is None and visit.direction_name:
            direction = topology.direction_for_destination(station_id, visit.direction_name)
        if direction is None:
            if topology.station_for_name(visit.destination) != station_id:
                unplaced += 1  # a train ending here is an arrival, not a departure; anything else is unplaced
            continue
        status = _SIRI_STATUS.get((visit.departure_status or "").replace("_", "").lower(), "unknown")
        if visit.vehicle_at_stop and status in ("on_time", "delayed", "unknown"):
            status = "at_platform"
        records.append(
            DepartureRecord(
                line_id=line.id,
                station_id=station_id,
                direction=direction,
                destination=visit.destination,
                expected_at=visit.expected_at,
                aimed_at=visit.aimed_at,
                status=status,
                is_realtime=(visit.departure_status or "").lower() != "noreport",
                vehicle_at_stop=visit.vehicle_at_stop,
                source=SOURCE,
                fetched_at=fetched_at,
            )
        )
    return records, unplaced


# --- the budget -----------------------------------------------------------------------------------------------


class PrimBudget(Protocol):
    """What a PRIM request is taken from: `acquire` before sending (raises `UpstreamError` when it must not go),
    `observe` every answer (PRIM's rate-limit headers, a 401, a 429). APIs: departures, disruptions (the traffic
    feed), traffic (per-line general-message), navitia."""

    async def acquire(self, api: str, max_wait: float) -> None: ...

    async def observe(self, api: str, response: httpx.Response) -> None: ...

    async def aclose(self) -> None:
        """Writes what is still kept of the answers observed (the process is stopping)."""


class LocalBudget:
    """Each process on its own: the configured daily quotas, counted here (the service used without a database;
    workers share `backend.budget.ledger.FleetBudget`)."""

    def __init__(self, quotas: dict[str, DailyQuota]) -> None:
        self.quotas = quotas
        self.rejection: str | None = None  # once PRIM rejected the key, for the life of the process

    async def acquire(self, api: str, max_wait: float) -> None:
        if self.rejection is not None:
            raise UpstreamError("key_rejected", f"not attempted: {self.rejection}")
        await self.quotas[api].acquire(max_wait=min(max_wait, 1.0))

    async def observe(self, api: str, response: httpx.Response) -> None:
        if response.status_code == 401:
            self.rejection = "PRIM rejected the API key (HTTP 401)"

    async def aclose(self) -> None:
        return None  # nothing kept: the quotas live and die with the process


# --- the source -----------------------------------------------------------------------------------------------


class PrimSource:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        http: UpstreamHttp,
        breaker: CircuitBreaker,
        registry: StopRefRegistry,
        budget: PrimBudget,
        stop_cache_seconds: float,
        traffic_refresh_seconds: float,
        error_cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.breaker = breaker
        self.registry = registry
        self.budget = budget
        self.stop_cache_seconds = stop_cache_seconds
        self.traffic_refresh_seconds = traffic_refresh_seconds
        self._clock = clock
        self.error_cache_seconds = error_cache_seconds
        self._stop_cache: dict[str, tuple[float, StopVisits]] = {}
        self._stop_urls: dict[str, httpx.URL] = {}
        self._stop_errors: dict[str, tuple[float, UpstreamError]] = {}
        self._stop_flights: SingleFlight[str, StopVisits] = SingleFlight("a shared stop answer")
        self._traffic: dict[str, tuple[float, TrafficStatusRecord]] = {}
        self.stop_cache_hits = 0

    def forget_stop_answers(self) -> None:
        """Drops the cached stop answers, as the passing of PRIM_STOP_CACHE_SECONDS would (benchmarks)."""
        self._stop_cache.clear()
        self._stop_errors.clear()

    @property
    def configured(self) -> bool:
        return bool(self.api_key.strip())

    # --- departures -------------------------------------------------------------------------------------------

    async def departures(
        self, line: Line, topology: LineTopology, deadline: Deadline, meter: AttemptMeter
    ) -> DepartureBatch:
        """The line's next departures at every station PRIM knows a stop area for, and each station's outcome.

        A station without a known stop area is reported as not attempted (it gets no PRIM departures, and says so)."""
        if not line.idfm_line_id:
            raise UpstreamError("not_configured", f"{line.id} has no IDFM line id, which PRIM needs")
        known = self._known_areas(line.id, topology)
        if not known:
            areas = await self._look_up_stop_areas(line, topology, known, deadline, meter)
            outcomes = await self._visits(areas, deadline, meter)
        elif self._needs_look_up(line.id, topology, known):
            # The known stops are asked at once; only the stations the look-up finds wait for it.
            async def look_up_then_visit() -> tuple[dict[str, str], list[StopVisits | BaseException]]:
                found = await self._look_up_stop_areas(line, topology, known, deadline, meter)
                new = {station_id: area for station_id, area in found.items() if station_id not in known}
                return new, await self._visits(new, deadline, meter)

            known_outcomes, (new, new_outcomes) = await asyncio.gather(
                self._visits(known, deadline, meter), look_up_then_visit()
            )
            areas = {**known, **new}
            outcomes = [*known_outcomes, *new_outcomes]
        else:
            areas = known
            outcomes = await self._visits(areas, deadline, meter)
        fetched_at = utc_now()
        departures: list[DepartureRecord] = []
        stops: list[StopOutcome] = []
        dropped: Counter[str] = Counter()
        unplaced = 0
        unknown: list[str] = []
        for station_id, outcome in zip(areas, outcomes, strict=True):
            if isinstance(outcome, UpstreamError):
                stops.append(failed_stop(station_id, SOURCE, outcome))
                if outcome.kind == "not_found":
                    unknown.append(station_id)
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            of_line = outcome.of_line(line.idfm_line_id)
            records, skipped = visits_to_departures(
                of_line.visits, line=line, station_id=station_id, topology=topology, fetched_at=fetched_at
            )
            departures.extend(records)
            dropped.update(of_line.dropped)
            unplaced += skipped
            stops.append(StopOutcome(station_id, SOURCE, True, len(records), None, None))
        for station_id in topology.station_ids:
            if station_id not in areas:
                stops.append(
                    StopOutcome(station_id, SOURCE, False, 0, "no_stop_ids", "not attempted: no PRIM stop area known")
                )
        meter.items = len(departures)
        # Only the stop areas PRIM says it does not know are forgotten (and listed as without id from then on).
        self.registry.clear_stop_areas(line.id, unknown, look_up=LOOK_UP_SOURCE)
        return DepartureBatch.of(
            departures, stops=stops, unit="stops", unplaced=unplaced, line_id=line.id, dropped=dict(dropped)
        )

    async def _visits(
        self, areas: dict[str, str], deadline: Deadline, meter: AttemptMeter
    ) -> list[StopVisits | BaseException]:
        return await asyncio.gather(
            *(self._stop_visits(area, deadline, meter) for area in areas.values()), return_exceptions=True
        )

    def _known_areas(self, line_id: str, topology: LineTopology) -> dict[str, str]:
        """Stop area number by catalogue station id, for the line's stations whose stop area is known."""
        return {
            station_id: ref.stop_area_id
            for station_id, ref in self.registry.for_line(line_id).items()
            if ref.stop_area_id and station_id in topology.stations
        }

    def _needs_look_up(self, line_id: str, topology: LineTopology, known: dict[str, str]) -> bool:
        """Whether PRIM's Navitia is to be asked for the line's stop areas: some station has none, and the line was
        not looked up yet (by this process, or by any worker when the registry was loaded from the database)."""
        return len(known) < len(topology.stations) and not self.registry.looked_up(line_id, LOOK_UP_SOURCE)

    async def _look_up_stop_areas(
        self, line: Line, topology: LineTopology, known: dict[str, str], deadline: Deadline, meter: AttemptMeter
    ) -> dict[str, str]:
        """Stop area number by catalogue station id: the known ones and those PRIM's Navitia lists by name."""
        try:
            payload = await self._get(
                f"/v2/navitia/lines/line:IDFM:{line.idfm_line_id}/stop_areas",
                "Navitia stop areas",
                "navitia",
                {"count": "1000"},
                deadline,
                meter,
            )
            areas = parse_navitia_stop_areas(payload)
        except UpstreamError:
            if known:  # the shipped ids still serve; the others stay without one (and say so)
                return known
            raise
        refs = []
        for number, name in areas:
            station_id = topology.station_for_name(name)
            if station_id is not None and station_id not in known:
                refs.append(StopRef(station_id=station_id, upstream_name=name, stop_area_id=number, source=SOURCE))
        self.registry.merge(line.id, refs, looked_up=LOOK_UP_SOURCE)
        found = {**known, **{ref.station_id: ref.stop_area_id for ref in refs if ref.stop_area_id}}
        if not found:
            raise UpstreamError(
                "not_found",
                f"no stop ids known for {line.id}: PRIM Navitia listed {len(areas)} stop areas, "
                "none matching the catalogue's stations",
            )
        return found

    async def line_routes(self, line: Line, deadline: Deadline, meter: AttemptMeter) -> list[NavitiaRoute]:
        """The line's main route in each direction with its ordered stop areas, from PRIM's Navitia: the routes'
        directions (`lines/<line>/routes`), then their stops in calling order (`lines/<line>/route_schedules`, one
        schedule per route). Two requests; the caller keeps the answer (buses: in the database, for a day)."""
        if not line.idfm_line_id:
            raise UpstreamError("not_configured", f"{line.id} has no IDFM line id, which PRIM needs")
        base = f"/v2/navitia/lines/line:IDFM:{line.idfm_line_id}"
        directions = parse_navitia_route_directions(
            await self._get(f"{base}/routes", "Navitia routes", "navitia", {"count": "100"}, deadline, meter)
        )
        if not directions:
            raise UpstreamError("not_found", f"PRIM Navitia lists no route with a direction for {line.id}")
        schedules = await self._get(
            f"{base}/route_schedules",
            "Navitia route schedules",
            "navitia",
            {"items_per_schedule": "1", "depth": "2", "count": "100"},
            deadline,
            meter,
        )
        routes = main_routes(parse_navitia_route_schedules(schedules, directions))
        if not routes:
            raise UpstreamError("not_found", f"PRIM Navitia gives no route with stops for {line.id}")
        meter.items = sum(len(route.stops) for route in routes)
        return routes

    async def _stop_visits(self, stop_area_id: str, deadline: Deadline, meter: AttemptMeter) -> StopVisits:
        """One stop's answer, shared: a recent answer (or a recent error answer) serves every line at the stop, and
        concurrent askers wait for the one request in flight."""
        now = self._clock()
        cached = self._stop_cache.get(stop_area_id)
        if cached is not None and now - cached[0] < self.stop_cache_seconds:
            self.stop_cache_hits += 1
            return cached[1]
        failed = self._stop_errors.get(stop_area_id)
        if failed is not None and now - failed[0] < self.error_cache_seconds:
            self.stop_cache_hits += 1
            raise failed[1]
        if self._stop_flights.in_flight(stop_area_id):
            self.stop_cache_hits += 1

        async def request() -> StopVisits:
            try:
                visits = await self._request_stop(stop_area_id, deadline, meter)
            except UpstreamError as exc:
                if not exc.not_attempted:
                    self._stop_errors[stop_area_id] = (self._clock(), exc)
                raise
            self._stop_cache[stop_area_id] = (self._clock(), visits)
            self._stop_errors.pop(stop_area_id, None)
            return visits

        return await self._stop_flights.run(stop_area_id, request, deadline)

    async def _request_stop(self, stop_area_id: str, deadline: Deadline, meter: AttemptMeter) -> StopVisits:
        # The one request a cycle makes a thousand times: its body is read straight into the model (`get_model`).
        take, observe = self._budgeted("departures", deadline)
        url = self._stop_urls.get(stop_area_id)
        if url is None:
            query = {"MonitoringRef": monitoring_ref(stop_area_id)}
            url = self._stop_urls[stop_area_id] = httpx.URL(self.base_url + "/stop-monitoring", params=query)
        answer = await self.http.get_model(
            url,
            "stop-monitoring",
            siri.STOP_MONITORING.schema,
            expected=siri.STOP_MONITORING.expected,
            breaker=self.breaker,
            meter=meter,
            deadline=deadline,
            headers=self._headers,
            on_response=observe,
            before_send=take,
        )
        return stop_visits(_checked(siri.STOP_MONITORING.deliveries(answer), "stop-monitoring"))

    # --- traffic ----------------------------------------------------------------------------------------------

    async def traffic(self, line: Line, deadline: Deadline, meter: AttemptMeter) -> TrafficStatusRecord:
        """The line's traffic status, asked at most every `traffic_refresh_seconds`; raises `UpstreamError`."""
        if not line.idfm_line_id:
            raise UpstreamError("not_configured", f"{line.id} has no IDFM line id, which PRIM needs")
        cached = self._traffic.get(line.id)
        if cached is not None and self._clock() - cached[0] < self.traffic_refresh_seconds:
            meter.items = 1
            return cached[1]
        try:
            payload = await self._get(
                "/general-message",
                "general-message",
                "traffic",
                {"LineRef": siri_line_ref(line.idfm_line_id)},
                deadline,
                meter,
            )
            now = utc_now()
            level, message = traffic_level(parse_general_message(payload, now))
        except UpstreamError:
            if cached is not None and utc_now() - cached[1].updated_at < TRAFFIC_STALE_AFTER:
                meter.items = 1
                return cached[1]  # still true enough, and dated by its updated_at
            raise
        record = TrafficStatusRecord(line_id=line.id, level=level, message=message, source=SOURCE, updated_at=now)
        self._traffic[line.id] = (self._clock(), record)
        meter.items = 1
        return record

    async def disruptions_feed(self, deadline: Deadline, meter: AttemptMeter) -> prim_disruptions.DisruptionsFeed:
        """PRIM's global traffic feed (every line's disruptions) in one request; raises `UpstreamError`."""
        payload = await self._get(prim_disruptions.PATH, "disruptions_bulk", prim_disruptions.API, {}, deadline, meter)
        feed = prim_disruptions.parse_disruptions_bulk(payload)
        meter.items = len(feed.disruptions)
        return feed

    async def _get(
        self, path: str, what: str, api: str, params: dict[str, str], deadline: Deadline, meter: AttemptMeter
    ) -> Any:
        """One PRIM request, taken from the budget of `api` first (which may pace it or refuse it), and so is a
        retry after a 429."""
        take, observe = self._budgeted(api, deadline)
        return await self.http.get_json(
            self.base_url + path,
            what,
            breaker=self.breaker,
            meter=meter,
            deadline=deadline,
            params=params,
            headers=self._headers,
            on_response=observe,
            before_send=take,
        )

    @property
    def _headers(self) -> dict[str, str]:
        return {"apiKey": self.api_key, "Accept": "application/json"}

    def _budgeted(
        self, api: str, deadline: Deadline
    ) -> tuple[Callable[[], Awaitable[None]], Callable[[httpx.Response], Awaitable[None]]]:
        """What a PRIM request does before each send (take its slot from `api`'s budget, waiting no longer than the
        deadline allows) and with each answer (PRIM's rate-limit headers to the budget)."""

        async def take() -> None:
            wait = min(QUOTA_MAX_WAIT_SECONDS, deadline.remaining() - ANSWER_ALLOWANCE_SECONDS)
            await self.budget.acquire(api, max_wait=max(0.0, wait))

        async def observe(response: httpx.Response) -> None:
            await self.budget.observe(api, response)

        return take, observe
