"""Integrity of the shipped catalogue data: files agree with each other and with facts about the real network."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from backend.catalogue import Catalogue, get_catalogue, normalise_name
from backend.catalogue.colours import BLACK, WHITE, contrast_ratio
from backend.catalogue.loader import DATA_DIR, routes_file_name
from backend.catalogue.names import is_slug, slugify

ROUTES_DIR = DATA_DIR / "routes"

# The IDFM referential (ID_Line and web colour) as given in the project's reference data; "" = not in the reference.
REFERENCE_LINES: dict[str, tuple[str, str]] = {
    "metro:1": ("C01371", "ffcd00"),
    "metro:2": ("C01372", "003ca6"),
    "metro:3": ("C01373", "837902"),
    "metro:3bis": ("C01386", "6ec4e8"),
    "metro:4": ("C01374", "cf009e"),
    "metro:5": ("C01375", "ff7e2e"),
    "metro:6": ("C01376", "6eca97"),
    "metro:7": ("C01377", "fa9aba"),
    "metro:7bis": ("C01387", "6eca97"),
    "metro:8": ("C01378", "e19bdf"),
    "metro:9": ("C01379", "b6bd00"),
    "metro:10": ("C01380", "c9910d"),
    "metro:11": ("C01381", "704b1c"),
    "metro:12": ("C01382", "007852"),
    "metro:13": ("C01383", "6ec4e8"),
    "metro:14": ("C01384", "62259d"),
    "rer:A": ("C01742", "eb2132"),
    "rer:B": ("C01743", "5091cb"),
    "rer:C": ("C01727", "ffcc30"),
    "rer:D": ("C01728", "008b5b"),
    "rer:E": ("C01729", "b94e9a"),
    "tram:T1": ("C01389", "003ca6"),
    "tram:T2": ("C01390", "cf009e"),
    "tram:T3a": ("C01391", "ff7e2e"),
    "tram:T3b": ("C01679", "00ae41"),
    "tram:T4": ("C01843", "dfaf47"),
    "tram:T5": ("C01684", "62259d"),
    "tram:T6": ("C01794", "e2231a"),
    "tram:T7": ("C01774", "704b1c"),
    "tram:T8": ("C01795", "837902"),
    "tram:T9": ("C02317", "5091cb"),
    "tram:T10": ("C02528", ""),
    "tram:T11": ("C01999", "f58f53"),
    "tram:T12": ("C02529", ""),
    "tram:T13": ("C02344", "8d653d"),
    "tram:T14": ("C02732", ""),
}

# Termini of the main (first) route, in listed order, and every terminus any route must reach.
MAIN_TERMINI: dict[str, tuple[str, str]] = {
    "metro:1": ("la-defense", "chateau-de-vincennes"),
    "metro:2": ("porte-dauphine", "nation"),
    "metro:3bis": ("gambetta", "porte-des-lilas"),
    "metro:4": ("porte-de-clignancourt", "bagneux-lucie-aubrac"),
    "metro:6": ("charles-de-gaulle-etoile", "nation"),
    "metro:8": ("balard", "pointe-du-lac"),
    "metro:9": ("pont-de-sevres", "mairie-de-montreuil"),
    "metro:11": ("chatelet", "rosny-bois-perrier"),
    "metro:12": ("mairie-d-aubervilliers", "mairie-d-issy"),
    "metro:14": ("saint-denis-pleyel", "aeroport-d-orly"),
    "rer:A": ("cergy-le-haut", "marne-la-vallee-chessy"),
    "rer:B": ("saint-remy-les-chevreuse", "aeroport-charles-de-gaulle-2-tgv"),
    "tram:T2": ("pont-de-bezons", "porte-de-versailles"),
    "tram:T3a": ("pont-du-garigliano", "porte-de-vincennes"),
    "tram:T3b": ("porte-de-vincennes", "porte-dauphine"),
}
ALL_TERMINI: dict[str, set[str]] = {
    "metro:7": {"la-courneuve-8-mai-1945", "villejuif-louis-aragon", "mairie-d-ivry"},
    "metro:13": {"saint-denis-universite", "les-courtilles", "chatillon-montrouge"},
    "rer:A": {"saint-germain-en-laye", "cergy-le-haut", "poissy", "boissy-saint-leger", "marne-la-vallee-chessy"},
    "rer:B": {"saint-remy-les-chevreuse", "robinson", "aeroport-charles-de-gaulle-2-tgv", "mitry-claye"},
    "rer:C": {
        "pontoise",
        "versailles-chateau-rive-gauche",
        "saint-quentin-en-yvelines",
        "saint-martin-d-etampes",
        "dourdan-la-foret",
        "massy-palaiseau",
    },
    "rer:D": {"creil", "melun", "corbeil-essonnes", "malesherbes-le-malesherbois"},
    "rer:E": {"nanterre-la-folie", "tournan", "chelles-gournay"},
}

SHARED_STATIONS: dict[str, set[str]] = {
    "nation": {"metro:1", "metro:2", "metro:6", "metro:9", "rer:A"},
    "chatelet": {"metro:1", "metro:4", "metro:7", "metro:11", "metro:14"},
    "chatelet-les-halles": {"rer:A", "rer:B", "rer:D"},
    "la-defense": {"metro:1", "rer:A", "rer:E", "tram:T2"},
    "charles-de-gaulle-etoile": {"metro:1", "metro:2", "metro:6", "rer:A"},
    "gare-de-lyon": {"metro:1", "metro:14", "rer:A", "rer:D"},
    "gare-du-nord": {"metro:4", "metro:5", "rer:B", "rer:D"},
    "saint-lazare": {"metro:3", "metro:12", "metro:13", "metro:14"},
    "montparnasse-bienvenue": {"metro:4", "metro:6", "metro:12", "metro:13"},
    "republique": {"metro:3", "metro:5", "metro:8", "metro:9", "metro:11"},
    "porte-de-vincennes": {"metro:1", "tram:T3a", "tram:T3b"},
    "porte-de-versailles": {"metro:12", "tram:T2", "tram:T3a"},
    "massy-palaiseau": {"rer:B", "rer:C", "tram:T12"},
    "aeroport-d-orly": {"metro:14", "tram:T7"},
    "place-des-fetes": {"metro:7bis", "metro:11"},
    "porte-des-lilas": {"metro:3bis", "metro:11", "tram:T3b"},
}


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return get_catalogue()


@pytest.fixture(scope="module")
def line_rows() -> list[dict[str, str]]:
    with (DATA_DIR / "lines.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def stations_json() -> dict[str, dict[str, Any]]:
    stations: dict[str, dict[str, Any]] = _read_json(DATA_DIR / "stations.json")["stations"]
    return stations


@pytest.fixture(scope="module")
def routes_json() -> dict[str, dict[str, Any]]:
    return {path.name: _read_json(path) for path in sorted(ROUTES_DIR.glob("*.json"))}


def test_every_rail_line_has_a_routes_file_and_every_routes_file_a_line(
    line_rows: list[dict[str, str]], routes_json: dict[str, dict[str, Any]]
) -> None:
    expected = {routes_file_name(row["network"], row["code"]) for row in line_rows}
    assert set(routes_json) == expected


def test_routes_files_name_their_own_line(routes_json: dict[str, dict[str, Any]]) -> None:
    for file_name, document in routes_json.items():
        network, code = file_name.removesuffix(".json").split("-", 1)
        assert document["line"] == f"{network}:{code}", file_name


def test_lines_csv_lists_exactly_the_rail_lines(line_rows: list[dict[str, str]]) -> None:
    metro = ["1", "2", "3", "3bis", "4", "5", "6", "7", "7bis", "8", "9", "10", "11", "12", "13", "14"]
    trams = ["T1", "T2", "T3a", "T3b", *(f"T{number}" for number in range(4, 15))]
    expected = [f"metro:{code}" for code in metro] + [f"rer:{code}" for code in "ABCDE"]
    expected += [f"tram:{code}" for code in trams]
    assert [f"{row['network']}:{row['code']}" for row in line_rows] == expected


def test_every_referenced_station_exists(
    routes_json: dict[str, dict[str, Any]], stations_json: dict[str, dict[str, Any]]
) -> None:
    missing = {
        (file_name, station_id)
        for file_name, document in routes_json.items()
        for route in document["routes"]
        for station_id in route["stations"]
        if station_id not in stations_json
    }
    assert not missing


def test_every_station_is_on_some_route(
    routes_json: dict[str, dict[str, Any]], stations_json: dict[str, dict[str, Any]]
) -> None:
    used = {sid for document in routes_json.values() for route in document["routes"] for sid in route["stations"]}
    assert set(stations_json) - used == set()


def test_routes_have_two_or_more_distinct_stations(routes_json: dict[str, dict[str, Any]]) -> None:
    for file_name, document in routes_json.items():
        assert document["routes"], file_name
        for route in document["routes"]:
            stations = route["stations"]
            assert len(stations) >= 2, (file_name, route["name"])
            assert len(set(stations)) == len(stations), (file_name, route["name"])


def test_route_names_run_terminus_to_terminus(catalogue: Catalogue) -> None:
    for line in catalogue.schedulable_lines():
        for route in catalogue.routes_for(line.id):
            first, last = (catalogue.station(route.station_ids[index]).name for index in (0, -1))
            assert route.name.startswith(first), (line.id, route.name)
            assert last in route.name, (line.id, route.name)


def test_station_ids_are_slugs_of_their_names(stations_json: dict[str, dict[str, Any]]) -> None:
    for station_id, station in stations_json.items():
        assert is_slug(station_id), station_id
        # A homonym in another town carries the town as a suffix (saint-fargeau-saint-fargeau-ponthierry).
        assert station_id in (slugify(station["name"]), f"{slugify(station['name'])}-{slugify(station['town'])}")


def test_station_names_are_unique_per_town(stations_json: dict[str, dict[str, Any]]) -> None:
    keys = [(station["name"], station["town"]) for station in stations_json.values()]
    assert len(keys) == len(set(keys))


def test_homonyms_in_different_towns_get_town_suffixed_ids(catalogue: Catalogue) -> None:
    assert catalogue.station("saint-fargeau").town == "Paris"
    assert catalogue.station("saint-fargeau-saint-fargeau-ponthierry").town == "Saint-Fargeau-Ponthierry"
    assert [line.id for line in catalogue.lines_at("saint-fargeau")] == ["metro:3bis"]
    assert [line.id for line in catalogue.lines_at("saint-fargeau-saint-fargeau-ponthierry")] == ["rer:D"]


@pytest.mark.parametrize(("station_id", "line_ids"), sorted(SHARED_STATIONS.items()))
def test_interchanges_share_one_station_id(catalogue: Catalogue, station_id: str, line_ids: set[str]) -> None:
    assert line_ids <= {line.id for line in catalogue.lines_at(station_id)}


def test_different_stop_names_are_different_stations(catalogue: Catalogue) -> None:
    assert catalogue.station("chatelet").name == "Châtelet"
    assert catalogue.station("chatelet-les-halles").name == "Châtelet-Les Halles"
    assert "metro:1" not in {line.id for line in catalogue.lines_at("chatelet-les-halles")}


@pytest.mark.parametrize(("line_id", "termini"), sorted(MAIN_TERMINI.items()))
def test_main_route_termini(catalogue: Catalogue, line_id: str, termini: tuple[str, str]) -> None:
    main = catalogue.routes_for(line_id)[0]
    assert (main.station_ids[0], main.station_ids[-1]) == termini


@pytest.mark.parametrize(("line_id", "termini"), sorted(ALL_TERMINI.items()))
def test_every_branch_terminus_is_a_route_end(catalogue: Catalogue, line_id: str, termini: set[str]) -> None:
    ends = {end for route in catalogue.routes_for(line_id) for end in (route.station_ids[0], route.station_ids[-1])}
    assert termini <= ends


# Lines whose main service is not their longest route; their routes file says so in its notes.
MAIN_ROUTE_NOT_LONGEST = {"metro:7", "rer:D", "tram:T4"}


def test_main_route_is_listed_first_and_is_the_longest(catalogue: Catalogue) -> None:
    for line in catalogue.schedulable_lines():
        lengths = [len(route.station_ids) for route in catalogue.routes_for(line.id)]
        if line.id in MAIN_ROUTE_NOT_LONGEST:
            assert "listed first" in catalogue.route_notes[line.id]
        else:
            assert lengths[0] == max(lengths), line.id


def test_recent_extensions_are_in(catalogue: Catalogue) -> None:
    def served(line_id: str) -> set[str]:
        return {stop.station.id for stop in catalogue.stations_for(line_id)}

    assert {"saint-denis-pleyel", "hopital-bicetre", "aeroport-d-orly"} <= served("metro:14")
    assert {"rosny-bois-perrier", "serge-gainsbourg"} <= served("metro:11")
    assert {"mairie-d-aubervilliers", "aime-cesaire"} <= served("metro:12")
    assert {"barbara", "bagneux-lucie-aubrac"} <= served("metro:4")
    assert {"porte-maillot", "porte-dauphine", "marguerite-long"} <= served("tram:T3b")
    assert {"nanterre-la-folie", "neuilly-porte-maillot"} <= served("rer:E")


def test_metro_line_station_counts(catalogue: Catalogue) -> None:
    counts = {
        line.code: len({stop.station.id for stop in catalogue.stations_for(line.id)})
        for line in catalogue.by_network("metro")
    }
    assert counts == {
        "1": 25, "2": 25, "3": 25, "3bis": 4, "4": 29, "5": 22, "6": 28, "7": 38, "7bis": 8,
        "8": 38, "9": 37, "10": 23, "11": 19, "12": 31, "13": 32, "14": 21,
    }  # fmt: skip


@pytest.mark.parametrize("line_id", sorted(REFERENCE_LINES))
def test_ids_and_colours_match_the_reference(catalogue: Catalogue, line_id: str) -> None:
    idfm_line_id, colour = REFERENCE_LINES[line_id]
    line = catalogue.get(line_id)
    assert line.idfm_line_id == idfm_line_id
    if colour:
        assert line.colour == f"#{colour.upper()}"


def test_colours_missing_from_the_reference_are_noted(line_rows: list[dict[str, str]]) -> None:
    for row in line_rows:
        chosen = not REFERENCE_LINES[f"{row['network']}:{row['code']}"][1]
        assert ("colour chosen: not in reference data" in row["notes"]) == chosen, row["code"]


def test_text_colour_is_the_more_readable_of_black_and_white(catalogue: Catalogue) -> None:
    for line in catalogue.lines:
        assert line.text_colour in (BLACK, WHITE), line.id
        other = WHITE if line.text_colour == BLACK else BLACK
        assert contrast_ratio(line.colour, line.text_colour) >= contrast_ratio(line.colour, other), line.id


def test_text_colour_meets_wcag_aa_where_either_choice_can(catalogue: Catalogue) -> None:
    for line in catalogue.lines:
        best = max(contrast_ratio(line.colour, BLACK), contrast_ratio(line.colour, WHITE))
        assert contrast_ratio(line.colour, line.text_colour) >= min(4.5, best), line.id


def test_yellow_metro_1_gets_black_text(catalogue: Catalogue) -> None:
    assert catalogue.get("metro:1").text_colour == BLACK
    assert catalogue.get("metro:14").text_colour == WHITE


def test_line_names(catalogue: Catalogue) -> None:
    assert catalogue.get("metro:1").name == "Métro 1"
    assert catalogue.get("metro:3bis").name == "Métro 3bis"
    assert catalogue.get("rer:A").name == "RER A"
    assert catalogue.get("tram:T3a").name == "Tram T3a"
    assert catalogue.get("bus:38").name == "Bus 38"
    assert catalogue.get("bus:N01").name == "Noctilien N01"


def test_bus_list_covers_paris_and_noctilien(catalogue: Catalogue) -> None:
    codes = {line.code for line in catalogue.by_network("bus")}
    assert {"20", "38", "91", "96", "183"} <= codes
    night = {
        "N01",
        "N02",
        "N11",
        "N16",
        "N21",
        "N24",
        "N35",
        "N45",
        "N53",
        "N66",
        "N71",
        "N122",
        "N135",
        "N154",
    }
    assert night <= codes
    assert not any(line.has_station_data for line in catalogue.by_network("bus"))


def test_every_bus_line_has_its_own_idfm_id_and_colour(catalogue: Catalogue) -> None:
    buses = catalogue.by_network("bus")
    assert len(buses) == 211
    assert all(line.idfm_line_id for line in buses)
    assert len({line.idfm_line_id for line in buses}) == len(buses)
    # IDFM's line reference (data/README.md): bus 38 is C01083 in 0055C8, Noctilien N01 C01413 in A0006E.
    assert (catalogue.get("bus:38").idfm_line_id, catalogue.get("bus:38").colour) == ("C01083", "#0055C8")
    assert (catalogue.get("bus:N01").idfm_line_id, catalogue.get("bus:N01").colour) == ("C01413", "#A0006E")
    assert len({line.colour for line in buses}) > 10


def test_aliases_never_name_another_station(catalogue: Catalogue) -> None:
    names = {normalise_name(station.name): station.id for station in catalogue.stations()}
    owners: dict[str, str] = {}
    for station in catalogue.stations():
        for alias in station.aliases:
            key = normalise_name(alias)
            assert names.get(key, station.id) == station.id, (station.id, alias)
            assert owners.setdefault(key, station.id) == station.id, (station.id, alias, owners[key])


def test_official_long_names_are_aliases(catalogue: Catalogue) -> None:
    assert "Porte d'Asnières - Marguerite Long" in catalogue.station("marguerite-long").aliases
    assert "Porte de Clichy - Tribunal de Paris" in catalogue.station("porte-de-clichy").aliases


# Île-de-France's bounding box (its westernmost, southernmost, easternmost and northernmost communes). RER D's
# terminus Malesherbes (Loiret) lies inside it; its other terminus, Creil (Oise), 2.6 km north of it.
IDF_LAT = (48.12, 49.24)
IDF_LON = (1.44, 3.56)
BEYOND_IDF = {"creil"}


def test_every_station_but_one_has_coordinates_in_ile_de_france(catalogue: Catalogue) -> None:
    stations = catalogue.stations()
    placed = [station for station in stations if station.lat is not None and station.lon is not None]
    assert {station.id for station in stations} - {station.id for station in placed} == {"morsang-sur-orge"}
    for station in placed:
        assert station.lat is not None
        assert station.lon is not None
        if station.id in BEYOND_IDF:
            assert IDF_LAT[1] < station.lat < IDF_LAT[1] + 0.05, station.id
            continue
        assert IDF_LAT[0] <= station.lat <= IDF_LAT[1], station.id
        assert IDF_LON[0] <= station.lon <= IDF_LON[1], station.id
    # Two places of one name are two stations, each at its own place.
    assert (catalogue.station("malesherbes").town, catalogue.station("malesherbes-le-malesherbois").town) == (
        "Paris",
        "Le Malesherbois",
    )
    assert catalogue.station("malesherbes").lat > 48.8 > catalogue.station("malesherbes-le-malesherbois").lat  # type: ignore[operator]
