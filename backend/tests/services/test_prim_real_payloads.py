"""The PRIM parsers on real captured answers (devtools/recordings/real/, sources in its README), not modelled ones."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.catalogue import Catalogue
from backend.devtools.replay import RECORDINGS
from backend.services.resilience import UpstreamError
from backend.services.scrapers.prim import (
    MonitoredVisit,
    parse_general_message,
    parse_stop_monitoring,
    traffic_level,
    visits_to_departures,
)
from backend.services.topology import LineTopology

REAL = RECORDINGS / "real"
METRO_4_CHATELET = "prim_stop_monitoring_metro_4_chatelet_2023-05-31.json"
RER_C_FRANCONVILLE = "prim_stop_monitoring_rer_c_franconville_2025-01-24.json"
GENERAL_MESSAGE_ERROR = "prim_general_message_error_2025-01-31.json"
# The RER C capture's ResponseTimestamp, i.e. when PRIM answered.
RER_C_ANSWERED_AT = datetime(2025, 1, 24, 16, 33, 36, 670000, tzinfo=UTC)
# The metro 4 capture's ResponseTimestamp is two hours after its visits; it is dated by its first RecordedAtTime.
METRO_4_RECORDED_AT = datetime(2023, 5, 31, 7, 27, 0, 568000, tzinfo=UTC)


def real(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def visits_of(parsed: Any) -> list[MonitoredVisit]:
    """The visits, whether parse_stop_monitoring returns them as a list or (soon) as `.visits`."""
    visits: list[MonitoredVisit] = parsed.visits if hasattr(parsed, "visits") else parsed
    return visits


def topology_of(catalogue: Catalogue, line_id: str) -> LineTopology:
    return LineTopology(line_id, catalogue.stations_for(line_id))


def test_metro_4_visits_read_siri_lite_value_wrappers() -> None:
    visits = visits_of(parse_stop_monitoring(real(METRO_4_CHATELET)))

    assert len(visits) == 4
    assert {visit.idfm_line_id for visit in visits} == {"C01374"}
    assert {visit.destination for visit in visits} == {"Porte de Clignancourt"}
    assert {visit.direction_name for visit in visits} == {"PORTE DE CLIGNANCOURT"}
    assert [visit.expected_at for visit in visits] == [
        datetime(2023, 5, 31, 7, 27, 22, 568000, tzinfo=UTC),
        datetime(2023, 5, 31, 7, 29, 14, 786000, tzinfo=UTC),
        datetime(2023, 5, 31, 7, 31, 3, 77000, tzinfo=UTC),
        datetime(2023, 5, 31, 7, 32, 33, 350000, tzinfo=UTC),
    ]
    assert {visit.departure_status for visit in visits} == {"onTime"}
    assert not any(visit.vehicle_at_stop for visit in visits)
    assert all(visit.aimed_at is None for visit in visits)  # RATP's metro answers carry no Aimed* times


def test_metro_4_visits_become_departures_towards_porte_de_clignancourt(catalogue: Catalogue) -> None:
    line = catalogue.get("metro:4")
    visits = visits_of(parse_stop_monitoring(real(METRO_4_CHATELET)))

    departures, unplaced = visits_to_departures(
        visits,
        line=line,
        station_id="chatelet",
        topology=topology_of(catalogue, line.id),
        fetched_at=METRO_4_RECORDED_AT,
    )

    assert unplaced == 0
    assert [(d.direction, d.destination, d.status, d.is_realtime) for d in departures] == [
        ("R", "Porte de Clignancourt", "on_time", True)
    ] * 4
    assert departures[0].expected_at == datetime(2023, 5, 31, 7, 27, 22, 568000, tzinfo=UTC)


def test_rer_c_stop_point_answer_mixes_lines_and_keeps_a_cancelled_visit() -> None:
    visits = visits_of(parse_stop_monitoring(real(RER_C_FRANCONVILLE)))

    assert Counter(visit.idfm_line_id for visit in visits) == {"C01727": 9, "C01737": 4}
    first = visits[0]
    assert (first.idfm_line_id, first.destination) == ("C01727", "Gare de Brétigny")
    assert first.expected_at == datetime(2025, 1, 24, 16, 6, 41, tzinfo=UTC)
    assert first.aimed_at == datetime(2025, 1, 24, 16, 5, 40, tzinfo=UTC)
    assert first.vehicle_at_stop is True
    assert first.direction_name is None  # "DirectionName": [] on SNCF-run lines
    cancelled = [visit for visit in visits if visit.departure_status == "cancelled"]
    assert len(cancelled) == 1
    # A cancelled visit has only Aimed* times; the parser dates it by them.
    assert cancelled[0].expected_at == cancelled[0].aimed_at == datetime(2025, 1, 24, 18, 10, 20, tzinfo=UTC)
    assert cancelled[0].destination == "Gare de Montigny Beauchamp"


def test_rer_c_departures_at_answer_time_skip_trains_gone_and_other_lines(catalogue: Catalogue) -> None:
    line = catalogue.get("rer:C")
    visits = visits_of(parse_stop_monitoring(real(RER_C_FRANCONVILLE)))

    departures, unplaced = visits_to_departures(
        visits,
        line=line,
        station_id="franconville-le-plessis-bouchard",
        topology=topology_of(catalogue, line.id),
        fetched_at=RER_C_ANSWERED_AT,
    )

    # PRIM still lists trains that left up to 27 minutes before it answered; only the next two are departures.
    assert [(d.direction, d.destination, d.status) for d in departures] == [
        ("R", "Gare de Pontoise", "at_platform"),
        ("R", "Gare de Montigny Beauchamp", "cancelled"),
    ]
    assert unplaced == 0
    assert {d.line_id for d in departures} == {"rer:C"}


def test_sncf_gare_de_names_find_their_rer_c_station(catalogue: Catalogue) -> None:
    topology = topology_of(catalogue, "rer:C")
    destinations = {visit.destination for visit in visits_of(parse_stop_monitoring(real(RER_C_FRANCONVILLE)))}

    assert {name: topology.station_for_name(name) for name in sorted(destinations)} == {
        "Gare de Brétigny": "bretigny",
        "Gare de Montigny Beauchamp": "montigny-beauchamp",
        "Gare de Pont de Rungis": "pont-de-rungis-aeroport-d-orly",
        "Gare de Pontoise": "pontoise",
        "Gare du Nord": None,  # Transilien H's terminus, not on RER C
        "Massy-Palaiseau": "massy-palaiseau",
    }


@pytest.mark.xfail(
    strict=True,
    reason="catalogue gap: no rer:C route runs Pontoise - Massy-Palaiseau via Pont de Rungis, which real trains do",
)
def test_rer_c_trains_from_pontoise_to_massy_are_placed(catalogue: Catalogue) -> None:
    line = catalogue.get("rer:C")
    visits = visits_of(parse_stop_monitoring(real(RER_C_FRANCONVILLE)))
    first_recorded = datetime(2025, 1, 24, 16, 5, 59, 75000, tzinfo=UTC)

    _, unplaced = visits_to_departures(
        visits,
        line=line,
        station_id="franconville-le-plessis-bouchard",
        topology=topology_of(catalogue, line.id),
        fetched_at=first_recorded,
    )

    assert unplaced == 0  # today: 2 ("Massy-Palaiseau", "Gare de Pont de Rungis")


def test_general_message_error_answer_is_an_upstream_error_with_its_text() -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_general_message(real(GENERAL_MESSAGE_ERROR), RER_C_ANSWERED_AT)

    assert "Trop de paramètres renseignés" in raised.value.reason
    assert traffic_level([]) == ("normal", None)  # what a caller would show if it swallowed the error


def test_malformed_request_error_is_not_read_as_an_unknown_stop_or_line() -> None:
    with pytest.raises(UpstreamError) as raised:
        parse_general_message(real(GENERAL_MESSAGE_ERROR), RER_C_ANSWERED_AT)

    assert raised.value.kind != "not_found"
