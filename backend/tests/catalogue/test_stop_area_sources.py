"""The rules that turn IDFM's exports into stop_areas.csv rows and aliases, on small hand-made rows."""

from __future__ import annotations

from backend.catalogue.stop_area_sources import CatalogueStations, match_rows, station_aliases, stop_area_rows

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


def test_snapshots_that_disagree_leave_the_zda_empty_unless_rail_stops_settle_it() -> None:
    newer = {("rer:A", "nation"): gare("Nation", "462358", "71673", "C01742")}
    older = {("rer:A", "nation"): gare("Nation", "473875", "71673", "C01742")}

    assert stop_area_rows(CATALOGUE, newer, older, {}, {}) == [("rer:A", "nation", "", "71673", "gares-x2")]
    assert stop_area_rows(CATALOGUE, newer, older, {"nation": {"473875"}}, {}) == [
        ("rer:A", "nation", "473875", "71673", "gares-arrets")
    ]


def test_agreeing_snapshots_confirmed_by_rail_stops_are_three_way_checked() -> None:
    both = {("rer:A", "nation"): gare("Nation", "473875", "71673", "C01742")}

    assert stop_area_rows(CATALOGUE, both, both, {"nation": {"473875"}}, {}) == [
        ("rer:A", "nation", "473875", "71673", "gares-x3")
    ]
    assert stop_area_rows(CATALOGUE, both, {}, {}, {}) == [("rer:A", "nation", "473875", "71673", "gares-2025")]


def test_long_names_split_in_two_become_one_alias() -> None:
    row = gare("Porte de Clichy", "473477", "71545", "C01384") | {"nom_so_gar": "Tribunal de Paris"}
    catalogue = CatalogueStations(
        names={"porte-de-clichy": "Porte de Clichy"}, line_ids={}, stations_on={"metro:14": ["porte-de-clichy"]}
    )

    assert station_aliases(catalogue, [{("metro:14", "porte-de-clichy"): row}]) == {
        "porte-de-clichy": ["Porte de Clichy - Tribunal de Paris"]
    }
