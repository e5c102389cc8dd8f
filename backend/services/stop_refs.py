"""Upstream stop ids of catalogue stations, resolved at run time and kept for the life of the process.

The catalogue ships the PRIM stop areas (ZdA) of most rail stations, sourced from IDFM's stop reference
(`shipped_stop_refs`). For the others, and for ratp.fr's stop place ids, the sources learn them from the upstreams
themselves (ratp.fr's stop list gives stop place and stop area ids, PRIM's Navitia gives stop areas) and record them
here, per line, so that every later fetch in the process reuses them. `export()`/`load()` and the `on_resolved` hook
let the caller persist them between processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from backend.catalogue import Catalogue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StopRef:
    """Where one catalogue station of one line is known upstream."""

    station_id: str
    upstream_name: str
    stop_place_ref: str | None = None  # "ART:IDFM:<n>": ratp.fr boards and vehicle positions
    stop_area_id: str | None = None  # "<n>" of PRIM's "STIF:StopArea:SP:<n>:" (= ratp.fr "LDA:IDFM:<n>")
    ratp_line_ref: str | None = None  # the line as ratp.fr's board URLs name it
    source: str = ""


SHIPPED_SOURCE = "catalogue"


def shipped_stop_refs(catalogue: Catalogue, line_id: str) -> list[StopRef]:
    """The line's stations whose PRIM stop area (ZdA) the catalogue ships, in the line's station order.

    Stations with only a ZdC id, or none, are left out: they still need the run-time look-up.
    """
    shipped = catalogue.stop_areas(line_id)
    station_ids = dict.fromkeys(stop.station.id for stop in catalogue.stations_for(line_id))
    return [
        StopRef(
            station_id=station_id,
            upstream_name=catalogue.station(station_id).name,
            stop_area_id=shipped[station_id].zda_id,
            source=SHIPPED_SOURCE,
        )
        for station_id in station_ids
        if station_id in shipped and shipped[station_id].zda_id
    ]


ResolvedHook = Callable[[str, Mapping[str, StopRef]], None]


class StopRefRegistry:
    def __init__(self, on_resolved: ResolvedHook | None = None) -> None:
        self._by_line: dict[str, dict[str, StopRef]] = {}
        self._on_resolved = on_resolved

    def for_line(self, line_id: str) -> dict[str, StopRef]:
        """Known refs of the line's stations, by catalogue station id (a copy)."""
        return dict(self._by_line.get(line_id, {}))

    def merge(self, line_id: str, refs: Iterable[StopRef]) -> None:
        """Adds what `refs` know; an id already known is kept unless `refs` brings one where there was none."""
        known = self._by_line.setdefault(line_id, {})
        changed = False
        for ref in refs:
            current = known.get(ref.station_id)
            merged = ref if current is None else _fill(current, ref)
            if merged != current:
                known[ref.station_id] = merged
                changed = True
        if changed and self._on_resolved is not None:
            try:
                self._on_resolved(line_id, dict(known))
            except Exception:  # a persistence hook must not break a fetch
                logger.exception("stop ref hook failed for %s", line_id)

    def clear_stop_areas(self, line_id: str, station_ids: Iterable[str]) -> None:
        """Forgets the PRIM stop areas of these stations (PRIM said it does not know them)."""
        known = self._by_line.get(line_id, {})
        for station_id in station_ids:
            if station_id in known:
                known[station_id] = replace(known[station_id], stop_area_id=None)

    def forget(self, line_id: str) -> None:
        """Drops the line's refs (an upstream said one of them is unknown) so the next fetch resolves them again."""
        self._by_line.pop(line_id, None)

    def station_for_place(self, line_id: str, stop_place_ref: str) -> str | None:
        wanted = _place_number(stop_place_ref)
        for ref in self._by_line.get(line_id, {}).values():
            if ref.stop_place_ref and _place_number(ref.stop_place_ref) == wanted:
                return ref.station_id
        return None

    def export(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Everything known, as JSON-ready dicts: {line_id: {station_id: {field: value}}}."""
        return {
            line_id: {station_id: asdict(ref) for station_id, ref in refs.items()}
            for line_id, refs in self._by_line.items()
        }

    def load(self, data: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        """Restores what `export()` gave (from a previous process), without calling the hook."""
        for line_id, refs in data.items():
            known = self._by_line.setdefault(line_id, {})
            for station_id, fields in refs.items():
                known[station_id] = StopRef(**{**fields, "station_id": station_id})


def _fill(current: StopRef, new: StopRef) -> StopRef:
    return replace(
        current,
        stop_place_ref=current.stop_place_ref or new.stop_place_ref,
        stop_area_id=current.stop_area_id or new.stop_area_id,
        ratp_line_ref=current.ratp_line_ref or new.ratp_line_ref,
    )


def _place_number(ref: str) -> str:
    """ "ART:IDFM:22092" and "22092" name the same stop place."""
    return ref.rsplit(":", 1)[-1].strip()
