"""ratp.fr payloads as recorded: the stop list, next-passages boards (metro, RER, end of service), challenge page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.catalogue import Catalogue
from backend.devtools.replay import RECORDINGS
from backend.services.resilience import UpstreamError
from backend.services.scrapers.cloudflare import is_challenge
from backend.services.scrapers.ratp_board import parse_board, row_time
from backend.services.scrapers.ratp_http import (
    board_departures,
    bus_stations,
    parse_stop_points,
    ratp_line_code,
    stop_refs_of,
    topology_of,
)
from backend.services.topology import LineTopology

# 09:02:11 in Paris (UTC+1 in mid-March).
NOW = datetime(2025, 3, 14, 8, 2, 11, tzinfo=UTC)


def recorded(name: str) -> str:
    return (RECORDINGS / name).read_text(encoding="utf-8")


def recorded_json(name: str) -> Any:
    return json.loads(recorded(name))


def test_stop_list_gives_stop_places_and_stop_areas() -> None:
    points = parse_stop_points(recorded_json("ratp_stop_points_metro_1.json"))

    assert [point.name for point in points][:3] == ["La Défense", "Esplanade de la Défense", "Châtelet"]
    chatelet = points[2]
    assert chatelet.stop_place_ref == "ART:IDFM:22087"
    assert chatelet.stop_area_id == "71264"  # LDA:IDFM:71264 is PRIM's STIF:StopArea:SP:71264:
    assert chatelet.line_ref == "LIG:IDFM:C01371"


def test_stop_list_names_match_catalogue_stations(catalogue: Catalogue) -> None:
    topology = LineTopology("metro:1", catalogue.stations_for("metro:1"))
    points = parse_stop_points(recorded_json("ratp_stop_points_metro_1.json"))

    refs = stop_refs_of(points, topology.station_for_name)

    assert {ref.station_id: ref.stop_place_ref for ref in refs} == {
        "la-defense": "ART:IDFM:22091",
        "esplanade-de-la-defense": "ART:IDFM:22089",
        "chatelet": "ART:IDFM:22087",
        "hotel-de-ville": "ART:IDFM:22086",
        "chateau-de-vincennes": "ART:IDFM:463013",
    }


@pytest.mark.parametrize(("payload", "kind"), [([], "empty"), ({"error": "x"}, "bad_response"), ([{"x": 1}], "empty")])
def test_unusable_stop_lists_are_errors(payload: Any, kind: str) -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_stop_points(payload)
    assert raised.value.kind == kind


def test_bus_stations_run_both_ways_in_listed_order(catalogue: Catalogue) -> None:
    line = catalogue.get("bus:38")
    stations = bus_stations(line, parse_stop_points(recorded_json("ratp_stop_points_bus_38.json")))

    forward = [record for record in stations if record.direction == "A"]
    backward = [record for record in stations if record.direction == "R"]
    assert [record.name for record in forward] == [
        "Gare du Nord",
        "Gare de l'Est - Verdun",
        "Châtelet",
        "Luxembourg",
        "Porte d'Orléans",
    ]
    assert [record.station_id for record in backward] == [record.station_id for record in reversed(forward)]
    assert forward[0].station_id == "gare-du-nord"
    assert forward[0].upstream_ref == "ART:IDFM:1637"
    assert [record.position for record in backward] == list(range(5))
    assert topology_of(stations).direction_towards("chatelet", "porte-d-orleans") == "A"


def test_metro_board_rows_become_times_and_states() -> None:
    [board] = parse_board(recorded("ratp_next_passages_metro.html"))

    assert board.heading == "Vers Château de Vincennes"
    assert [row.time_text for row in board.rows] == ["A quai", "Train à l'approche", "4 mn", "9 mn"]
    times = [row_time(row, NOW) for row in board.rows]
    assert all(time is not None for time in times)
    at_quay, approaching, four, nine = (time for time in times if time is not None)
    assert (at_quay.expected_at, at_quay.status, at_quay.vehicle_at_stop) == (NOW, "at_platform", True)
    assert (approaching.expected_at, approaching.status, approaching.vehicle_at_stop) == (NOW, "on_time", False)
    assert four.expected_at == NOW + timedelta(minutes=4)
    assert (nine.expected_at, nine.status) == (NOW + timedelta(minutes=9), "delayed")
    assert all(time.is_realtime for time in (at_quay, approaching, four, nine))


def test_rer_board_clock_times_are_paris_time_and_theoretical_rows_are_marked() -> None:
    [board] = parse_board(recorded("ratp_next_passages_rer.html"))

    assert [row.mission for row in board.rows] == ["ZEBU", "QIKI", "ZEBU", "QIKI", "ZEBU"]
    times = [row_time(row, NOW) for row in board.rows]
    assert [time.expected_at if time else None for time in times] == [
        NOW,
        datetime(2025, 3, 14, 8, 7, tzinfo=UTC),
        datetime(2025, 3, 14, 8, 11, tzinfo=UTC),
        datetime(2025, 3, 14, 8, 14, tzinfo=UTC),
        datetime(2025, 3, 14, 8, 41, tzinfo=UTC),
    ]
    assert [time.status if time else None for time in times] == [
        "at_platform",
        "on_time",
        "delayed",
        "cancelled",
        "unknown",
    ]
    assert [time.is_realtime if time else None for time in times] == [True, True, True, True, False]


def test_clock_time_past_midnight_is_tomorrow() -> None:
    late = datetime(2025, 3, 14, 22, 50, tzinfo=UTC)  # 23:50 in Paris
    [board] = parse_board(recorded("ratp_next_passages_rer.html").replace("09:07", "00:12"))

    time = row_time(board.rows[1], late)

    assert time is not None
    assert time.expected_at == datetime(2025, 3, 14, 23, 12, tzinfo=UTC)


def test_end_of_service_board_is_empty_not_an_error() -> None:
    [board] = parse_board(recorded("ratp_next_passages_no_service.html"))

    assert board.rows == ()
    assert board.no_service


@pytest.mark.parametrize(
    ("html", "kind"),
    [
        ("", "empty"),
        ("<p>Une erreur est survenue</p>", "bad_response"),
        ('<div class="ixxi-horaire-result-timetable"><div class="timetable_group"><table class="time', "bad_response"),
        (
            '<div class="ixxi-horaire-result-timetable"><table><tr class="body-metro"><td>'
            '<span class="terminus-wrap">Ch',
            "bad_response",
        ),
    ],
)
def test_malformed_or_empty_boards_are_errors(html: str, kind: str) -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_board(html)
    assert raised.value.kind == kind
    assert "board" in raised.value.reason


def test_board_rows_for_another_terminus_are_mapped_by_destination(catalogue: Catalogue) -> None:
    line = catalogue.get("rer:A")
    topology = LineTopology(line.id, catalogue.stations_for(line.id))

    departures, unplaced = board_departures(
        recorded("ratp_next_passages_rer.html"), line, "chatelet-les-halles", topology, NOW
    )

    assert unplaced == 0
    assert {(d.direction, d.destination) for d in departures} == {
        ("A", "Boissy-Saint-Léger"),
        ("A", "Marne-la-Vallée Chessy"),
    }
    assert {d.source for d in departures} == {"ratp_http"}


def test_challenge_page_is_recognised() -> None:
    page = recorded("ratp_challenge.html")
    challenged = httpx.Response(403, text=page, headers={"cf-mitigated": "challenge"})
    by_markers_only = httpx.Response(503, text=page)
    plain_forbidden = httpx.Response(403, text="<h1>Access denied</h1>")
    board = httpx.Response(200, text=page)

    assert is_challenge(challenged)
    assert is_challenge(by_markers_only)
    assert not is_challenge(plain_forbidden)
    assert not is_challenge(board)


def test_line_codes_as_ratp_spells_them(catalogue: Catalogue) -> None:
    assert ratp_line_code(catalogue.get("metro:3bis")) == "3B"
    assert ratp_line_code(catalogue.get("tram:T3a")) == "t3a"
    assert ratp_line_code(catalogue.get("rer:B")) == "B"
    assert ratp_line_code(catalogue.get("bus:38")) == "38"


def test_a_stop_of_the_wrong_shape_is_one_bad_response_naming_its_place() -> None:
    payload = recorded_json("ratp_stop_points_metro_1.json")
    payload[3]["name"] = ["Châtelet"]

    with pytest.raises(UpstreamError) as raised:
        parse_stop_points(payload)

    assert raised.value.kind == "bad_response"
    assert "ratp.fr stop list answer: 3.name: Input should be a valid string" in raised.value.reason
