"""PRIM payloads as recorded: SIRI Lite stop-monitoring and general-message, Navitia stop areas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.catalogue import Catalogue
from backend.devtools.replay import RECORDINGS
from backend.services.resilience import UpstreamError
from backend.services.scrapers.prim import (
    InfoMessage,
    LineVisits,
    parse_general_message,
    parse_navitia_stop_areas,
    parse_stop_monitoring,
    traffic_level,
    visits_to_departures,
)
from backend.services.topology import LineTopology

RECORDED_AT = datetime(2025, 3, 14, 8, 2, 11, 418000, tzinfo=UTC)


def recorded(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


def test_stop_monitoring_visits_keep_every_line_with_utc_times() -> None:
    visits = parse_stop_monitoring(recorded("prim_stop_monitoring.json")).visits

    assert [visit.idfm_line_id for visit in visits] == ["C01371"] * 4 + ["C01374"]
    first = visits[0]
    assert first.destination == "Château de Vincennes"
    assert first.expected_at == datetime(2025, 3, 14, 8, 2, 35, tzinfo=UTC)
    assert first.vehicle_at_stop is True
    assert visits[1].aimed_at == datetime(2025, 3, 14, 8, 5, tzinfo=UTC)
    assert all(visit.expected_at.tzinfo is UTC for visit in visits)


def test_stop_monitoring_becomes_the_lines_departures_with_direction_and_status(catalogue: Catalogue) -> None:
    line = catalogue.get("metro:1")
    topology = LineTopology(line.id, catalogue.stations_for(line.id))
    visits = parse_stop_monitoring(recorded("prim_stop_monitoring.json")).visits

    departures, unplaced = visits_to_departures(
        visits, line=line, station_id="chatelet", topology=topology, fetched_at=RECORDED_AT
    )

    assert unplaced == 0
    assert [(d.direction, d.destination, d.status) for d in departures] == [
        ("A", "Château de Vincennes", "at_platform"),
        ("A", "Château de Vincennes", "delayed"),
        ("R", "La Défense", "cancelled"),
        ("R", "La Défense", "unknown"),
    ]
    assert [d.is_realtime for d in departures] == [True, True, True, False]
    assert departures[0].vehicle_at_stop
    assert departures[1].aimed_at == datetime(2025, 3, 14, 8, 5, tzinfo=UTC)
    assert {d.line_id for d in departures} == {"metro:1"}
    assert {d.source for d in departures} == {"prim"}


def test_departures_already_gone_or_too_far_ahead_are_dropped(catalogue: Catalogue) -> None:
    line = catalogue.get("metro:1")
    topology = LineTopology(line.id, catalogue.stations_for(line.id))
    visits = parse_stop_monitoring(recorded("prim_stop_monitoring.json")).visits

    late, _ = visits_to_departures(
        visits, line=line, station_id="chatelet", topology=topology, fetched_at=RECORDED_AT + timedelta(hours=3)
    )
    assert late == []


def test_visits_that_cannot_be_used_are_counted_by_reason_not_dropped_silently() -> None:
    payload = recorded("prim_stop_monitoring.json")
    [delivery] = payload["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"]
    usable = len(delivery["MonitoredStopVisit"])
    template = delivery["MonitoredStopVisit"][0]
    no_destination = json.loads(json.dumps(template))
    journey = no_destination["MonitoredVehicleJourney"]
    for key in ("DestinationName", "DirectionName"):
        journey.pop(key, None)
    journey["MonitoredCall"].pop("DestinationDisplay", None)
    no_time = json.loads(json.dumps(template))
    call = no_time["MonitoredVehicleJourney"]["MonitoredCall"]
    for key in ("ExpectedDepartureTime", "ExpectedArrivalTime", "AimedDepartureTime", "AimedArrivalTime"):
        call.pop(key, None)
    delivery["MonitoredStopVisit"] += [no_destination, no_time, no_time, {"RecordedAtTime": "x"}]

    parsed = parse_stop_monitoring(payload)

    assert len(parsed.visits) == usable
    assert parsed.dropped == {"no destination": 1, "no time": 2, "no journey": 1}


def test_a_lines_dropped_visits_are_its_own_and_those_naming_no_line() -> None:
    payload = recorded("prim_stop_monitoring.json")
    [delivery] = payload["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"]
    other_line = next(
        visit
        for visit in delivery["MonitoredStopVisit"]
        if "C01374" in visit["MonitoredVehicleJourney"]["LineRef"]["value"]
    )
    no_time = json.loads(json.dumps(other_line))
    call = no_time["MonitoredVehicleJourney"]["MonitoredCall"]
    for key in ("ExpectedDepartureTime", "ExpectedArrivalTime", "AimedDepartureTime", "AimedArrivalTime"):
        call.pop(key, None)
    delivery["MonitoredStopVisit"] += [no_time, {"RecordedAtTime": "x"}]

    parsed = parse_stop_monitoring(payload)

    metro_1 = parsed.of_line("C01371")
    assert [visit.idfm_line_id for visit in metro_1.visits] == ["C01371"] * 4
    assert metro_1.dropped == {"no journey": 1}
    metro_4 = parsed.of_line("C01374")
    assert [visit.idfm_line_id for visit in metro_4.visits] == ["C01374"]
    assert metro_4.dropped == {"no time": 1, "no journey": 1}
    assert parsed.of_line("C01999") == LineVisits([], {"no journey": 1})
    assert parsed.dropped == {"no time": 1, "no journey": 1}


def test_unknown_stop_area_is_a_not_found_error() -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_stop_monitoring(recorded("prim_stop_monitoring_unknown_ref.json"))
    assert raised.value.kind == "not_found"
    assert "STIF:StopArea:SP:999999:" in raised.value.reason
    assert not raised.value.counts_against_source


@pytest.mark.parametrize("payload", [{}, {"Siri": {}}, [], "text", {"Siri": {"ServiceDelivery": {}}}])
def test_stop_monitoring_of_another_shape_is_a_bad_response(payload: Any) -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_stop_monitoring(payload)
    assert raised.value.kind == "bad_response"
    assert "StopMonitoringDelivery" in raised.value.reason


def test_a_field_of_the_wrong_type_is_one_bad_response_naming_its_path() -> None:
    payload = recorded("prim_stop_monitoring.json")
    delivery = payload["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"][0]
    delivery["MonitoredStopVisit"][1]["MonitoredVehicleJourney"]["MonitoredCall"]["ExpectedDepartureTime"] = 1710403200

    with pytest.raises(UpstreamError) as raised:
        parse_stop_monitoring(payload)

    assert raised.value.kind == "bad_response"
    assert (
        "Siri.ServiceDelivery.StopMonitoringDelivery.0.MonitoredStopVisit.1.MonitoredVehicleJourney.MonitoredCall"
        ".ExpectedDepartureTime: Input should be a valid string" in raised.value.reason
    )


def test_a_general_message_list_of_another_type_is_a_bad_response_not_a_crash() -> None:
    payload = recorded("prim_general_message.json")
    payload["Siri"]["ServiceDelivery"]["GeneralMessageDelivery"][0]["InfoMessage"] = True

    with pytest.raises(UpstreamError) as raised:
        parse_general_message(payload, RECORDED_AT)

    assert raised.value.kind == "bad_response"
    assert "GeneralMessageDelivery.0.InfoMessage: Input should be a valid list" in raised.value.reason


def test_general_message_with_a_disruption_gives_disrupted_and_its_text() -> None:
    messages = parse_general_message(recorded("prim_general_message.json"), RECORDED_AT)

    assert [message.channel for message in messages] == ["Perturbation", "Information"]
    level, text = traffic_level(messages)
    assert level == "disrupted"
    assert text == "Trafic perturbé entre Nation et Château de Vincennes (incident technique)."


def test_expired_messages_are_ignored() -> None:
    messages = parse_general_message(recorded("prim_general_message.json"), RECORDED_AT + timedelta(hours=3))

    assert [message.channel for message in messages] == ["Information"]
    assert traffic_level(messages) == ("normal", "Travaux : la station Tuileries est fermée le week-end du 15 mars.")


def test_traffic_levels() -> None:
    assert traffic_level([]) == ("normal", None)
    closing = InfoMessage("Perturbation", "Trafic interrompu sur l'ensemble de la ligne (grève).", None)
    assert traffic_level([closing])[0] == "closed"


def test_navitia_stop_areas_give_the_stop_area_numbers() -> None:
    areas = parse_navitia_stop_areas(recorded("navitia_line_stop_areas.json"))

    assert areas == [("71264", "Châtelet"), ("71517", "La Défense"), ("71673", "Château de Vincennes")]


def test_navitia_error_is_readable() -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_navitia_stop_areas({"message": "Unknown object line:IDFM:C99999"})
    assert raised.value.kind == "not_found"
    assert "C99999" in raised.value.reason
