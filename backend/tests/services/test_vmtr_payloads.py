"""Vehicle socket payloads as recorded: socket.io frames, the `[POSV - INIT]` vehicle list, mapping to stations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.catalogue import Catalogue
from backend.devtools.replay import RECORDINGS
from backend.services.resilience import UpstreamError
from backend.services.scrapers.vmtr import INIT_EVENT, parse_event, parse_vehicles, room_query, vehicles_to_positions
from backend.services.stop_refs import StopRef, StopRefRegistry
from backend.services.topology import LineTopology

RECEIVED_AT = datetime(2025, 3, 14, 8, 2, 10, tzinfo=UTC)


def init_frame() -> str:
    payload = (RECORDINGS / "vmtr_posv_init.json").read_text(encoding="utf-8")
    session = (RECORDINGS / "vmtr_session.txt").read_text(encoding="utf-8")
    line = next(line for line in session.splitlines() if INIT_EVENT in line)
    return line.removeprefix("< ").replace("{{POSV_INIT}}", json.dumps(json.loads(payload)))


def metro_1_registry() -> StopRefRegistry:
    registry = StopRefRegistry()
    registry.merge(
        "metro:1",
        [
            StopRef("la-defense", "La Défense", stop_place_ref="ART:IDFM:22091"),
            StopRef("esplanade-de-la-defense", "Esplanade de la Défense", stop_place_ref="ART:IDFM:22089"),
            StopRef("chatelet", "Châtelet", stop_place_ref="ART:IDFM:22087"),
            StopRef("hotel-de-ville", "Hôtel de Ville", stop_place_ref="ART:IDFM:22086"),
            StopRef("chateau-de-vincennes", "Château de Vincennes", stop_place_ref="ART:IDFM:463013"),
        ],
    )
    return registry


def test_init_event_frame_gives_the_vehicle_list() -> None:
    event = parse_event(init_frame())

    assert event is not None
    name, payload = event
    assert name == INIT_EVENT
    vehicles = parse_vehicles(payload)
    assert [vehicle.vehicle_id for vehicle in vehicles] == ["RATP:M1:MP05:511", "RATP:M1:MP05:527", "RATP:M1:MP05:533"]
    first = vehicles[0]
    assert (first.direction, first.previous_ref, first.next_ref) == ("A", "ART:IDFM:22087", "ART:IDFM:22086")
    assert first.progress == pytest.approx(0.42)
    assert first.stop_status == "IN_TRANSIT_TO"
    assert first.recorded_at == datetime(2025, 3, 14, 8, 2, 9, 512000, tzinfo=UTC)


def test_frames_that_are_not_events_are_skipped() -> None:
    assert parse_event("2") is None
    assert parse_event('0{"sid":"x"}') is None
    assert parse_event('40{"sid":"y"}') is None


@pytest.mark.parametrize("frame", ['42["[POSV - INIT]",{"vehi', '42{"vehicles": []}', "42[]"])
def test_cut_or_malformed_event_frames_are_bad_responses(frame: str) -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_event(frame)
    assert raised.value.kind == "bad_response"


def test_event_payload_sent_as_a_json_string_is_read_too() -> None:
    event = parse_event("42" + json.dumps([INIT_EVENT, json.dumps({"vehicles": []})]))

    assert event == (INIT_EVENT, {"vehicles": []})


def test_vehicles_are_placed_on_catalogue_stations(catalogue: Catalogue) -> None:
    line = catalogue.get("metro:1")
    topology = LineTopology(line.id, catalogue.stations_for(line.id))
    vehicles = parse_vehicles(json.loads((RECORDINGS / "vmtr_posv_init.json").read_text(encoding="utf-8")))

    positions, unplaced = vehicles_to_positions(
        vehicles,
        line=line,
        asked_direction="A",
        topology=topology,
        registry=metro_1_registry(),
        received_at=RECEIVED_AT,
    )

    assert [(p.previous_station_id, p.next_station_id) for p in positions] == [
        ("chatelet", "hotel-de-ville"),
        ("la-defense", "esplanade-de-la-defense"),
        (None, "chateau-de-vincennes"),
    ]
    assert unplaced == 1  # ART:IDFM:99999 is no station of the line
    assert [p.direction for p in positions] == ["A", "A", "A"]
    assert positions[1].stop_status == "STOPPED_AT"
    assert positions[2].progress == pytest.approx(0.775)
    assert {p.source for p in positions} == {"vmtr"}


def test_direction_follows_the_catalogue_route_order(catalogue: Catalogue) -> None:
    line = catalogue.get("metro:1")
    topology = LineTopology(line.id, catalogue.stations_for(line.id))
    [vehicle] = parse_vehicles(
        {
            "vehicles": [
                {
                    "vehicleId": "v1",
                    "vehicleActivity": {"directionRef": "DIR:IDFM:C01371:A"},
                    "position": {"previousStopPlaceRef": "ART:IDFM:22086", "nextStopPlaceRef": "ART:IDFM:22087"},
                }
            ]
        }
    )

    [position], _ = vehicles_to_positions(
        [vehicle],
        line=line,
        asked_direction="A",
        topology=topology,
        registry=metro_1_registry(),
        received_at=RECEIVED_AT,
    )

    assert position.direction == "R"  # Hôtel de Ville -> Châtelet runs towards La Défense
    assert position.recorded_at == RECEIVED_AT


def test_room_query_names_line_and_direction() -> None:
    assert room_query("C01371", "R") == (
        "roomName=LIG%3AIDFM%3AC01371&directionId=DIR%3AIDFM%3AC01371%3AR&EIO=4&transport=websocket"
    )


def test_a_vehicle_field_of_the_wrong_type_is_one_bad_response_naming_its_path() -> None:
    payload = json.loads((RECORDINGS / "vmtr_posv_init.json").read_text(encoding="utf-8"))
    payload["vehicles"][2]["position"]["progressBetweenStopsPercentage"] = "42 %"

    with pytest.raises(UpstreamError) as raised:
        parse_vehicles(payload)

    assert raised.value.kind == "bad_response"
    assert "vehicles.2.position.progressBetweenStopsPercentage" in raised.value.reason
