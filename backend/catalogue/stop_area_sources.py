"""Rebuilds `data/stop_areas.csv` and the stations' `aliases` from IDFM open-data exports, so the shipped ids can be
checked and refreshed rather than trusted (provenance and figures: `data/README.md`).

    python -m backend.catalogue.stop_area_sources GARES_2025.csv GARES_2024.csv ARRETS.json [--check]

The inputs are the files named in the README's provenance table: two snapshots of `emplacement-des-gares-idf`
(CSV, `;`-separated, either header spelling) and the rail stops of `arrets` (JSON). Nothing here touches the
network; `--check` reports whether the shipped files already say what the inputs say, without writing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
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


def stop_area_rows(
    catalogue: CatalogueStations,
    newer: dict[tuple[str, str], dict[str, str]],
    older: dict[tuple[str, str], dict[str, str]],
    rail_zdas: dict[str, set[str]],
    aliases: dict[str, list[str]],
) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for line_id in sorted(catalogue.stations_on):
        for station_id in catalogue.stations_on[line_id]:
            new, old = newer.get((line_id, station_id)), older.get((line_id, station_id))
            if new and old:
                zda = new["id_ref_zda"] if new["id_ref_zda"] == old["id_ref_zda"] else ""
                zdc = new["id_ref_zdc"] if new["id_ref_zdc"] == old["id_ref_zdc"] else ""
                source = "gares-x2"
                if line_id.startswith("rer:"):  # arrets lists rail stops only, so it speaks for RER lines alone
                    names = [catalogue.names[station_id], *aliases.get(station_id, ())]
                    if (line_id, station_id) in RENAMED:
                        names.append(RENAMED[(line_id, station_id)])
                    rail = set().union(*(rail_zdas.get(normalise_name(name), set()) for name in names))
                    either = {new["id_ref_zda"], old["id_ref_zda"]} & rail
                    if zda and zda in rail:
                        source = "gares-x3"
                    elif not zda and len(either) == 1:
                        zda, source = either.pop(), "gares-arrets"
                if not zda and not zdc:
                    continue
            elif new or old:
                row = new or old
                assert row is not None
                zda, zdc = row["id_ref_zda"], row["id_ref_zdc"]
                source = "gares-2025" if new else "gares-2024"
            else:
                continue
            rows.append((line_id, station_id, zda, zdc, source))
    return rows


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
    parser.add_argument("arrets", type=Path, help="arrets, rail stops (JSON)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="only say whether the shipped files are up to date")
    args = parser.parse_args(argv)

    catalogue = read_catalogue(args.data_dir)
    newer = match_rows(catalogue, read_gares(args.gares_newer))
    older = match_rows(catalogue, read_gares(args.gares_older))
    aliases = station_aliases(catalogue, (newer, older))
    rows = stop_area_rows(catalogue, newer, older, read_rail_zdas(args.arrets), aliases)
    outputs = {
        args.data_dir / "stop_areas.csv": render_csv(rows),
        args.data_dir / "stations.json": render_stations(args.data_dir, aliases),
    }
    stale = [path for path, text in outputs.items() if path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path}: differs from what the sources give", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(outputs[path], encoding="utf-8")
    print(f"{len(rows)} (line, station) rows, {len(aliases)} stations with aliases; rewrote {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
