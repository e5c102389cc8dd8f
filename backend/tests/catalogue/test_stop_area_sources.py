"""The rules that turn IDFM's exports into stop_areas.csv rows and aliases, on small hand-made rows."""

from __future__ import annotations

from backend.catalogue.stop_area_sources import (
    CatalogueStations,
    Sources,
    ZoneDArret,
    match_rows,
    station_aliases,
    stop_area_rows,
)

CATALOGUE = CatalogueStations(
    names={"gare-de-l-est": "Gare de l'Est", "chateau-landon": "Château-Landon", "nation": "Nation"},
    line_ids={"metro:7": "C01377", "rer:A": "C01742"},
    stations_on={"metro:7": ["chateau-landon", "gare-de-l-est"], "rer:A": ["nation"]},
)


def gare(name: str, zda: str, zdc: str, line: str, *, nom_zda: str = "", nom_zdc: str = "") -> dict[str, str]:
    return {
        "nom_gares": name,
        "nom_iv": name,
        "nom_zda": nom_zda or name,
        "nom_zdc": nom_zdc or name,
        "id_ref_zda": zda,
        "id_ref_zdc": zdc,
        "idrefligc": line,
    }


def test_a_station_name_is_matched_before_zda_and_zdc_names() -> None:
    # The reference's Château-Landon row names its ZdA "Gare de l'Est".
    rows = {
        "C01377": [
            gare("Château-Landon", "479053", "474149", "C01377", nom_zda="Gare de l'Est"),
            gare("Gare de l'Est", "43138", "71359", "C01377"),
        ]
    }
    matched = match_rows(CATALOGUE, rows)

    assert matched[("metro:7", "gare-de-l-est")]["id_ref_zda"] == "43138"
    assert matched[("metro:7", "chateau-landon")]["id_ref_zda"] == "479053"
    assert "Gare de l'Est" not in station_aliases(CATALOGUE, [matched]).get("chateau-landon", [])


NATION_ZONES = {
    "462358": ZoneDArret("462358", "Nation", "metroStation", "71673"),
    "473875": ZoneDArret("473875", "Nation", "railStation", "71673"),
}


def nation(zda: str) -> dict[tuple[str, str], dict[str, str]]:
    return {("rer:A", "nation"): gare("Nation", zda, "71673", "C01742")}


def test_snapshots_that_disagree_are_settled_by_the_zda_of_the_lines_mode() -> None:
    settled = Sources(nation("462358"), nation("473875"), NATION_ZONES, {})
    unknown = Sources(nation("462358"), nation("473875"), {}, {})

    assert stop_area_rows(CATALOGUE, settled, {}) == [("rer:A", "nation", "473875", "71673", "settled")]
    assert stop_area_rows(CATALOGUE, unknown, {}) == [("rer:A", "nation", "", "71673", "agreed-2")]


def test_agreeing_snapshots_need_the_zda_listed_with_the_lines_mode() -> None:
    agreed = Sources(nation("473875"), nation("473875"), NATION_ZONES, {"nation": {"473875"}})
    other_mode = Sources(nation("462358"), nation("462358"), NATION_ZONES, {})
    rail_disagrees = Sources(nation("473875"), nation("473875"), NATION_ZONES, {"nation": {"999"}})

    assert stop_area_rows(CATALOGUE, agreed, {}) == [("rer:A", "nation", "473875", "71673", "agreed-3")]
    # A ZdA zones-d-arrets gives another mode is not shipped as this line's.
    assert stop_area_rows(CATALOGUE, other_mode, {}) == [("rer:A", "nation", "", "71673", "agreed-2")]
    assert stop_area_rows(CATALOGUE, rail_disagrees, {}) == [("rer:A", "nation", "473875", "71673", "agreed-2")]


def test_a_pair_in_one_snapshot_only_is_single_sourced() -> None:
    assert stop_area_rows(CATALOGUE, Sources(nation("473875"), {}, NATION_ZONES, {}), {}) == [
        ("rer:A", "nation", "473875", "71673", "single-checked")
    ]
    assert stop_area_rows(CATALOGUE, Sources({}, nation("1"), {}, {}), {}) == [
        ("rer:A", "nation", "1", "71673", "single")
    ]


def test_long_names_split_in_two_become_one_alias() -> None:
    row = gare("Porte de Clichy", "473477", "71545", "C01384") | {"nom_so_gar": "Tribunal de Paris"}
    catalogue = CatalogueStations(
        names={"porte-de-clichy": "Porte de Clichy"}, line_ids={}, stations_on={"metro:14": ["porte-de-clichy"]}
    )

    assert station_aliases(catalogue, [{("metro:14", "porte-de-clichy"): row}]) == {
        "porte-de-clichy": ["Porte de Clichy - Tribunal de Paris"]
    }
