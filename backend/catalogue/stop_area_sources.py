"""Rebuilds `data/stop_areas.csv` and the stations' `aliases` from IDFM open-data exports, so the shipped ids can be
checked and refreshed rather than trusted (provenance and figures: `data/README.md`).

    python -m backend.catalogue.stop_area_sources GARES_2025.csv GARES_2024.csv ZONES_D_ARRETS.csv ARRETS.json [--check]

The inputs are the files named in the README's provenance table: two snapshots of `emplacement-des-gares-idf`
(CSV, `;`-separated, either header spelling), `zones-d-arrets` (CSV) and the rail stops of `arrets` (JSON).
Nothing here touches the network; `--check` reports whether the shipped files already say what the inputs say,
without writing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from backend.catalogue.loader import DATA_DIR, STOP_AREA_COLUMNS
from backend.catalogue.names import normalise_name

# Catalogue stations whose reference name differs beyond accents and punctuation; each was matched by hand, one
# leftover reference row against one leftover station of the same line (listed in data/README.md).
RENAMED: dict[tuple[str, str], str] = {
    ("rer:D", "evry-val-de-seine"): "Évry",
    ("rer:D", "le-bras-de-fer-evry-genopole"): "Le Bras-de-Fer",
    ("tram:T1", "gare-de-saint-denis"): "Saint-Denis",
    ("tram:T8", "gare-de-saint-denis"): "Saint-Denis",
    ("tram:T10", "la-vallee"): "LaVallée",
    ("tram:T3b", "ella-fitzgerald-grands-moulins-de-pantin"): "Ella Fitzgerald",
    ("tram:T3b", "marguerite-long"): "Porte d'Asnières",
    ("tram:T6", "hotel-de-ville-de-velizy"): "Mairie de Vélizy",
    ("tram:T7", "athis-mons-porte-de-l-essonne"): "Porte de l'Essonne",
}
NAME_FIELDS = ("nom_gares", "nom_long", "nom_zda", "nom_zdc", "nom_iv")
NOT_A_NAME = "NC"  # the reference's "no name" marker in nom_zdc


@dataclass(frozen=True)
class CatalogueStations:
    names: dict[str, str]  # station id -> name
    line_ids: dict[str, str]  # line id -> IDFM line id (C0xxxx)
    stations_on: dict[str, list[str]]  # line id -> station ids in route order


def read_catalogue(data_dir: Path) -> CatalogueStations:
    stations = json.loads((data_dir / "stations.json").read_text(encoding="utf-8"))["stations"]
    with (data_dir / "lines.csv").open(encoding="utf-8", newline="") as handle:
        line_ids = {f"{row['network']}:{row['code']}": row["idfm_line_id"] for row in csv.DictReader(handle)}
    stations_on: dict[str, list[str]] = {}
    for path in sorted((data_dir / "routes").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        ordered = (station_id for route in document["routes"] for station_id in route["stations"])
        stations_on[document["line"]] = list(dict.fromkeys(ordered))
    return CatalogueStations(
        names={station_id: fields["name"] for station_id, fields in stations.items()},
        line_ids=line_ids,
        stations_on=stations_on,
    )


def read_gares(path: Path) -> dict[str, list[dict[str, str]]]:
    """`emplacement-des-gares-idf` rows by IDFM line id, with lower-case column names (2024 spells `id_ref_ZdA`)."""
    by_line: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            fields = {key.lower(): (value or "").replace("\u200b", "").strip() for key, value in row.items() if key}
            fields.setdefault("nom_gares", fields.get("nom_long", ""))
            by_line[fields["idrefligc"]].append(fields)
    return by_line


def read_rail_zdas(path: Path) -> dict[str, set[str]]:
    """ZdA ids of the rail stops of IDFM's `arrets`, by normalised stop name."""
    found: dict[str, set[str]] = defaultdict(set)
    for stop in json.loads(path.read_text(encoding="utf-8")):
        if stop.get("arrtype") == "rail" and stop.get("zdaid"):
            found[normalise_name(stop["arrname"])].add(str(stop["zdaid"]))
    return found


def _names(row: dict[str, str], fields: Iterable[str]) -> set[str]:
    return {normalise_name(row[field]) for field in fields if row.get(field) and row[field] != NOT_A_NAME}


def match_rows(
    catalogue: CatalogueStations, gares: dict[str, list[dict[str, str]]]
) -> dict[tuple[str, str], dict[str, str]]:
    """The reference row of each (line, station): by station name first, else by ZdA/ZdC name; none if ambiguous."""
    matched: dict[tuple[str, str], dict[str, str]] = {}
    for line_id, station_ids in catalogue.stations_on.items():
        candidates = gares.get(catalogue.line_ids[line_id], [])
        for station_id in station_ids:
            key = normalise_name(RENAMED.get((line_id, station_id), catalogue.names[station_id]))
            for fields in (("nom_gares", "nom_iv"), ("nom_zda", "nom_zdc")):
                hits = [row for row in candidates if key in _names(row, fields)]
                if len({(row["id_ref_zda"], row["id_ref_zdc"]) for row in hits}) == 1:
                    matched[(line_id, station_id)] = hits[0]
                if hits:
                    break
    return matched


@dataclass(frozen=True)
class ZoneDArret:
    """One row of IDFM's `zones-d-arrets`: a ZdA, its mode, name and the ZdC it belongs to."""

    zda_id: str
    name: str
    kind: str  # "metroStation", "railStation", "onstreetTram", "onstreetBus"
    zdc_id: str


# The zones-d-arrets type of each network's stops.
ZDA_KIND = {"metro": "metroStation", "rer": "railStation", "tram": "onstreetTram"}


def read_zones_d_arrets(path: Path) -> dict[str, ZoneDArret]:
    zones = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            zones[row["ZdAId"]] = ZoneDArret(row["ZdAId"], row["ZdAName"], row["ZdAType"], row["ZdCId"])
    return zones


@dataclass(frozen=True)
class Sources:
    newer: dict[tuple[str, str], dict[str, str]]  # emplacement-des-gares-idf rows matched to (line, station)
    older: dict[tuple[str, str], dict[str, str]]
    zones: dict[str, ZoneDArret]  # zones-d-arrets by ZdA id
    rail_zdas: dict[str, set[str]]  # arrets' rail ZdAs by normalised stop name


def stop_area_rows(
    catalogue: CatalogueStations, sources: Sources, aliases: dict[str, list[str]]
) -> list[tuple[str, str, str, str, str]]:
    """One (line, station, zda, zdc, source key) row per pair some source places; keys as in data/README.md."""
    rows = []
    for line_id in sorted(catalogue.stations_on):
        network = line_id.partition(":")[0]
        for station_id in catalogue.stations_on[line_id]:
            names = {normalise_name(name) for name in (catalogue.names[station_id], *aliases.get(station_id, ()))}
            if (line_id, station_id) in RENAMED:
                names.add(normalise_name(RENAMED[(line_id, station_id)]))
            # arrets lists rail stops only, so it can contradict an RER line's ZdA and nothing else.
            rail = set().union(*(sources.rail_zdas.get(name, set()) for name in names)) if network == "rer" else set()
            confirmed = partial(_confirmed, zones=sources.zones, kind=ZDA_KIND[network], rail=rail)
            found = [
                (row["id_ref_zda"], row["id_ref_zdc"])
                for row in (sources.newer.get((line_id, station_id)), sources.older.get((line_id, station_id)))
                if row is not None
            ]
            row = _stop_area_row(found, confirmed, sources.zones, names, ZDA_KIND[network])
            if row is not None:
                rows.append((line_id, station_id, *row))
    return rows


def _confirmed(zda: str, zdc: str, *, zones: dict[str, ZoneDArret], kind: str, rail: set[str]) -> bool:
    """zones-d-arrets lists the ZdA with the line's mode and in that ZdC, and arrets (if it knows the stop) agrees."""
    zone = zones.get(zda)
    return zone is not None and zone.kind == kind and zone.zdc_id == zdc and (not rail or zda in rail)


def _stop_area_row(
    found: list[tuple[str, str]],
    confirmed: Callable[[str, str], bool],
    zones: dict[str, ZoneDArret],
    names: set[str],
    kind: str,
) -> tuple[str, str, str] | None:
    if not found:
        return None
    if len(found) == 1:
        zda, zdc = found[0]
        return zda, zdc, "single-checked" if confirmed(zda, zdc) else "single"
    (new_zda, new_zdc), (old_zda, old_zdc) = found
    if found[0] == found[1]:
        if confirmed(new_zda, new_zdc):
            return new_zda, new_zdc, "agreed-3"
        # A ZdA that zones-d-arrets gives another mode (a metro's, on a tram line) is not this line's.
        zone = zones.get(new_zda)
        other_mode = zone is not None and zone.kind != kind
        return ("" if other_mode else new_zda), new_zdc, "agreed-2"
    fitting = [ids for ids in dict.fromkeys(found) if confirmed(*ids)]
    if len(fitting) > 1:
        fitting = [ids for ids in fitting if normalise_name(zones[ids[0]].name) in names]
    if len(fitting) == 1:
        return fitting[0][0], fitting[0][1], "settled"
    zda = new_zda if new_zda == old_zda else ""
    zdc = new_zdc if new_zdc == old_zdc else ""
    return (zda, zdc, "agreed-2") if zda or zdc else None


def station_aliases(
    catalogue: CatalogueStations, matches: Iterable[dict[tuple[str, str], dict[str, str]]]
) -> dict[str, list[str]]:
    """Other names the reference gives each station, minus any that is some station's name or shared by two."""
    names: dict[str, set[str]] = defaultdict(set)
    for matched in matches:
        for (_, station_id), row in matched.items():
            names[station_id] |= {row[field] for field in NAME_FIELDS if row.get(field) and row[field] != NOT_A_NAME}
            if row.get("nom_so_gar") and row.get("nom_gares"):
                names[station_id].add(f"{row['nom_gares']} - {row['nom_so_gar']}")
    own_names = {normalise_name(name) for name in catalogue.names.values()}
    holders: dict[str, set[str]] = defaultdict(set)
    for station_id, values in names.items():
        for value in values:
            holders[normalise_name(value)].add(station_id)
    aliases: dict[str, list[str]] = {}
    for station_id, values in sorted(names.items()):
        chosen: dict[str, str] = {}
        for value in sorted(values):
            key = normalise_name(value)
            if key not in own_names and len(holders[key]) == 1 and key not in chosen:
                chosen[key] = value
        if chosen:
            aliases[station_id] = sorted(chosen.values())
    return aliases


def render_csv(rows: list[tuple[str, str, str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STOP_AREA_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def render_stations(data_dir: Path, aliases: dict[str, list[str]]) -> str:
    document: dict[str, Any] = json.loads((data_dir / "stations.json").read_text(encoding="utf-8"))
    for station_id, fields in document["stations"].items():
        fields.pop("aliases", None)
        if station_id in aliases:
            fields["aliases"] = aliases[station_id]
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("gares_newer", type=Path, help="emplacement-des-gares-idf, newer snapshot (CSV)")
    parser.add_argument("gares_older", type=Path, help="emplacement-des-gares-idf, older snapshot (CSV)")
    parser.add_argument("zones_d_arrets", type=Path, help="zones-d-arrets (CSV)")
    parser.add_argument("arrets", type=Path, help="arrets, rail stops (JSON)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="only say whether the shipped files are up to date")
    args = parser.parse_args(argv)

    catalogue = read_catalogue(args.data_dir)
    newer = match_rows(catalogue, read_gares(args.gares_newer))
    older = match_rows(catalogue, read_gares(args.gares_older))
    aliases = station_aliases(catalogue, (newer, older))
    sources = Sources(newer, older, read_zones_d_arrets(args.zones_d_arrets), read_rail_zdas(args.arrets))
    rows = stop_area_rows(catalogue, sources, aliases)
    outputs = {
        args.data_dir / "stop_areas.csv": render_csv(rows),
        args.data_dir / "stations.json": render_stations(args.data_dir, aliases),
    }
    stale = check_or_write(outputs, check=args.check)
    if args.check:
        return 1 if stale else 0
    print(f"{len(rows)} (line, station) rows, {len(aliases)} stations with aliases; rewrote {len(stale)} file(s)")
    return 0


def check_or_write(outputs: dict[Path, str], *, check: bool) -> list[Path]:
    """The shipped files whose text differs from what the sources give: named on stderr with `check`, else rewritten."""
    stale = [path for path, text in outputs.items() if path.read_text(encoding="utf-8") != text]
    for path in stale:
        if check:
            print(f"{path}: differs from what the sources give", file=sys.stderr)
        else:
            path.write_text(outputs[path], encoding="utf-8")
    return stale


if __name__ == "__main__":
    raise SystemExit(main())
