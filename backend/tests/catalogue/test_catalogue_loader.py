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


def test_bad_colour_names_the_csv_line(data_dir: Path) -> None:
    _replace_text(data_dir / "lines.csv", "FFCD00", "yellow")
    with pytest.raises(CatalogueDataError, match=r"lines\.csv: line 2 \(metro:1\): colour_hex"):
        load_catalogue(data_dir)


def test_bad_idfm_line_id_is_rejected(data_dir: Path) -> None:
    _replace_text(data_dir / "lines.csv", "C01371", "1371")
    with pytest.raises(CatalogueDataError, match=r"lines\.csv: line 2 \(metro:1\): idfm_line_id '1371'"):
        load_catalogue(data_dir)


def test_duplicate_line_is_rejected(data_dir: Path) -> None:
    lines_csv = data_dir / "lines.csv"
    first_line = lines_csv.read_text(encoding="utf-8").splitlines()[1]
    with lines_csv.open("a", encoding="utf-8") as handle:
        handle.write(first_line.replace("C01371", "C09999") + "\n")
    with pytest.raises(CatalogueDataError, match=r"lines\.csv: duplicate line 'metro:1'"):
        load_catalogue(data_dir)


def test_wrong_csv_header_is_rejected(data_dir: Path) -> None:
    _replace_text(data_dir / "bus_lines.csv", "code,name,idfm_line_id", "code,label,idfm_line_id")
    with pytest.raises(CatalogueDataError, match=r"bus_lines\.csv: header must be code,name,idfm_line_id"):
        load_catalogue(data_dir)


def test_bad_bus_code_names_the_csv_line(data_dir: Path) -> None:
    _replace_text(data_dir / "bus_lines.csv", "\n20,Bus 20,", "\nvingt,Bus 20,")
    with pytest.raises(CatalogueDataError, match=r"bus_lines\.csv: line 2 \(bus:vingt\)"):
        load_catalogue(data_dir)


def test_missing_file_is_named(data_dir: Path) -> None:
    (data_dir / "stations.json").unlink()
    with pytest.raises(CatalogueDataError, match=r"stations\.json: cannot read"):
        load_catalogue(data_dir)


def test_rail_line_without_routes_file_loads_without_station_data(data_dir: Path) -> None:
    (data_dir / "routes" / "tram-T14.json").unlink()
    catalogue = load_catalogue(data_dir)
    assert not catalogue.get("tram:T14").has_station_data
    assert catalogue.get("tram:T14") not in catalogue.schedulable_lines()
    assert catalogue.stations_for("tram:T14") == []
