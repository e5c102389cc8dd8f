"""The shipped IDFM stop area ids (`data/stop_areas.csv`): their format, their stations, their documented provenance,
and the coverage figures the data README states."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pytest

from backend.catalogue import Catalogue, get_catalogue
from backend.catalogue.loader import DATA_DIR, STOP_AREA_SOURCES

README = DATA_DIR / "README.md"
PROVENANCE_ROW = re.compile(r"^\| `(?P<key>[a-z0-9-]+)` \|(?P<rest>.*)$", re.MULTILINE)
ISO_DATE = re.compile(r"\b20\d{2}-\d{2}-\d{2}\b")
# The IDFM exports the rows were built from (data/README.md, "Datasets").
DATASETS = ("gares-2025", "gares-2024", "zones-2024", "arrets-2025")


@dataclass(frozen=True)
class Coverage:
    pairs: int
    stations: int
    zda_pairs: int
    zdc_pairs: int
    zda_stations: int
    zda_stations_on_every_line: int


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return get_catalogue()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with (DATA_DIR / "stop_areas.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def coverage(catalogue: Catalogue) -> Coverage:
    """How many rail (line, station) pairs and distinct stations have a sourced id."""
    lines = catalogue.schedulable_lines()
    pairs = {(line.id, stop.station.id) for line in lines for stop in catalogue.stations_for(line.id)}
    shipped = {
        (line.id, station_id): ids for line in lines for station_id, ids in catalogue.stop_areas(line.id).items()
    }
    with_zda = {pair for pair, ids in shipped.items() if ids.zda_id}
    stations = {station_id for _, station_id in pairs}
    return Coverage(
        pairs=len(pairs),
        stations=len(stations),
        zda_pairs=len(with_zda),
        zdc_pairs=sum(1 for ids in shipped.values() if ids.zdc_id),
        zda_stations=len({station_id for _, station_id in with_zda}),
        zda_stations_on_every_line=sum(
            1 for station in stations if all(pair in with_zda for pair in pairs if pair[1] == station)
        ),
    )


def test_ids_are_digits_and_every_row_has_one(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["zda_id"] or row["zdc_id"], row
        for column in ("zda_id", "zdc_id"):
            assert row[column] == "" or row[column].isdigit(), row


def test_every_row_names_a_station_of_its_line(catalogue: Catalogue, rows: list[dict[str, str]]) -> None:
    for row in rows:
        on_line = {stop.station.id for stop in catalogue.stations_for(row["line_id"])}
        assert row["station_id"] in on_line, row


def test_no_line_and_station_pair_is_listed_twice(rows: list[dict[str, str]]) -> None:
    pairs = [(row["line_id"], row["station_id"]) for row in rows]
    assert len(pairs) == len(set(pairs))


def test_every_source_key_is_documented_with_a_retrieval_date(rows: list[dict[str, str]]) -> None:
    documented = {match["key"]: match["rest"] for match in PROVENANCE_ROW.finditer(README.read_text(encoding="utf-8"))}
    assert set(STOP_AREA_SOURCES) <= set(documented)
    for key in {row["source"] for row in rows}:
        assert key in STOP_AREA_SOURCES, key
        assert ISO_DATE.search(documented[key]), f"provenance row {key!r} has no date"


def test_every_dataset_names_its_repository_path_commit_and_dates() -> None:
    documented = {match["key"]: match["rest"] for match in PROVENANCE_ROW.finditer(README.read_text(encoding="utf-8"))}
    for key in DATASETS:
        assert re.search(r"`[\w.-]+/[\w.-]+`, `[^`]+`", documented[key]), key
        assert re.search(r"`[0-9a-f]{40}`", documented[key]), key
        assert len(ISO_DATE.findall(documented[key])) >= 2, f"{key}: commit date and retrieval date"


def test_a_zda_never_belongs_to_two_stations(catalogue: Catalogue) -> None:
    # One station's lines may have different ZdAs (one per mode), but a ZdA never belongs to two stations.
    owner: dict[str, str] = {}
    for line in catalogue.schedulable_lines():
        for station_id, ids in catalogue.stop_areas(line.id).items():
            if ids.zda_id:
                assert owner.setdefault(ids.zda_id, station_id) == station_id, (line.id, station_id, ids.zda_id)


def test_the_issue_examples_have_sourced_ids(catalogue: Catalogue) -> None:
    assert catalogue.stop_areas("tram:T3b")["marguerite-long"].zda_id == "45496"
    assert catalogue.stop_areas("metro:13")["porte-de-clichy"].zdc_id == "71545"


def test_stop_area_figures_match_the_readme(catalogue: Catalogue) -> None:
    figures = coverage(catalogue)
    print(f"stop area coverage: {figures}")
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert f"of **{figures.pairs}** (line, station) pairs" in text
    assert f"**{figures.zda_pairs}** have a sourced ZdA id and **{figures.zdc_pairs}** a ZdC id" in text
    assert f"of the **{figures.stations}** distinct rail stations, **{figures.zda_stations}** have a ZdA" in text
    assert f"and **{figures.zda_stations_on_every_line}** on all of them" in text


def test_every_zda_but_the_newest_is_confirmed_by_a_second_idfm_dataset(rows: list[dict[str, str]]) -> None:
    unconfirmed = {(row["line_id"], row["station_id"]) for row in rows if row["source"] in ("agreed-2", "single")}
    with_zda = {(row["line_id"], row["station_id"]) for row in rows if row["zda_id"]}
    # T14 (2024) is newer than the zones-d-arrets snapshot; the agreed-2 rows ship no ZdA at all.
    assert unconfirmed & with_zda == {pair for pair in with_zda if pair[0] == "tram:T14"}
