"""The catalogue's value types: rail and bus lines, stations, and a station's place on a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Network = Literal["metro", "rer", "tram", "bus"]
Direction = Literal["A", "R"]

NETWORKS: tuple[Network, ...] = ("metro", "rer", "tram", "bus")
DIRECTIONS: tuple[Direction, ...] = ("A", "R")


@dataclass(frozen=True)
class Line:
    """One line of the network; `id` is "<network>:<code>", e.g. "metro:3bis", "rer:A", "tram:T3a", "bus:N01"."""

    id: str
    network: Network
    code: str
    name: str
    idfm_line_id: str | None  # "C01371", the IDFM referential's ID_Line
    colour: str  # "#FFCD00"
    text_colour: str  # "#000000" or "#FFFFFF", readable on `colour`
    operator: str | None
    has_station_data: bool

    @property
    def idfm_ref(self) -> str | None:
        """The line as IDFM open data and Navitia name it: "IDFM:C01371"."""
        return f"IDFM:{self.idfm_line_id}" if self.idfm_line_id else None


@dataclass(frozen=True)
class Station:
    """A named stop place; the same id on every line that calls at a stop of that name."""

    id: str
    name: str
    town: str | None
    lat: float | None = None
    lon: float | None = None
    # Other names IDFM's reference data gives this stop ("Porte d'Asnières - Marguerite Long" for "Marguerite Long"),
    # so that an upstream using one of them still finds the station.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineStation:
    """A station's place on one route of a line, in one direction.

    Direction "A" runs a route in its listed order, "R" in reverse; `branch` is the route's index in the line's
    routes file and `position` counts from 0 within (line, direction, branch).
    """

    line_id: str
    direction: Direction
    branch: int
    position: int
    station: Station


@dataclass(frozen=True)
class StopAreaIds:
    """Where IDFM's stop reference places one station of one line, as shipped in `data/stop_areas.csv`.

    `zda_id` is the number n of the zone d'arrêt, PRIM's `STIF:StopArea:SP:<n>:`; `zdc_id` that of the zone de
    correspondance grouping it with the other modes' stops (Navitia's `stop_area:IDFM:<n>`). Either may be None
    where the sources disagree; `source` is a key of the provenance table in `data/README.md`.
    """

    station_id: str
    zda_id: str | None
    zdc_id: str | None
    source: str


class UnknownLineError(ValueError):
    """A line reference that names no line of the catalogue."""


class CatalogueDataError(ValueError):
    """A catalogue data file is missing, malformed or inconsistent; the message names the file and the entry."""
