"""Looking lines and stations up in the shipped catalogue: references, aliases, errors and ordering."""

from __future__ import annotations

import pytest

from backend.catalogue import Catalogue, UnknownLineError, get_catalogue, normalise_name, parse_line_list


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return get_catalogue()


def test_get_catalogue_is_loaded_once(catalogue: Catalogue) -> None:
    assert get_catalogue() is catalogue


@pytest.mark.parametrize(
    ("ref", "line_id"),
    [
        ("metro:1", "metro:1"),
        ("METRO:1", "metro:1"),
        (" metro:1 ", "metro:1"),
        ("metro:3bis", "metro:3bis"),
        ("metro:3BIS", "metro:3bis"),
        ("metro:3B", "metro:3bis"),
        ("metro:3b", "metro:3bis"),
        ("metro:7bis", "metro:7bis"),
        ("métro:14", "metro:14"),
        ("rer:a", "rer:A"),
        ("RER:A", "rer:A"),
        ("tram:T3a", "tram:T3a"),
        ("tram:t3a", "tram:T3a"),
        ("tram:T3A", "tram:T3a"),
        ("tram:3a", "tram:T3a"),
        ("tramway:t10", "tram:T10"),
        ("bus:38", "bus:38"),
        ("bus:n01", "bus:N01"),
        ("bus:N1", "bus:N01"),
    ],
)
def test_get_accepts_case_and_common_spellings(catalogue: Catalogue, ref: str, line_id: str) -> None:
    assert catalogue.get(ref).id == line_id


def test_find_matches_get(catalogue: Catalogue) -> None:
    assert catalogue.find("Metro", "3B") is catalogue.get("metro:3bis")
    assert catalogue.find("TRAM", "t3b") is catalogue.get("tram:T3b")


@pytest.mark.parametrize("ref", ["1", "T3a", "metro:", "metro:15", "metro:3ter", "tram:T3", "rer:F", "boat:1", ""])
def test_get_rejects_unknown_or_networkless_refs(catalogue: Catalogue, ref: str) -> None:
    with pytest.raises(UnknownLineError) as raised:
        catalogue.get(ref)
    message = str(raised.value)
    assert repr(ref.strip()) in message
    assert "e.g. metro:1" in message or "lines are" in message


def test_unknown_code_error_lists_the_network_codes(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownLineError, match=r"tram lines are T1, T2, T3a, T3b"):
        catalogue.get("tram:T3")


def test_unknown_line_error_is_a_value_error() -> None:
    assert issubclass(UnknownLineError, ValueError)


def test_find_by_idfm_accepts_upstream_spellings(catalogue: Catalogue) -> None:
    for ref in ("C01371", "IDFM:C01371", "line:IDFM:C01371", "STIF:Line::C01371:", "LIG:IDFM:C01371"):
        assert catalogue.find_by_idfm(ref).id == "metro:1"
    with pytest.raises(UnknownLineError):
        catalogue.find_by_idfm("IDFM:C99999")


def test_idfm_ref(catalogue: Catalogue) -> None:
    assert catalogue.get("metro:1").idfm_ref == "IDFM:C01371"
    assert catalogue.get("rer:A").idfm_ref == "IDFM:C01742"


def test_lines_are_rail_first_in_natural_order_then_bus(catalogue: Catalogue) -> None:
    ids = [line.id for line in catalogue.lines]
    metro = [line.code for line in catalogue.by_network("metro")]
    assert metro == ["1", "2", "3", "3bis", "4", "5", "6", "7", "7bis", "8", "9", "10", "11", "12", "13", "14"]
    assert [line.code for line in catalogue.by_network("rer")] == ["A", "B", "C", "D", "E"]
    trams = [line.code for line in catalogue.by_network("tram")]
    assert trams[:5] == ["T1", "T2", "T3a", "T3b", "T4"]
    assert trams[-1] == "T14"
    networks = [line.network for line in catalogue.lines]
    assert networks == sorted(networks, key=["metro", "rer", "tram", "bus"].index)
    buses = [line.code for line in catalogue.by_network("bus")]
    first_night = next(index for index, code in enumerate(buses) if code.startswith("N"))
    assert all(code.startswith("N") for code in buses[first_night:])
    assert ids[0] == "metro:1"


def test_schedulable_lines_are_the_rail_lines(catalogue: Catalogue) -> None:
    schedulable = catalogue.schedulable_lines()
    assert {line.network for line in schedulable} == {"metro", "rer", "tram"}
    assert len(schedulable) == len([line for line in catalogue.lines if line.network != "bus"])
    assert all(line.has_station_data for line in schedulable)


def test_stations_for_runs_each_branch_both_ways(catalogue: Catalogue) -> None:
    stops = catalogue.stations_for("metro:1")
    forward = [stop for stop in stops if stop.direction == "A"]
    backward = [stop for stop in stops if stop.direction == "R"]
    assert stops == forward + backward
    assert [stop.position for stop in forward] == list(range(len(forward)))
    assert forward[0].station.id == "la-defense"
    assert forward[-1].station.id == "chateau-de-vincennes"
    assert [stop.station for stop in backward] == [stop.station for stop in reversed(forward)]
    assert {stop.line_id for stop in stops} == {"metro:1"}


def test_stations_for_orders_branches_by_route_index(catalogue: Catalogue) -> None:
    stops = catalogue.stations_for("rer:A")
    keys = [(stop.direction, stop.branch, stop.position) for stop in stops]
    assert keys == sorted(keys)
    assert {stop.branch for stop in stops} == set(range(len(catalogue.routes_for("rer:A"))))


def test_stations_for_accepts_any_line_reference(catalogue: Catalogue) -> None:
    assert catalogue.stations_for("tram:t3a") == catalogue.stations_for("tram:T3a")


def test_bus_lines_have_no_stations(catalogue: Catalogue) -> None:
    bus = catalogue.get("bus:38")
    assert not bus.has_station_data
    assert catalogue.stations_for(bus.id) == []
    assert catalogue.routes_for(bus.id) == ()


def test_lines_at_a_shared_station(catalogue: Catalogue) -> None:
    assert [line.id for line in catalogue.lines_at("la-defense")] == ["metro:1", "rer:A", "rer:E", "tram:T2"]


def test_unknown_station_raises_key_error(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match="no-such-station"):
        catalogue.station("no-such-station")
    with pytest.raises(KeyError):
        catalogue.lines_at("no-such-station")


def test_station_lookup(catalogue: Catalogue) -> None:
    station = catalogue.station("chatelet-les-halles")
    assert station.name == "Châtelet-Les Halles"
    assert station.town == "Paris"
    assert station in catalogue.stations()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Châtelet-Les Halles", "chatelet les halles"),
        ("CHÂTELET  les halles", "chatelet les halles"),
        ("Aéroport d'Orly", "aeroport d orly"),
        ("Charles de Gaulle\u2013Étoile", "charles de gaulle etoile"),
        ("Saint-Denis Pleyel", "saint denis pleyel"),
        ("Cœur de ville", "coeur de ville"),
        ("  ", ""),
    ],
)
def test_normalise_name(text: str, key: str) -> None:
    assert normalise_name(text) == key


def test_station_names_are_searchable_by_normalised_name(catalogue: Catalogue) -> None:
    matches = [station.id for station in catalogue.stations() if "chatelet" in normalise_name(station.name)]
    assert set(matches) == {"chatelet", "chatelet-les-halles"}


def test_search_stations_ignores_accents_and_case_and_ranks_prefixes_first(catalogue: Catalogue) -> None:
    assert [station.id for station in catalogue.search_stations("CHÂTELET")] == ["chatelet", "chatelet-les-halles"]
    orly = [station.id for station in catalogue.search_stations("aeroport d'orly")]
    assert orly == ["aeroport-d-orly", "pont-de-rungis-aeroport-d-orly"]
    assert {station.id for station in catalogue.search_stations("défense")} == {"esplanade-de-la-defense", "la-defense"}
    ids = [station.id for station in catalogue.search_stations("Saint Denis")]
    prefixed = [station_id for station_id in ids if station_id.startswith("saint-denis")]
    assert ids[: len(prefixed)] == prefixed
    assert "basilique-de-saint-denis" in ids[len(prefixed) :]
    assert catalogue.search_stations("  ") == []
    assert catalogue.search_stations("no such stop") == []


def test_parse_line_list(catalogue: Catalogue) -> None:
    lines = parse_line_list(" metro:1, rer:A ,METRO:1,, tram:t3a", catalogue)
    assert [line.id for line in lines] == ["metro:1", "rer:A", "tram:T3a"]


@pytest.mark.parametrize("value", ["", " ", ",", " , "])
def test_parse_line_list_of_nothing_is_empty(value: str) -> None:
    assert parse_line_list(value) == []


def test_parse_line_list_names_every_bad_entry(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownLineError) as raised:
        parse_line_list("metro:1,metro:99,rer:A,T3a,boat:1", catalogue)
    message = str(raised.value)
    for bad in ("'metro:99'", "'T3a'", "'boat:1'"):
        assert bad in message
    assert "'metro:1'" not in message.split(" in line list ")[0]
