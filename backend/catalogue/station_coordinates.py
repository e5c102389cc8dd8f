"""Rebuilds the stations' coordinates (`lat`/`lon` in `data/stations.json`) from IDFM's `emplacement-des-gares-idf`
export, so they can be checked and refreshed rather than trusted (provenance and figures: `data/README.md`).

    python -m backend.catalogue.station_coordinates GARES_NEWER.csv GARES_OLDER.csv [--check]

A station's point is the mean of the `geo_point_2d` of the reference rows matched to it (one row per line calling
there, matched as `stop_area_sources` matches them: by line id and name), from the newer snapshot, or from the older
one for a station the newer does not place. Nothing here touches the network; `--check` reports whether the shipped
file already says what the inputs say, without writing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from backend.catalogue.loader import DATA_DIR
from backend.catalogue.stop_area_sources import check_or_write, match_rows, read_catalogue, read_gares

# Six decimals of a degree are about 10 cm: more than the reference's own precision.
DECIMALS = 6
POINT_FIELDS = ("geo_point_2d", "geo point")


def _point(row: dict[str, str]) -> tuple[float, float] | None:
    """(lat, lon) of a reference row: `geo_point_2d` (2025 spelling) or `Geo Point` (2024), "48.84, 2.30"."""
    for field in POINT_FIELDS:
        value = row.get(field)
        if value:
            lat_text, _, lon_text = value.partition(",")
            return float(lat_text), float(lon_text)
    return None


def station_points(matches: list[dict[tuple[str, str], dict[str, str]]]) -> dict[str, tuple[float, float]]:
    """(lat, lon) per station id: the mean of its rows' points in the first snapshot that places it."""
    points: dict[str, tuple[float, float]] = {}
    for matched in matches:
        found: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for (_, station_id), row in matched.items():
            point = _point(row)
            if point is not None:
                found[station_id].append(point)
        for station_id, located in found.items():
            if station_id not in points:
                lat = sum(point[0] for point in located) / len(located)
                lon = sum(point[1] for point in located) / len(located)
                points[station_id] = (round(lat, DECIMALS), round(lon, DECIMALS))
    return points


def render_stations(data_dir: Path, points: dict[str, tuple[float, float]]) -> str:
    document: dict[str, Any] = json.loads((data_dir / "stations.json").read_text(encoding="utf-8"))
    for station_id, fields in document["stations"].items():
        fields.pop("lat", None)
        fields.pop("lon", None)
        if station_id in points:
            fields["lat"], fields["lon"] = points[station_id]
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("gares_newer", type=Path, help="emplacement-des-gares-idf, newer snapshot (CSV)")
    parser.add_argument("gares_older", type=Path, help="emplacement-des-gares-idf, older snapshot (CSV)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="only say whether stations.json is up to date")
    args = parser.parse_args(argv)

    catalogue = read_catalogue(args.data_dir)
    matches = [match_rows(catalogue, read_gares(path)) for path in (args.gares_newer, args.gares_older)]
    points = station_points(matches)
    target = args.data_dir / "stations.json"
    text = render_stations(args.data_dir, points)
    missing = sorted(set(catalogue.names) - set(points))
    if missing:
        print(f"{len(missing)} station(s) without coordinates: {', '.join(missing)}", file=sys.stderr)
    stale = check_or_write({target: text}, check=args.check)
    if args.check:
        return 1 if stale else 0
    print(f"{len(points)} of {len(catalogue.names)} stations placed; rewrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
