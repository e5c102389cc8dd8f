"""A line's stations as the sources need them: order along each route and direction, look-up by upstream name.

Upstreams name stations and termini in their own spelling; this turns those names into catalogue station ids
and tells which direction ("A" or "R") a train heading for a given terminus runs in. Names match whatever their
accents, case and punctuation, and also on a station's official aliases from IDFM's reference ("Porte d'Asnières -
Marguerite Long" for "Marguerite Long"), and, failing all else, without the "Gare de" SNCF feeds put before a
station's name; a station's own name wins over another station's alias.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from backend.catalogue import LineStation, Station, normalise_name

_PARENTHESISED = re.compile(r"\([^)]*\)")
# SNCF-run lines' SIRI feeds name stations "Gare de Pontoise", "Gare de Montigny Beauchamp" (real PRIM payloads in
# devtools/recordings/real/); tried only when the name as given matches nothing, so "Gare de Lyon" stays itself.
_GARE_PREFIX = re.compile(r"^gare (?:de la |de l |des |du |de |d )")


def name_key(name: str) -> str:
    return normalise_name(name)


def loose_name_key(name: str) -> str:
    """The key without parenthesised qualifiers: "La Défense (Grande Arche)" -> "la defense"."""
    return normalise_name(_PARENTHESISED.sub(" ", name))


class LineTopology:
    def __init__(self, line_id: str, stops: Sequence[LineStation]) -> None:
        self.line_id = line_id
        self._sequences: dict[tuple[str, int], list[str]] = {}
        self.stations: dict[str, Station] = {}
        for stop in stops:
            self._sequences.setdefault((stop.direction, stop.branch), []).append(stop.station.id)
            self.stations.setdefault(stop.station.id, stop.station)
        self._positions = {
            key: {station_id: index for index, station_id in enumerate(sequence)}
            for key, sequence in self._sequences.items()
        }
        # Looked up in this order: names, then aliases, then both without parenthesised qualifiers.
        self._keys: tuple[dict[str, str], ...] = ({}, {}, {}, {})
        by_name, by_alias, by_loose_name, by_loose_alias = self._keys
        for station in self.stations.values():
            by_name.setdefault(name_key(station.name), station.id)
            by_loose_name.setdefault(loose_name_key(station.name), station.id)
            for alias in station.aliases:
                by_alias.setdefault(name_key(alias), station.id)
                by_loose_alias.setdefault(loose_name_key(alias), station.id)

    @property
    def station_ids(self) -> list[str]:
        return list(self.stations)

    def __bool__(self) -> bool:
        return bool(self.stations)

    def station_for_name(self, name: str) -> str | None:
        """The catalogue station id an upstream name designates on this line, or None."""
        if not name:
            return None
        exact, loose = name_key(name), loose_name_key(name)
        found = self._lookup(exact, loose)
        if found is None and _GARE_PREFIX.match(exact):
            found = self._lookup(_GARE_PREFIX.sub("", exact), _GARE_PREFIX.sub("", loose))
        return found

    def _lookup(self, exact: str, loose: str) -> str | None:
        by_name, by_alias, by_loose_name, by_loose_alias = self._keys
        return by_name.get(exact) or by_alias.get(exact) or by_loose_name.get(loose) or by_loose_alias.get(loose)

    def direction_towards(self, origin_id: str, destination_id: str) -> str | None:
        """ "A" or "R": the direction in which some route of the line runs from `origin_id` on to `destination_id`."""
        if origin_id == destination_id:
            return None
        for (direction, _branch), positions in self._positions.items():
            origin = positions.get(origin_id)
            destination = positions.get(destination_id)
            if origin is not None and destination is not None and origin < destination:
                return direction
        return None

    def direction_for_destination(self, origin_id: str, destination_name: str) -> str | None:
        destination_id = self.station_for_name(destination_name)
        if destination_id is None:
            return None
        return self.direction_towards(origin_id, destination_id)

    def sequences(self, direction: str) -> Iterable[list[str]]:
        return (sequence for (d, _b), sequence in self._sequences.items() if d == direction)
