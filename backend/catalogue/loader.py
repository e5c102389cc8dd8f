"""Reading and validating the catalogue's data files (`data/`): lines.csv, bus_lines.csv, stations.json, routes/,
stop_areas.csv.

Every problem is reported as a `CatalogueDataError` that names the file and the entry, so a bad edit fails at start-up
rather than as a missing station later.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from backend.catalogue.colours import canonical_colour
from backend.catalogue.models import CatalogueDataError, Line, Network, Station, StopAreaIds
from backend.catalogue.names import is_slug, normalise_name

DATA_DIR = Path(__file__).resolve().parent / "data"

LINE_COLUMNS = ("network", "code", "name", "idfm_line_id", "colour_hex", "text_colour_hex", "operator", "notes")
BUS_COLUMNS = ("code", "name", "idfm_line_id", "colour_hex", "text_colour_hex", "operator", "source")
# Keys of the bus provenance table in data/README.md (written by bus_line_sources).
BUS_SOURCES = ("agreed-2", "newer")
STOP_AREA_COLUMNS = ("line_id", "station_id", "zda_id", "zdc_id", "source")
# Keys of the provenance table in data/README.md; a row of stop_areas.csv must name one of them.
STOP_AREA_SOURCES = ("agreed-3", "settled", "agreed-2", "single-checked", "single")
RAIL_NETWORKS: tuple[Network, ...] = ("metro", "rer", "tram")


IDFM_LINE_ID = re.compile(r"^C\d{5}$")
IDFM_STOP_NUMBER = re.compile(r"^\d{1,9}$")
CODE_PATTERNS: dict[Network, re.Pattern[str]] = {
    "metro": re.compile(r"^\d{1,2}(?:bis)?$"),
    "rer": re.compile(r"^[A-E]$"),
    "tram": re.compile(r"^T\d{1,2}[ab]?$"),
    "bus": re.compile(r"^(?:N\d{2,3}|\d{2,3}[A-Z]?)$"),
}


@dataclass(frozen=True)
class Route:
    """One terminus-to-terminus run of a line; direction "A" is `station_ids` in order, "R" reversed."""

    name: str
    station_ids: tuple[str, ...]


@dataclass(frozen=True)
class CatalogueData:
    lines: tuple[Line, ...]
    stations: dict[str, Station]
    routes: dict[str, tuple[Route, ...]]  # by line id; bus lines have none
    route_notes: dict[str, str]
    stop_areas: dict[str, dict[str, StopAreaIds]]  # by line id, then station id


def routes_file_name(network: str, code: str) -> str:
    return f"{network}-{code}.json"


def load_data(data_dir: Path = DATA_DIR) -> CatalogueData:
    stations = _read_stations(data_dir / "stations.json")
    rail_lines = _read_rail_lines(data_dir / "lines.csv")
    routes, notes = _read_routes(data_dir / "routes", rail_lines, stations)
    bus_lines = _read_bus_lines(data_dir / "bus_lines.csv")
    lines = tuple(
        Line(
            id=line.id,
            network=line.network,
            code=line.code,
            name=line.name,
            idfm_line_id=line.idfm_line_id,
            colour=line.colour,
            text_colour=line.text_colour,
            operator=line.operator,
            has_station_data=line.id in routes,
        )
        for line in rail_lines
    )
    all_lines = lines + bus_lines
    _check_unique([line.id for line in all_lines], data_dir / "bus_lines.csv", "line id")
    _check_unique([line.idfm_line_id for line in all_lines if line.idfm_line_id], data_dir, "idfm_line_id")
    stop_areas = _read_stop_areas(data_dir / "stop_areas.csv", routes)
    return CatalogueData(lines=all_lines, stations=stations, routes=routes, route_notes=notes, stop_areas=stop_areas)


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != columns:
                raise CatalogueDataError(f"{path}: header must be {','.join(columns)}, got {reader.fieldnames}")
            rows = []
            for row in reader:
                if None in row or any(value is None for value in row.values()):
                    raise CatalogueDataError(f"{path}: line {reader.line_num}: expected {len(columns)} columns")
                rows.append({key: value.strip() for key, value in row.items()})
            return rows
    except OSError as error:
        raise CatalogueDataError(f"{path}: cannot read: {error}") from error


def _read_rail_lines(path: Path) -> list[Line]:
    lines = []
    for number, row in enumerate(_read_csv(path, LINE_COLUMNS), start=2):
        entry = f"{path}: line {number} ({row['network']}:{row['code']})"
        rail_network = next((network for network in RAIL_NETWORKS if network == row["network"]), None)
        if rail_network is None:
            raise CatalogueDataError(f"{entry}: network must be one of {', '.join(RAIL_NETWORKS)}")
        if not CODE_PATTERNS[rail_network].fullmatch(row["code"]):
            raise CatalogueDataError(f"{entry}: code {row['code']!r} is not a {rail_network} line code")
        if not row["name"]:
            raise CatalogueDataError(f"{entry}: name is empty")
        lines.append(
            Line(
                id=f"{rail_network}:{row['code']}",
                network=rail_network,
                code=row["code"],
                name=row["name"],
                idfm_line_id=_idfm_line_id(row["idfm_line_id"], entry),
                colour=_colour(row["colour_hex"], entry, "colour_hex"),
                text_colour=_colour(row["text_colour_hex"], entry, "text_colour_hex"),
                operator=row["operator"] or None,
                has_station_data=False,
            )
        )
    _check_unique([line.id for line in lines], path, "line")
    return lines


def _read_bus_lines(path: Path) -> tuple[Line, ...]:
    lines = []
    for number, row in enumerate(_read_csv(path, BUS_COLUMNS), start=2):
        entry = f"{path}: line {number} (bus:{row['code']})"
        if not CODE_PATTERNS["bus"].fullmatch(row["code"]):
            raise CatalogueDataError(f"{entry}: code {row['code']!r} is not a bus line code")
        if not row["name"]:
            raise CatalogueDataError(f"{entry}: name is empty")
        idfm_line_id = _idfm_line_id(row["idfm_line_id"], entry)
        if idfm_line_id is None:
            raise CatalogueDataError(f"{entry}: idfm_line_id is empty; a bus line's stops and departures need it")
        if row["source"] not in BUS_SOURCES:
            raise CatalogueDataError(
                f"{entry}: source {row['source']!r} is not one of {', '.join(BUS_SOURCES)} (see data/README.md)"
            )
        lines.append(
            Line(
                id=f"bus:{row['code']}",
                network="bus",
                code=row["code"],
                name=row["name"],
                idfm_line_id=idfm_line_id,
                colour=_colour(row["colour_hex"], entry, "colour_hex"),
                text_colour=_colour(row["text_colour_hex"], entry, "text_colour_hex"),
                operator=row["operator"] or None,
                has_station_data=False,
            )
        )
    _check_unique([line.id for line in lines], path, "line")
    return tuple(lines)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as error:
        raise CatalogueDataError(f"{path}: cannot read: {error}") from error
    except json.JSONDecodeError as error:
        raise CatalogueDataError(f"{path}: invalid JSON: {error}") from error
    if not isinstance(document, dict):
        raise CatalogueDataError(f"{path}: top level must be an object")
    return cast(dict[str, Any], document)


def _read_stations(path: Path) -> dict[str, Station]:
    entries = _read_json(path).get("stations")
    if not isinstance(entries, dict) or not entries:
        raise CatalogueDataError(f"{path}: 'stations' must be a non-empty object of station id -> station")
    stations = {}
    for station_id, fields in entries.items():
        entry = f"{path}: station {station_id!r}"
        if not is_slug(station_id):
            raise CatalogueDataError(f"{entry}: id must be a lowercase ASCII slug like 'chatelet-les-halles'")
        if not isinstance(fields, dict):
            raise CatalogueDataError(f"{entry}: must be an object with 'name' and 'town'")
        unknown = set(fields) - {"name", "town", "lat", "lon", "aliases"}
        if unknown:
            raise CatalogueDataError(f"{entry}: unknown fields {sorted(unknown)}")
        name, town = fields.get("name"), fields.get("town")
        if not isinstance(name, str) or not name.strip():
            raise CatalogueDataError(f"{entry}: 'name' must be a non-empty string")
        if town is not None and (not isinstance(town, str) or not town.strip()):
            raise CatalogueDataError(f"{entry}: 'town' must be a non-empty string or absent")
        stations[station_id] = Station(
            id=station_id,
            name=name,
            town=town,
            lat=_coordinate(fields.get("lat"), -90, 90, f"{entry}: 'lat'"),
            lon=_coordinate(fields.get("lon"), -180, 180, f"{entry}: 'lon'"),
            aliases=_aliases(fields.get("aliases", []), name, entry),
        )
    return stations


def _aliases(value: object, name: str, entry: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(alias, str) and alias.strip() for alias in value):
        raise CatalogueDataError(f"{entry}: 'aliases' must be a list of non-empty strings")
    seen = {normalise_name(name)}
    for alias in value:
        if normalise_name(alias) in seen:
            raise CatalogueDataError(f"{entry}: alias {alias!r} repeats the name or another alias")
        seen.add(normalise_name(alias))
    return tuple(value)


def _read_routes(
    routes_dir: Path, lines: list[Line], stations: dict[str, Station]
) -> tuple[dict[str, tuple[Route, ...]], dict[str, str]]:
    expected = {routes_file_name(line.network, line.code): line for line in lines}
    present = {path.name for path in routes_dir.glob("*.json")} if routes_dir.is_dir() else set()
    strays = sorted(present - expected.keys())
    if strays:
        raise CatalogueDataError(f"{routes_dir}: routes files for lines not in lines.csv: {', '.join(strays)}")
    routes: dict[str, tuple[Route, ...]] = {}
    notes: dict[str, str] = {}
    for file_name, line in expected.items():
        if file_name not in present:
            # A line listed before its stations are written is allowed: it simply has no station data yet.
            continue
        path = routes_dir / file_name
        document = _read_json(path)
        if document.get("line") != line.id:
            raise CatalogueDataError(f"{path}: 'line' must be {line.id!r}, got {document.get('line')!r}")
        unknown = set(document) - {"line", "routes", "notes"}
        if unknown:
            raise CatalogueDataError(f"{path}: unknown fields {sorted(unknown)}")
        note = document.get("notes")
        if note is not None:
            if not isinstance(note, str):
                raise CatalogueDataError(f"{path}: 'notes' must be a string")
            notes[line.id] = note
        routes[line.id] = _parse_routes(path, document.get("routes"), stations)
    return routes, notes


def _parse_routes(path: Path, entries: object, stations: dict[str, Station]) -> tuple[Route, ...]:
    if not isinstance(entries, list) or not entries:
        raise CatalogueDataError(f"{path}: 'routes' must be a non-empty list")
    routes = []
    for index, entry in enumerate(entries):
        where = f"{path}: route {index}"
        if not isinstance(entry, dict) or set(entry) != {"name", "stations"}:
            raise CatalogueDataError(f"{where}: must be an object with exactly 'name' and 'stations'")
        name, station_ids = entry["name"], entry["stations"]
        if not isinstance(name, str) or not name.strip():
            raise CatalogueDataError(f"{where}: 'name' must be a non-empty string")
        where = f"{path}: route {index} ({name})"
        if not isinstance(station_ids, list) or len(station_ids) < 2:
            raise CatalogueDataError(f"{where}: 'stations' must list at least 2 station ids")
        seen: set[str] = set()
        for station_id in station_ids:
            if not isinstance(station_id, str) or station_id not in stations:
                raise CatalogueDataError(f"{where}: unknown station id {station_id!r}")
            if station_id in seen:
                raise CatalogueDataError(f"{where}: station {station_id!r} listed twice")
            seen.add(station_id)
        routes.append(Route(name=name, station_ids=tuple(station_ids)))
    return tuple(routes)


def _read_stop_areas(path: Path, routes: dict[str, tuple[Route, ...]]) -> dict[str, dict[str, StopAreaIds]]:
    """IDFM stop area ids by line and station; a data directory without the file simply ships none."""
    if not path.exists():
        return {}
    by_line: dict[str, dict[str, StopAreaIds]] = {}
    for number, row in enumerate(_read_csv(path, STOP_AREA_COLUMNS), start=2):
        line_id, station_id = row["line_id"], row["station_id"]
        entry = f"{path}: line {number} ({line_id} {station_id})"
        line_routes = routes.get(line_id)
        if line_routes is None:
            raise CatalogueDataError(f"{entry}: {line_id!r} is not a rail line with stations")
        if not any(station_id in route.station_ids for route in line_routes):
            raise CatalogueDataError(f"{entry}: station {station_id!r} is not on {line_id}")
        ids = {column: row[column] or None for column in ("zda_id", "zdc_id")}
        for column, value in ids.items():
            if value is not None and not IDFM_STOP_NUMBER.fullmatch(value):
                raise CatalogueDataError(f"{entry}: {column} {value!r} must be digits only, like '43135'")
        if ids["zda_id"] is None and ids["zdc_id"] is None:
            raise CatalogueDataError(f"{entry}: neither zda_id nor zdc_id is given")
        if row["source"] not in STOP_AREA_SOURCES:
            raise CatalogueDataError(
                f"{entry}: source {row['source']!r} is not one of {', '.join(STOP_AREA_SOURCES)} (see data/README.md)"
            )
        line_areas = by_line.setdefault(line_id, {})
        if station_id in line_areas:
            raise CatalogueDataError(f"{entry}: {line_id} {station_id} is listed twice")
        line_areas[station_id] = StopAreaIds(
            station_id=station_id, zda_id=ids["zda_id"], zdc_id=ids["zdc_id"], source=row["source"]
        )
    return by_line


def _idfm_line_id(value: str, entry: str) -> str | None:
    if not value:
        return None
    if not IDFM_LINE_ID.fullmatch(value):
        raise CatalogueDataError(f"{entry}: idfm_line_id {value!r} must look like 'C01371'")
    return value


def _colour(value: str, entry: str, column: str) -> str:
    try:
        return canonical_colour(value)
    except ValueError as error:
        raise CatalogueDataError(f"{entry}: {column}: {error}") from error


def _coordinate(value: object, low: float, high: float, entry: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise CatalogueDataError(f"{entry} must be a number between {low} and {high}")
    return float(value)


def _check_unique(values: list[str], path: Path, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise CatalogueDataError(f"{path}: duplicate {what} {value!r}")
        seen.add(value)
