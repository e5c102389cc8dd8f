"""The in-memory line catalogue: look-ups by line reference, station and network, built once from `data/`."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from backend.catalogue.loader import DATA_DIR, CatalogueData, Route, load_data
from backend.catalogue.models import (
    DIRECTIONS,
    NETWORKS,
    Line,
    LineStation,
    Network,
    Station,
    StopAreaIds,
    UnknownLineError,
)
from backend.catalogue.names import normalise_name

EXAMPLE_REFS = "metro:1, metro:3bis, rer:A, tram:T3a, bus:38, bus:N01"

# Spellings people and upstream feeds use for a network, by their normalised form.
NETWORK_ALIASES: dict[str, Network] = {
    "metro": "metro",
    "rer": "rer",
    "tram": "tram",
    "tramway": "tram",
    "bus": "bus",
    "noctilien": "bus",
}
_METRO_BIS = re.compile(r"^(\d+)\s*b(?:is)?$")
_NUMBERED = re.compile(r"^([a-z]?)0*(\d+)([a-z]*)$")
_IDFM_LINE_IN_REF = re.compile(r"(?:^|[:\s])(C\d{5})(?::|$)")


def code_key(network: Network, code: str) -> str:
    """Lookup key of a line code: case-insensitive, "3B" == "3bis", "3a" == "T3a" on trams, "N1" == "N01" on buses."""
    key = normalise_name(code).replace(" ", "")
    if network == "metro":
        bis = _METRO_BIS.fullmatch(key)
        if bis:
            return f"{int(bis.group(1))}bis"
    if network == "tram" and key[:1].isdigit():
        key = "t" + key
    numbered = _NUMBERED.fullmatch(key)
    if numbered:
        prefix, number, suffix = numbered.groups()
        return f"{prefix}{int(number)}{suffix}"
    return key


def _sort_key(line: Line) -> tuple[int, int, int, str]:
    """Networks in catalogue order, then by number (3 < 3bis < 4 < 10, T3a < T3b < T10), Noctilien after day buses."""
    numbered = _NUMBERED.fullmatch(line.code.lower())
    if numbered is None:
        return (NETWORKS.index(line.network), 0, 0, line.code)
    prefix, number, suffix = numbered.groups()
    night = 1 if line.network == "bus" and prefix == "n" else 0
    return (NETWORKS.index(line.network), night, int(number), suffix)


class Catalogue:
    """Every line with its stations; immutable once built, safe to share between tasks and threads."""

    def __init__(self, data: CatalogueData) -> None:
        self.lines: tuple[Line, ...] = tuple(sorted(data.lines, key=_sort_key))
        self._by_id = {line.id: line for line in self.lines}
        self._by_key = {(line.network, code_key(line.network, line.code)): line for line in self.lines}
        self._by_idfm = {line.idfm_line_id: line for line in self.lines if line.idfm_line_id}
        self._stations = dict(sorted(data.stations.items()))
        self._search_keys = {station_id: normalise_name(station.name) for station_id, station in self._stations.items()}
        self._routes = data.routes
        self.route_notes: dict[str, str] = dict(data.route_notes)
        self._stop_areas = data.stop_areas
        self._line_stations = {
            line_id: _line_stations(line_id, routes, data.stations) for line_id, routes in data.routes.items()
        }
        self._lines_at: dict[str, list[Line]] = {}
        for line in self.lines:
            served = {station_id for route in self._routes.get(line.id, ()) for station_id in route.station_ids}
            for station_id in served:
                self._lines_at.setdefault(station_id, []).append(line)

    # --- lines --------------------------------------------------------------------------------------------------

    def get(self, ref: str) -> Line:
        """A line by reference "<network>:<code>": "metro:1", "METRO:3B", "tram:t3a", "rer:a", "bus:n01"."""
        network_text, separator, code = ref.strip().partition(":")
        if not separator or not code.strip():
            raise UnknownLineError(f"unknown line {ref!r}: write it as '<network>:<code>', e.g. {EXAMPLE_REFS}")
        return self.find(network_text, code)

    def find(self, network: str, code: str) -> Line:
        """A line by network and code, case-insensitively and with the usual aliases ("3B" for "3bis")."""
        canonical_network = NETWORK_ALIASES.get(normalise_name(network))
        if canonical_network is None:
            raise UnknownLineError(
                f"unknown network {network!r} in line '{network}:{code}': networks are {', '.join(NETWORKS)} "
                f"(e.g. {EXAMPLE_REFS})"
            )
        line = self._by_key.get((canonical_network, code_key(canonical_network, code)))
        if line is None:
            codes = [candidate.code for candidate in self.by_network(canonical_network)]
            shown = ", ".join(codes[:20]) + (", ..." if len(codes) > 20 else "")
            raise UnknownLineError(f"unknown line '{network}:{code}': {canonical_network} lines are {shown}")
        return line

    def find_by_idfm(self, ref: str) -> Line:
        """A line by its IDFM id in any upstream spelling: "C01371", "IDFM:C01371", "STIF:Line::C01371:", ..."""
        match = _IDFM_LINE_IN_REF.search(ref.strip().upper())
        line = self._by_idfm.get(match.group(1)) if match else None
        if line is None:
            raise UnknownLineError(f"no line with IDFM id in {ref!r}: expected e.g. 'IDFM:C01371' (metro:1)")
        return line

    def by_network(self, network: str) -> list[Line]:
        canonical_network = NETWORK_ALIASES.get(normalise_name(network))
        if canonical_network is None:
            raise UnknownLineError(f"unknown network {network!r}: networks are {', '.join(NETWORKS)}")
        return [line for line in self.lines if line.network == canonical_network]

    def schedulable_lines(self) -> list[Line]:
        """Lines with station data (the rail lines); bus lines are scheduled only when named in SCHEDULER_LINES."""
        return [line for line in self.lines if line.has_station_data]

    # --- stations -----------------------------------------------------------------------------------------------

    def routes_for(self, line_id: str) -> tuple[Route, ...]:
        """The line's routes in file order (branch index = position here); () for lines without station data."""
        return self._routes.get(self._line(line_id).id, ())

    def stations_for(self, line_id: str) -> list[LineStation]:
        """Every stop of the line, direction "A" then "R", each by branch then position; [] for bus lines."""
        return list(self._line_stations.get(self._line(line_id).id, ()))

    def station(self, station_id: str) -> Station:
        try:
            return self._stations[station_id]
        except KeyError:
            raise KeyError(f"unknown station id {station_id!r} (ids are slugs like 'chatelet', 'la-defense')") from None

    def stations(self) -> list[Station]:
        return list(self._stations.values())

    def search_stations(self, query: str) -> list[Station]:
        """Stations whose name contains `query`, ignoring accents, case and punctuation; prefix matches first."""
        key = normalise_name(query)
        if not key:
            return []
        hits = [
            (not self._search_keys[station_id].startswith(key), self._search_keys[station_id], station)
            for station_id, station in self._stations.items()
            if key in self._search_keys[station_id]
        ]
        hits.sort(key=lambda hit: hit[:2])
        return [station for _, _, station in hits]

    def stop_areas(self, line_id: str) -> dict[str, StopAreaIds]:
        """The IDFM stop area ids shipped for the line's stations, by station id; stations without any are absent."""
        return dict(self._stop_areas.get(self._line(line_id).id, {}))

    def lines_at(self, station_id: str) -> list[Line]:
        """Lines calling at the station, in catalogue order."""
        self.station(station_id)
        return list(self._lines_at.get(station_id, ()))

    def _line(self, line_id: str) -> Line:
        return self._by_id.get(line_id) or self.get(line_id)


def _line_stations(line_id: str, routes: tuple[Route, ...], stations: dict[str, Station]) -> tuple[LineStation, ...]:
    result: list[LineStation] = []
    for direction in DIRECTIONS:
        for branch, route in enumerate(routes):
            ordered = route.station_ids if direction == "A" else route.station_ids[::-1]
            result.extend(
                LineStation(
                    line_id=line_id, direction=direction, branch=branch, position=position, station=stations[sid]
                )
                for position, sid in enumerate(ordered)
            )
    return tuple(result)


def load_catalogue(data_dir: Path = DATA_DIR) -> Catalogue:
    """A fresh catalogue from `data_dir`; raises CatalogueDataError naming the file and entry of any bad data."""
    return Catalogue(load_data(data_dir))


@cache
def get_catalogue() -> Catalogue:
    """The catalogue of the shipped data files, loaded on first use and shared afterwards."""
    return load_catalogue()


def parse_line_list(value: str, catalogue: Catalogue | None = None) -> list[Line]:
    """Lines of a comma-separated list such as SCHEDULER_LINES ("metro:1,rer:A"), in order, without duplicates.

    An empty or blank value gives []; unknown entries raise one UnknownLineError naming every one of them.
    """
    catalogue = catalogue or get_catalogue()
    found: dict[str, Line] = {}
    bad: list[str] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            line = catalogue.get(entry)
        except UnknownLineError:
            bad.append(entry)
            continue
        found.setdefault(line.id, line)
    if bad:
        raise UnknownLineError(
            f"unknown line{'s' if len(bad) > 1 else ''} {', '.join(repr(entry) for entry in bad)} in line list "
            f"{value!r}: write each as '<network>:<code>', e.g. {EXAMPLE_REFS}"
        )
    return list(found.values())
