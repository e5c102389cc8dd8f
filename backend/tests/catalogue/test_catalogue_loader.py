"""Loading broken data files: every problem fails loudly, naming the file and the entry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.catalogue import CatalogueDataError, load_catalogue
from backend.catalogue.loader import DATA_DIR


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def _edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def _replace_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_copy_of_the_shipped_data_loads(data_dir: Path) -> None:
    assert load_catalogue(data_dir).get("metro:1").has_station_data


def test_unknown_station_in_a_route_names_file_route_and_station(data_dir: Path) -> None:
    _edit_json(data_dir / "routes" / "metro-1.json", lambda doc: doc["routes"][0]["stations"].append("atlantis"))
    with pytest.raises(CatalogueDataError, match=r"metro-1\.json: route 0 .*unknown station id 'atlantis'"):
        load_catalogue(data_dir)


def test_station_listed_twice_in_a_route_is_rejected(data_dir: Path) -> None:
    _edit_json(data_dir / "routes" / "metro-2.json", lambda doc: doc["routes"][0]["stations"].append("nation"))
    with pytest.raises(CatalogueDataError, match=r"metro-2\.json: route 0 .*'nation' listed twice"):
        load_catalogue(data_dir)


def test_route_of_one_station_is_rejected(data_dir: Path) -> None:
    _edit_json(data_dir / "routes" / "metro-3bis.json", lambda doc: doc["routes"][0].update(stations=["gambetta"]))
    with pytest.raises(CatalogueDataError, match=r"metro-3bis\.json: route 0 .*at least 2"):
        load_catalogue(data_dir)


def test_routes_file_for_another_line_is_rejected(data_dir: Path) -> None:
    _edit_json(data_dir / "routes" / "rer-A.json", lambda doc: doc.update(line="rer:B"))
    with pytest.raises(CatalogueDataError, match=r"rer-A\.json: 'line' must be 'rer:A'"):
        load_catalogue(data_dir)


def test_routes_file_without_a_line_in_lines_csv_is_rejected(data_dir: Path) -> None:
    shutil.copy(data_dir / "routes" / "metro-1.json", data_dir / "routes" / "metro-15.json")
    with pytest.raises(CatalogueDataError, match=r"metro-15\.json"):
        load_catalogue(data_dir)


def test_invalid_json_names_the_file(data_dir: Path) -> None:
    (data_dir / "routes" / "tram-T3a.json").write_text('{"line": "tram:T3a",', encoding="utf-8")
    with pytest.raises(CatalogueDataError, match=r"tram-T3a\.json: invalid JSON"):
        load_catalogue(data_dir)


def test_station_id_that_is_not_a_slug_is_rejected(data_dir: Path) -> None:
    _edit_json(data_dir / "stations.json", lambda doc: doc["stations"].update({"Gare_Du_Nord": {"name": "X"}}))
    with pytest.raises(CatalogueDataError, match=r"stations\.json: station 'Gare_Du_Nord': id must be"):
        load_catalogue(data_dir)


def test_station_without_a_name_is_rejected(data_dir: Path) -> None:
    _edit_json(data_dir / "stations.json", lambda doc: doc["stations"]["nation"].pop("name"))
    with pytest.raises(CatalogueDataError, match=r"stations\.json: station 'nation': 'name'"):
        load_catalogue(data_dir)


def test_out_of_range_coordinate_is_rejected(data_dir: Path) -> None:
    _edit_json(data_dir / "stations.json", lambda doc: doc["stations"]["nation"].update(lat=148.8))
    with pytest.raises(CatalogueDataError, match=r"station 'nation': 'lat'"):
        load_catalogue(data_dir)


@pytest.mark.parametrize(
    ("file_name", "old", "new", "message"),
    [
        pytest.param("lines.csv", "FFCD00", "yellow", r"lines\.csv: line 2 \(metro:1\): colour_hex", id="bad-colour"),
        pytest.param(
            "lines.csv", "C01371", "1371", r"lines\.csv: line 2 \(metro:1\): idfm_line_id '1371'", id="bad-idfm-id"
        ),
        pytest.param(
            "bus_lines.csv",
            "code,name,idfm_line_id",
            "code,label,idfm_line_id",
            r"bus_lines\.csv: header must be code,name,idfm_line_id",
            id="wrong-header",
        ),
        pytest.param(
            "bus_lines.csv",
            "\n20,Bus 20,",
            "\nvingt,Bus 20,",
            r"bus_lines\.csv: line 2 \(bus:vingt\)",
            id="bad-bus-code",
        ),
    ],
)
def test_a_bad_csv_value_names_the_file_and_line(
    data_dir: Path, file_name: str, old: str, new: str, message: str
) -> None:
    _replace_text(data_dir / file_name, old, new)
    with pytest.raises(CatalogueDataError, match=message):
        load_catalogue(data_dir)


def test_duplicate_line_is_rejected(data_dir: Path) -> None:
    lines_csv = data_dir / "lines.csv"
    first_line = lines_csv.read_text(encoding="utf-8").splitlines()[1]
    with lines_csv.open("a", encoding="utf-8") as handle:
        handle.write(first_line.replace("C01371", "C09999") + "\n")
    with pytest.raises(CatalogueDataError, match=r"lines\.csv: duplicate line 'metro:1'"):
        load_catalogue(data_dir)


def test_missing_file_is_named(data_dir: Path) -> None:
    (data_dir / "stations.json").unlink()
    with pytest.raises(CatalogueDataError, match=r"stations\.json: cannot read"):
        load_catalogue(data_dir)


def test_rail_line_without_routes_file_loads_without_station_data(data_dir: Path) -> None:
    (data_dir / "routes" / "tram-T14.json").unlink()
    _drop_stop_area_rows(data_dir, "tram:T14")
    catalogue = load_catalogue(data_dir)
    assert not catalogue.get("tram:T14").has_station_data
    assert catalogue.get("tram:T14") not in catalogue.schedulable_lines()
    assert catalogue.stations_for("tram:T14") == []


def _drop_stop_area_rows(data_dir: Path, line_id: str) -> None:
    path = data_dir / "stop_areas.csv"
    kept = [row for row in path.read_text(encoding="utf-8").splitlines() if not row.startswith(f"{line_id},")]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


def _append_stop_area(data_dir: Path, row: str) -> None:
    with (data_dir / "stop_areas.csv").open("a", encoding="utf-8") as handle:
        handle.write(row + "\n")


def test_shipped_stop_areas_are_read_by_line_and_station(data_dir: Path) -> None:
    areas = load_catalogue(data_dir).stop_areas("tram:T3b")
    assert areas["marguerite-long"].zda_id == "45496"
    assert areas["marguerite-long"].zdc_id == "71505"


def test_catalogue_without_a_stop_areas_file_ships_none(data_dir: Path) -> None:
    (data_dir / "stop_areas.csv").unlink()
    assert load_catalogue(data_dir).stop_areas("metro:1") == {}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("metro:1,chatelet,STIF:StopArea:SP:1:,,agreed-3", r"zda_id 'STIF:StopArea:SP:1:' must be digits only"),
        ("metro:1,chatelet,,71264a,agreed-3", r"zdc_id '71264a' must be digits only"),
        ("metro:1,gare-du-nord,1234,,agreed-3", r"station 'gare-du-nord' is not on metro:1"),
        ("metro:1,atlantis,1234,,agreed-3", r"station 'atlantis' is not on metro:1"),
        ("bus:38,chatelet,1234,,agreed-3", r"'bus:38' is not a rail line with stations"),
        ("metro:1,chatelet,1234,,memory", r"source 'memory' is not one of agreed-3"),
        ("metro:1,chatelet,,,agreed-3", r"neither zda_id nor zdc_id is given"),
    ],
)
def test_bad_stop_area_row_names_file_line_and_entry(data_dir: Path, row: str, message: str) -> None:
    _drop_stop_area_rows(data_dir, "metro:1")
    _append_stop_area(data_dir, row)
    with pytest.raises(CatalogueDataError, match=r"stop_areas\.csv: line \d+ \(.*\): " + message):
        load_catalogue(data_dir)


def test_stop_area_pair_listed_twice_is_rejected(data_dir: Path) -> None:
    _append_stop_area(data_dir, "tram:T3b,marguerite-long,45496,71505,agreed-3")
    with pytest.raises(CatalogueDataError, match=r"stop_areas\.csv: line \d+ \(tram:T3b marguerite-long\): .*twice"):
        load_catalogue(data_dir)


def test_station_aliases_are_loaded(data_dir: Path) -> None:
    _edit_json(data_dir / "stations.json", lambda doc: doc["stations"]["nation"].update(aliases=["Nation (Paris)"]))
    assert load_catalogue(data_dir).station("nation").aliases == ("Nation (Paris)",)


@pytest.mark.parametrize("aliases", ["Nation", [""], ["NATION"], ["Place de la Nation", "place de la nation"]])
def test_bad_station_aliases_are_rejected(data_dir: Path, aliases: object) -> None:
    _edit_json(data_dir / "stations.json", lambda doc: doc["stations"]["nation"].update(aliases=aliases))
    with pytest.raises(CatalogueDataError, match=r"stations\.json: station 'nation': .*alias"):
        load_catalogue(data_dir)
