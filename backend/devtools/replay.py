"""The replayed network: upstream ids for every catalogue line and station, and payloads in the recorded shapes.

Ids are handed out deterministically from the catalogue (same catalogue, same ids), and departures and train
positions follow a fixed headway per network around the current time, so that answers given a few seconds apart
agree. Payloads are built from the recordings in `recordings/` (same envelopes, fields and HTML classes). Bus
lines, which have no stations in the catalogue, get a stop list: bus 38 its recorded one, the others a
deterministic run of catalogue station names. All of it is replayed data, never a real service.
"""

from __future__ import annotations

import html
import json
import math
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from backend.catalogue import Catalogue, Line
from backend.catalogue.names import slugify
from backend.services.scrapers.ratp_http import ratp_line_code
from backend.services.times import PARIS

RECORDINGS = Path(__file__).resolve().parent / "recordings"
BOARD_SEGMENTS = {"metro": "metro", "rer": "rer", "tram": "tram", "bus": "busratp"}
HEADWAY_SECONDS = {"metro": 180, "rer": 420, "tram": 300, "bus": 540}
RUN_SECONDS = {"metro": 95, "rer": 190, "tram": 100, "bus": 130}  # from one station to the next
DEPARTURES_PER_BOARD = 4
# Stop areas the catalogue ships no IDFM id for get numbers from here on, above every real IDFM stop-area number.
FIRST_AREA_NUMBER = 900_001
FIRST_PLACE_NUMBER = 400_001
BUS_STOPS = 14
AT_STOP_SECONDS = 25  # a train leaving within this is at the stop
KEPT_VISIT_TEXTS = 20_000  # a line's visits in one direction at one station, written (see `stop_monitoring`)
RECORDED_MARK = "@@recorded@@"  # where a kept visit's recording time goes


@cache
def recording(name: str) -> str:
    return (RECORDINGS / name).read_text(encoding="utf-8")


def recorded_json(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded JSON object, to fill in."""
    payload = fresh_copy(_parsed(name))
    assert isinstance(payload, dict), name
    return payload


def fresh_copy(value: Any) -> Any:
    """A copy of decoded JSON (dicts, lists, scalars) to fill in: what `copy.deepcopy` gives, several times faster
    (no memo, no dispatch), which counts when the stub answers a whole cycle's thousand requests."""
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fresh_copy(item) for item in value]
    return value


@cache
def _parsed(name: str) -> Any:
    return json.loads(recording(name))


@cache
def _visitless(name: str) -> dict[str, Any]:
    payload = recorded_json(name)
    payload["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"][0]["MonitoredStopVisit"] = []
    return payload


def _without_visits(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded stop-monitoring answer without its visits (copying them is most of the work)."""
    payload = fresh_copy(_visitless(name))
    assert isinstance(payload, dict), name
    return payload


def _hash(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def iso(moment: datetime) -> str:
    """`2025-03-14T08:02:05.000Z`, as PRIM writes times."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # without its "+00:00"


@dataclass(frozen=True)
class StubStop:
    station_id: str
    name: str
    place_number: int  # ART:IDFM:<n>, one per line and station
    area_number: int  # LDA:IDFM:<n> = STIF:StopArea:SP:<n>:, one per station
    lat: float | None
    lon: float | None
    town: str | None = None


@dataclass(frozen=True)
class StubLine:
    line: Line
    ref: str  # the line's id after "LIG:IDFM:" (its IDFM id; a stub-only id for buses, which have none)
    routes: tuple[tuple[str, ...], ...]  # station ids of each route, in direction "A" order
    stops: dict[str, StubStop]

    def sequences(self, direction: str) -> list[tuple[str, ...]]:
        return [route if direction == "A" else route[::-1] for route in self.routes]


@dataclass(frozen=True)
class StubDeparture:
    station_id: str
    direction: str
    destination_id: str
    expected_at: datetime
    aimed_at: datetime | None
    status: str  # SIRI: "onTime", "delayed", "cancelled"
    at_stop: bool
    mission: str | None


class ReplayNetwork:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._recorded_bus_names = {
            slugify(item["name"]): item["name"] for item in _parsed("ratp_stop_points_bus_38.json")
        }
        stations = catalogue.stations()
        self._area_of = {station.id: FIRST_AREA_NUMBER + index for index, station in enumerate(stations)}
        self._station_by_area = {number: station_id for station_id, number in self._area_of.items()}
        self.lines: dict[str, StubLine] = {}
        self._by_ref: dict[str, str] = {}
        self._by_board_code: dict[tuple[str, str], str] = {}
        self._by_place: dict[int, tuple[str, str]] = {}
        self._lines_at: dict[str, list[str]] = {}
        self._visit_texts: dict[tuple[str, str, str, float, bool], str] = {}
        self._through: dict[tuple[str, str, str], list[tuple[str, ...]]] = {}
        self._phases: dict[tuple[str, str, str], int] = {}
        next_place = FIRST_PLACE_NUMBER
        for line in catalogue.lines:
            routes = tuple(route.station_ids for route in catalogue.routes_for(line.id)) or (self._bus_route(line),)
            shipped_areas = catalogue.stop_areas(line.id)
            stops: dict[str, StubStop] = {}
            for station_id in dict.fromkeys(station for route in routes for station in route):
                station = self._station(station_id)
                # The real IDFM stop-area id where the catalogue ships one: workers ask for it as they would PRIM.
                shipped = shipped_areas.get(station_id)
                area_number = int(shipped.zda_id) if shipped and shipped.zda_id else None
                if area_number is not None:
                    self._station_by_area[area_number] = station_id
                stops[station_id] = StubStop(
                    station_id=station_id,
                    name=station[0],
                    place_number=next_place,
                    area_number=area_number or self._area_of.get(station_id) or self._bus_area(station_id),
                    lat=station[1],
                    lon=station[2],
                    town=self._town(station_id),
                )
                self._by_place[next_place] = (line.id, station_id)
                self._lines_at.setdefault(station_id, []).append(line.id)
                next_place += 1
            ref = line.idfm_line_id or f"BUS-{line.code}"
            self.lines[line.id] = StubLine(line=line, ref=ref, routes=routes, stops=stops)
            self._by_ref[ref.upper()] = line.id
            self._by_board_code[(BOARD_SEGMENTS[line.network], ratp_line_code(line).lower())] = line.id

    # --- ids ------------------------------------------------------------------------------------------------

    def _station(self, station_id: str) -> tuple[str, float | None, float | None]:
        if station_id in self._recorded_bus_names:
            return self._recorded_bus_names[station_id], None, None
        station = self.catalogue.station(station_id)
        return station.name, station.lat, station.lon

    def _town(self, station_id: str) -> str:
        """The station's town; the recorded bus 38 stops, which are not catalogue stations, are all in Paris."""
        if station_id in self._recorded_bus_names:
            return "Paris"
        return self.catalogue.station(station_id).town or "Paris"

    def _bus_route(self, line: Line) -> tuple[str, ...]:
        if line.id == "bus:38":
            return tuple(slugify(item["name"]) for item in _parsed("ratp_stop_points_bus_38.json"))
        stations = self.catalogue.stations()
        start = _hash(line.id) % len(stations)
        stride = 1 + _hash(line.id, "stride") % 37
        picked = [stations[(start + index * stride) % len(stations)].id for index in range(BUS_STOPS)]
        return tuple(dict.fromkeys(picked))

    def _bus_area(self, station_id: str) -> int:
        number = FIRST_AREA_NUMBER + len(self._area_of)
        self._area_of[station_id] = number
        self._station_by_area[number] = station_id
        return number

    def line_by_ref(self, ref: str) -> StubLine | None:
        """A line from any spelling of its id: "C01371", "STIF:Line::C01371:", "LIG:IDFM:C01371", "line:IDFM:..."."""
        key = ref.strip().rstrip(":").rsplit(":", 1)[-1].upper()
        line_id = self._by_ref.get(key)
        return self.lines[line_id] if line_id else None

    def line_by_board_code(self, segment: str, code: str) -> StubLine | None:
        line_id = self._by_board_code.get((segment, code.lower()))
        return self.lines[line_id] if line_id else None

    def place(self, ref: str) -> tuple[StubLine, str] | None:
        number = _number(ref)
        found = self._by_place.get(number) if number is not None else None
        return (self.lines[found[0]], found[1]) if found else None

    def station_of_area(self, ref: str) -> str | None:
        number = _number(ref)
        return self._station_by_area.get(number) if number is not None else None

    def lines_at(self, station_id: str) -> list[StubLine]:
        return [self.lines[line_id] for line_id in self._lines_at.get(station_id, ())]

    # --- generated service ----------------------------------------------------------------------------------

    def departures(self, stub: StubLine, station_id: str, direction: str, now: datetime) -> list[StubDeparture]:
        """The next trains leaving `station_id` in `direction`, the same whoever asks within the same second."""
        sequences = self._sequences_through(stub, station_id, direction)
        if not sequences:
            return []
        headway = HEADWAY_SECONDS[stub.line.network]
        clock = now.timestamp()
        first = self._first_departure(stub, station_id, direction, clock)
        result = []
        for index in range(DEPARTURES_PER_BOARD):
            moment = first + index * headway
            slot = int(moment // headway)
            sequence = sequences[slot % len(sequences)]
            mark = _hash(stub.line.id, station_id, direction, slot)
            status = "cancelled" if mark % 23 == 0 else "delayed" if mark % 7 == 0 else "onTime"
            expected = datetime.fromtimestamp(moment, UTC)
            destination = sequence[-1]
            result.append(
                StubDeparture(
                    station_id=station_id,
                    direction=direction,
                    destination_id=destination,
                    expected_at=expected,
                    aimed_at=expected - timedelta(minutes=2) if status == "delayed" else expected,
                    status=status,
                    at_stop=index == 0 and moment - clock < AT_STOP_SECONDS,
                    mission=_mission(stub.stops[destination].name, mark) if stub.line.network == "rer" else None,
                )
            )
        return result

    def _sequences_through(self, stub: StubLine, station_id: str, direction: str) -> list[tuple[str, ...]]:
        """The routes of `direction` that leave from `station_id` (it is on them, and not their last station)."""
        key = (stub.line.id, station_id, direction)
        through = self._through.get(key)
        if through is None:
            through = self._through[key] = [seq for seq in stub.sequences(direction) if station_id in seq[:-1]]
        return through

    def _first_departure(self, stub: StubLine, station_id: str, direction: str, clock: float) -> float:
        """When the next train leaves `station_id` in `direction` (a timestamp), after `clock`."""
        headway = HEADWAY_SECONDS[stub.line.network]
        key = (stub.line.id, station_id, direction)
        phase = self._phases.get(key)
        if phase is None:
            phase = self._phases[key] = _hash(*key) % headway
        return math.ceil((clock - phase) / headway) * headway + phase

    def vehicles(self, stub: StubLine, direction: str, now: datetime) -> list[dict[str, Any]]:
        """Trains along each route of `direction`, one every headway, in the vehicle socket's shape."""
        run = RUN_SECONDS[stub.line.network]
        headway = HEADWAY_SECONDS[stub.line.network]
        template = _parsed("vmtr_posv_init.json")["vehicles"][0]
        vehicles = []
        for branch, sequence in enumerate(stub.sequences(direction)):
            span = (len(sequence) - 1) * run
            if span <= 0:
                continue
            for index in range(max(1, span // headway)):
                offset = (now.timestamp() + index * headway + _hash(stub.line.id, direction, branch)) % span
                segment, within = int(offset // run), (offset % run) / run
                stopped = within < 0.15
                vehicle = fresh_copy(template)
                vehicle["vehicleId"] = f"RATP:{stub.line.code}:{direction}{branch}:{index:03d}"
                vehicle["recordedAtTime"] = iso(now - timedelta(seconds=_hash(vehicle["vehicleId"]) % 5))
                vehicle["vehicleActivity"] = {
                    "lineRef": f"LIG:IDFM:{stub.ref}",
                    "directionRef": f"DIR:IDFM:{stub.ref}:{direction}",
                    "destinationRef": f"ART:IDFM:{stub.stops[sequence[-1]].place_number}",
                    "destinationName": stub.stops[sequence[-1]].name,
                }
                vehicle["position"] = {
                    "previousStopPlaceRef": f"ART:IDFM:{stub.stops[sequence[segment]].place_number}",
                    "nextStopPlaceRef": f"ART:IDFM:{stub.stops[sequence[segment + 1]].place_number}",
                    "progressBetweenStopsPercentage": 0 if stopped else round(within * 100, 1),
                    "vehicleStopStatus": "STOPPED_AT" if stopped else "IN_TRANSIT_TO",
                }
                vehicles.append(vehicle)
        return vehicles

    # --- PRIM -----------------------------------------------------------------------------------------------

    def stop_monitoring(self, station_id: str, now: datetime) -> str:
        """The stop-monitoring answer for the stop area of `station_id`, as JSON text: the recording's envelope and
        visits, written from templates of their text (`_answer_format`, `_visit_format`) rather than built as objects
        and encoded, which was most of the stub's CPU over a cycle's thousand answers. A line's visits in one
        direction are the same text until its next train leaves (but for their recording time, filled in last), so
        they are written once and kept (`_visit_texts`): every line at a station asks for all of them."""
        clock = now.timestamp()
        chunks = []
        for stub in self.lines_at(station_id):
            if stub.line.idfm_line_id is None:
                continue
            for direction in ("A", "R"):
                first = self._first_departure(stub, station_id, direction, clock)
                key = (stub.line.id, station_id, direction, first, first - clock < AT_STOP_SECONDS)
                chunk = self._visit_texts.get(key)
                if chunk is None:
                    departures = self.departures(stub, station_id, direction, now)
                    chunk = ",".join(self._visit(stub, departure) for departure in departures)
                    if len(self._visit_texts) >= KEPT_VISIT_TEXTS:
                        self._visit_texts.clear()
                    self._visit_texts[key] = chunk
                if chunk:
                    chunks.append(chunk)
        recorded = iso(now)  # the answer's time, and every visit's recording time
        text = _answer_format().format(now=recorded, message=_message_id(now), visits=",".join(chunks))
        return text.replace(RECORDED_MARK, recorded)

    def _visit(self, stub: StubLine, departure: StubDeparture) -> str:
        """One visit's text, its recording time left as RECORDED_MARK (the answer's time, filled in last)."""
        stop = stub.stops[departure.station_id]
        destination = stub.stops[departure.destination_id]
        slot = int(departure.expected_at.timestamp())
        destination_name = _json(destination.name)
        aimed = ""
        if departure.status == "delayed" and departure.aimed_at is not None:
            aimed = f'"AimedDepartureTime":"{iso(departure.aimed_at)}",'
        call = (
            f'{{"StopPointName":[{{"value":{_json(stop.name)}}}],'
            f'"VehicleAtStop":{"true" if departure.at_stop else "false"},'
            f'"DestinationDisplay":[{{"value":{destination_name}}}],{aimed}'
            f'"ExpectedArrivalTime":"{iso(departure.expected_at - timedelta(seconds=30))}",'
            f'"ExpectedDepartureTime":"{iso(departure.expected_at)}",'
            f'"DepartureStatus":"{departure.status}"}}'
        )
        return _visit_format().format(
            recorded=RECORDED_MARK,
            item=f"RATP-SIV:Item::{stub.ref}.{departure.direction}.{stop.place_number}.{slot}:LOC",
            stop_ref=f"STIF:StopPoint:Q:{stop.place_number}:",
            line_ref=f"STIF:Line::{stub.ref}:",
            journey=f"RATP-SIV:VehicleJourney::{stub.line.code}.{departure.direction}.{slot}:LOC",
            destination=destination_name,
            destination_ref=f"STIF:StopPoint:Q:{destination.place_number}:",
            call=call,
        )

    def no_visits(self, now: datetime) -> dict[str, Any]:
        """A valid stop-monitoring delivery with no visit: the upstream has nothing to announce at the stop."""
        payload = _without_visits("prim_stop_monitoring.json")
        delivery = payload["Siri"]["ServiceDelivery"]
        _stamp(delivery, now)
        delivery["StopMonitoringDelivery"][0]["ResponseTimestamp"] = iso(now)
        delivery["StopMonitoringDelivery"][0]["MonitoredStopVisit"] = []
        return payload

    def unknown_monitoring_ref(self, ref: str, now: datetime) -> dict[str, Any]:
        payload = recorded_json("prim_stop_monitoring_unknown_ref.json")
        delivery = payload["Siri"]["ServiceDelivery"]
        _stamp(delivery, now)
        delivery["StopMonitoringDelivery"][0]["ErrorCondition"]["ErrorInformation"]["ErrorText"] = (
            f"Le référentiel ne contient pas l'arrêt {ref}"
        )
        return payload

    def general_message(self, stub: StubLine | None, now: datetime) -> dict[str, Any]:
        payload = recorded_json("prim_general_message.json")
        delivery = payload["Siri"]["ServiceDelivery"]
        disruption, information = delivery["GeneralMessageDelivery"][0]["InfoMessage"]
        messages = []
        hour = now.strftime("%Y%m%d%H")
        if stub is not None and _hash(stub.line.id, hour) % 5 == 0:
            route = stub.routes[0]
            first, second = sorted({len(route) // 3, (2 * len(route)) // 3})
            disruption["RecordedAtTime"] = iso(now.replace(minute=0, second=0, microsecond=0))
            disruption["ValidUntilTime"] = iso(now + timedelta(hours=2))
            disruption["Content"]["LineRef"] = [{"value": f"STIF:Line::{stub.ref}:"}]
            disruption["Content"]["Message"][0]["MessageText"]["value"] = (
                f"Trafic perturbé entre {stub.stops[route[first]].name} et {stub.stops[route[second]].name} "
                "(incident technique)."
            )
            messages.append(disruption)
        elif stub is not None and _hash(stub.line.id, "info") % 4 == 0:
            information["ValidUntilTime"] = iso(now + timedelta(days=1))
            information["Content"]["LineRef"] = [{"value": f"STIF:Line::{stub.ref}:"}]
            messages.append(information)
        _stamp(delivery, now)
        delivery["GeneralMessageDelivery"][0]["ResponseTimestamp"] = iso(now)
        delivery["GeneralMessageDelivery"][0]["InfoMessage"] = messages
        return payload

    def navitia_stop_areas(self, stub: StubLine, now: datetime) -> dict[str, Any]:
        payload = recorded_json("navitia_line_stop_areas.json")
        template = payload["stop_areas"][0]
        areas = []
        for stop in stub.stops.values():
            area = fresh_copy(template)
            area["id"] = f"stop_area:IDFM:{stop.area_number}"
            area["name"] = stop.name
            area["label"] = stop.name
            area["coord"] = {"lon": f"{stop.lon or 0:.6f}", "lat": f"{stop.lat or 0:.6f}"}
            area["administrative_regions"] = []
            areas.append(area)
        return _navitia_page(payload, "stop_areas", areas, now)

    def navitia_routes(self, stub: StubLine, now: datetime) -> dict[str, Any]:
        """The line's routes, one per route of the catalogue (or the bus route) and direction, in Navitia's shape."""
        payload = recorded_json("navitia_line_routes.json")
        forward, backward = payload["routes"]
        routes = []
        for index, sequence in enumerate(stub.routes):
            for template, direction in ((forward, "A"), (backward, "R")):
                route = fresh_copy(template)
                ordered = sequence if direction == "A" else sequence[::-1]
                terminus = stub.stops[ordered[-1]]
                route["id"] = _navitia_route_id(stub, index, direction)
                route["name"] = f"{stub.stops[ordered[0]].name} - {terminus.name}"
                terminus_id = f"stop_area:IDFM:{terminus.area_number}"
                route["direction"]["id"] = route["direction"]["stop_area"]["id"] = terminus_id
                route["direction"]["name"] = f"{terminus.name} ({terminus.town})"
                route["direction"]["stop_area"].update(name=terminus.name, label=f"{terminus.name} ({terminus.town})")
                route["codes"] = [{"type": "source", "value": route["id"].removeprefix("route:IDFM:")}]
                routes.append(route)
        return _navitia_page(payload, "routes", routes, now)

    def navitia_route_schedules(self, stub: StubLine, now: datetime) -> dict[str, Any]:
        """One route schedule per route of `navitia_routes`, its rows the route's stops in calling order."""
        payload = recorded_json("navitia_line_route_schedules.json")
        template = payload["route_schedules"][0]
        row_template = template["table"]["rows"][0]
        schedules = []
        for index, sequence in enumerate(stub.routes):
            for direction in ("A", "R"):
                ordered = sequence if direction == "A" else sequence[::-1]
                schedule = fresh_copy(template)
                terminus = stub.stops[ordered[-1]]
                schedule["display_informations"].update(
                    direction=f"{terminus.name} ({terminus.town})",
                    code=stub.line.code,
                    label=stub.line.code,
                    headsign=terminus.name,
                    color=stub.line.colour.lstrip("#"),
                    text_color=stub.line.text_colour.lstrip("#"),
                )
                rows = []
                for position, station_id in enumerate(ordered):
                    stop = stub.stops[station_id]
                    row = fresh_copy(row_template)
                    point, area = row["stop_point"], row["stop_point"]["stop_area"]
                    coord = {"lon": f"{stop.lon or 0:.6f}", "lat": f"{stop.lat or 0:.6f}"}
                    point.update(id=f"stop_point:IDFM:{stop.place_number}", name=stop.name, coord=coord)
                    point["label"] = f"{stop.name} ({stop.town})"
                    area.update(id=f"stop_area:IDFM:{stop.area_number}", name=stop.name, coord=coord)
                    area["label"] = f"{stop.name} ({stop.town})"
                    area["administrative_regions"][0].update(name=stop.town, id=f"admin:fr:{_hash(stop.town) % 99999}")
                    moment = now + timedelta(minutes=2 * position)
                    row["date_times"][0]["date_time"] = moment.astimezone(PARIS).strftime("%Y%m%dT%H%M%S")
                    rows.append(row)
                schedule["table"]["rows"] = rows
                schedule["links"] = [
                    {"type": "line", "id": f"line:IDFM:{stub.ref}"},
                    {"type": "route", "id": _navitia_route_id(stub, index, direction)},
                    *schedule["links"][2:],
                ]
                schedules.append(schedule)
        return _navitia_page(payload, "route_schedules", schedules, now)

    # --- ratp.fr --------------------------------------------------------------------------------------------

    def stop_points(self, stub: StubLine) -> list[dict[str, Any]]:
        template = _parsed("ratp_stop_points_metro_1.json")[0]
        points = []
        for stop in stub.stops.values():
            point = dict(template)
            point.update(
                name=stop.name,
                stop_place_id=f"ART:IDFM:{stop.place_number}",
                stop_area_id=f"LDA:IDFM:{stop.area_number}",
                line_id=f"LIG:IDFM:{stub.ref}",
            )
            points.append(point)
        return points

    def board_html(self, stub: StubLine, station_id: str, direction: str, now: datetime) -> str:
        """The next-passages fragment of one stop and direction, in the classes of the recorded boards."""
        departures = self.departures(stub, station_id, direction, now)
        network = stub.line.network
        row_class = f"body-{BOARD_SEGMENTS[network]}"
        termini = list(dict.fromkeys(stub.stops[departure.destination_id].name for departure in departures))
        rows = [
            '<tr class="type-horaire-tr"><td colspan="4"><span class="type-horaire">Horaires en temps réel</span>'
            "</td></tr>"
        ]
        for departure in departures:
            rows.append(_board_row(row_class, stub, departure, now, network))
        if network == "rer" and departures:
            later = departures[-1]
            theoretical = StubDeparture(
                station_id=later.station_id,
                direction=later.direction,
                destination_id=later.destination_id,
                expected_at=later.expected_at + timedelta(seconds=HEADWAY_SECONDS[network]),
                aimed_at=None,
                status="onTime",
                at_stop=False,
                mission=later.mission,
            )
            rows.append(
                '<tr class="type-horaire-tr"><td colspan="4"><span class="type-horaire">Horaires théoriques'
                "</span></td></tr>"
            )
            rows.append(_board_row(row_class, stub, theoretical, now, network, remark=""))
        if not departures:
            rows.append(
                f'<tr class="{row_class}"><td class="no-passage" colspan="3">'
                '<span class="no-passage-label">Service terminé</span></td></tr>'
            )
        heading = "Vers " + " / ".join(termini) if termini else "Terminus"
        return (
            '<div class="ixxi-horaire-result-timetable"><div class="timetable_group"><div class="destination">'
            f'<span class="destination_label">{html.escape(heading)}</span>'
            f'<span class="destination_label_small_title">Arrêt {html.escape(stub.stops[station_id].name)}</span>'
            f'</div><table class="timetable no_train_network is_{BOARD_SEGMENTS[network]}"><tbody>'
            + "".join(rows)
            + '</tbody></table><table class="timetable"><tbody><tr class="body-rer">'
            '<td>Premier passage <span class="first-wrap">05:30</span></td>'
            '<td>Dernier passage <span class="last-wrap">01:15</span></td></tr></tbody></table></div></div>'
        )

    def posv_init(self, stub: StubLine, direction: str, now: datetime) -> dict[str, Any]:
        payload = recorded_json("vmtr_posv_init.json")
        payload["lineRef"] = f"LIG:IDFM:{stub.ref}"
        payload["directionRef"] = f"DIR:IDFM:{stub.ref}:{direction}"
        payload["vehicles"] = self.vehicles(stub, direction, now)
        return payload


def _board_row(
    row_class: str, stub: StubLine, departure: StubDeparture, now: datetime, network: str, remark: str | None = None
) -> str:
    wait = (departure.expected_at - now).total_seconds()
    if network == "rer":
        when = "A quai" if departure.at_stop else departure.expected_at.astimezone(PARIS).strftime("%H:%M")
    elif departure.at_stop:
        when = "A quai"
    elif wait < 60:
        when = "Train à l'approche" if network != "bus" else "A l'approche"
    else:
        when = f"{int(wait // 60)} mn"
    if remark is None:
        remark = {"delayed": "Retardé", "cancelled": "Supprimé"}.get(
            departure.status, "A l'heure" if network == "rer" else ""
        )
    mission = ""
    if departure.mission:
        mission = (
            '<td class="js-horaire-show-mission-td">'
            f'<a class="js-horaire-show-mission" href="#">{departure.mission}</a></td>'
        )
    long_class = " heure-wrap-long" if network == "rer" else ""
    return (
        f'<tr class="{row_class}">{mission}'
        f'<td class="terminus-td"><span class="terminus-wrap">{html.escape(stub.stops[departure.destination_id].name)}'
        f'</span></td><td class="time-td"><span class="heure-wrap{long_class}">{html.escape(when)}</span></td>'
        f'<td class="type-horaire-td">{f"<span>{html.escape(remark)}</span>" if remark else ""}</td></tr>'
    )


def _mission(destination_name: str, mark: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    initial = slugify(destination_name)[:1].upper() or "X"
    return initial + "".join(letters[(mark // 26**index) % 26] for index in range(3))


def _navitia_route_id(stub: StubLine, index: int, direction: str) -> str:
    return f"route:IDFM:{stub.ref}-{index}-{direction}"


def _number(ref: str) -> int | None:
    digits = ref.strip().rstrip(":").rsplit(":", 1)[-1]
    return int(digits) if digits.isdigit() else None


def _stamp(delivery: dict[str, Any], now: datetime) -> None:
    delivery["ResponseTimestamp"] = iso(now)
    delivery["ResponseMessageIdentifier"] = _message_id(now)


def _message_id(now: datetime) -> str:
    return f"IVTR_HUB:ResponseMessage::stub-{int(now.timestamp() * 1000)}:LOC:"


@lru_cache(maxsize=8192)
def _json(text: str) -> str:
    """A name as a JSON string (the same few thousand station names, over and over)."""
    return json.dumps(text, ensure_ascii=False)


def _hole(name: str) -> str:
    """A string value to fill in with text that needs no JSON escaping (ids, times)."""
    return f"@@{name}@@"


def _raw_hole(name: str) -> str:
    """A value to fill in with JSON text (an object, a list's items, a string already quoted by `_json`)."""
    return f"@@!{name}@@"


def _format_of(value: Any) -> str:
    """`value` as JSON text made a `str.format` template: each `_hole(name)` becomes the field `"{name}"`, each
    `_raw_hole(name)` the field `{name}`."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("{", "{{").replace("}", "}}")
    text = re.sub(r'"@@!(\w+)@@"', r"{\1}", text)
    return re.sub(r"@@(\w+)@@", r"{\1}", text)


@cache
def _answer_format() -> str:
    """The recorded stop-monitoring answer, with holes for its times, its message id and its visits."""
    payload = _without_visits("prim_stop_monitoring.json")
    delivery = payload["Siri"]["ServiceDelivery"]
    delivery["ResponseTimestamp"] = _hole("now")
    delivery["ResponseMessageIdentifier"] = _hole("message")
    monitoring = delivery["StopMonitoringDelivery"][0]
    monitoring["ResponseTimestamp"] = _hole("now")
    monitoring["MonitoredStopVisit"] = [_raw_hole("visits")]
    return _format_of(payload)


@cache
def _visit_format() -> str:
    """The recorded stop visit, with holes for what the stub fills in (the rest as recorded)."""
    delivery = _parsed("prim_stop_monitoring.json")["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"][0]
    visit = fresh_copy(delivery["MonitoredStopVisit"][0])
    journey = visit["MonitoredVehicleJourney"]
    visit["RecordedAtTime"] = _hole("recorded")
    visit["ItemIdentifier"] = _hole("item")
    visit["MonitoringRef"] = {"value": _hole("stop_ref")}
    journey["LineRef"] = {"value": _hole("line_ref")}
    journey["FramedVehicleJourneyRef"]["DatedVehicleJourneyRef"] = _hole("journey")
    journey["DirectionName"] = [{"value": _raw_hole("destination")}]
    journey["DestinationRef"] = {"value": _hole("destination_ref")}
    journey["DestinationName"] = [{"value": _raw_hole("destination")}]
    journey["MonitoredCall"] = _raw_hole("call")
    return _format_of(visit)


def _navitia_page(payload: dict[str, Any], key: str, items: list[Any], now: datetime) -> dict[str, Any]:
    """A recorded Navitia answer holding `items` under `key`, its pagination and clock to match."""
    payload[key] = items
    payload["pagination"].update(items_on_page=len(items), total_result=len(items))
    payload["context"]["current_datetime"] = now.astimezone(PARIS).strftime("%Y%m%dT%H%M%S")
    return payload
