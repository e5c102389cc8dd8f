"""Upstream stop ids of catalogue stations, resolved at run time and kept for the life of the process.

The catalogue ships the PRIM stop areas (ZdA) of most rail stations, sourced from IDFM's stop reference
(`shipped_stop_refs`). For the others, and for ratp.fr's stop place ids, the sources learn them from the upstreams
themselves (ratp.fr's stop list gives stop place and stop area ids, PRIM's Navitia gives stop areas) and record them
here, per line, with when each look-up was made, so that every later fetch in the process reuses them. What a fetch
changed (`changes`) is written to the database with the fetch's result, and a worker loads a line's (`load_line`)
before its first fetch of it, so that no worker looks up again what another one resolved. A look-up is made again
once `refresh_after` old, and at once for the stop areas an upstream says it does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
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
# A line whose looked-up stop area PRIM then says it does not know is looked up again, but not sooner than this after
# the look-up that named it (it would name it again).
RETRY_LOOK_UP_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class LineStopRefs:
    """What is known of one line's stop ids beyond what the catalogue ships: the refs learnt from upstreams and when
    each look-up (by name, e.g. "prim:stop_areas") was last made. Persisted per line, loaded by every worker."""

    line_id: str
    refs: tuple[StopRef, ...] = ()
    looked_up: Mapping[str, datetime] = field(default_factory=dict)


def learnt(ref: StopRef) -> bool:
    """Whether a ref holds something the catalogue does not ship (a run-time stop area, a stop place)."""
    return ref.source != SHIPPED_SOURCE or bool(ref.stop_place_ref or ref.ratp_line_ref)


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
    def __init__(
        self,
        on_resolved: ResolvedHook | None = None,
        *,
        refresh_after: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._by_line: dict[str, dict[str, StopRef]] = {}
        self._looked_up: dict[str, dict[str, datetime]] = {}
        self._changed: set[str] = set()
        self._on_resolved = on_resolved
        self._refresh_after = refresh_after
        self._clock = clock

    def for_line(self, line_id: str) -> dict[str, StopRef]:
        """Known refs of the line's stations, by catalogue station id (a copy)."""
        return dict(self._by_line.get(line_id, {}))

    def looked_up(self, line_id: str, look_up: str) -> bool:
        """Whether the line was looked up at `look_up` (e.g. "prim:stop_areas") recently enough not to ask again."""
        when = self._looked_up.get(line_id, {}).get(look_up)
        return when is not None and self._clock() - when < self._refresh_after

    def merge(self, line_id: str, refs: Iterable[StopRef], *, looked_up: str | None = None) -> None:
        """Adds what `refs` know; an id already known is kept unless `refs` brings one where there was none.
        `looked_up`: the refs are the answer of that look-up (found or not, it is not made again for a while)."""
        known = self._by_line.setdefault(line_id, {})
        changed = False
        for ref in refs:
            current = known.get(ref.station_id)
            merged = ref if current is None else _fill(current, ref)
            if merged != current:
                known[ref.station_id] = merged
                changed = True
        if looked_up is not None:
            self._looked_up.setdefault(line_id, {})[looked_up] = self._clock()
            self._changed.add(line_id)
        if changed:
            self._changed.add(line_id)
        if changed and self._on_resolved is not None:
            try:
                self._on_resolved(line_id, dict(known))
            except Exception:  # a persistence hook must not break a fetch
                logger.exception("stop ref hook failed for %s", line_id)

    def clear_stop_areas(self, line_id: str, station_ids: Iterable[str], *, look_up: str | None = None) -> None:
        """Forgets the PRIM stop areas of these stations (PRIM said it does not know them), and that the line was
        looked up at `look_up` (unless within RETRY_LOOK_UP_AFTER), so that the next fetch looks them up again."""
        known = self._by_line.get(line_id, {})
        cleared = False
        for station_id in station_ids:
            if station_id in known and known[station_id].stop_area_id is not None:
                known[station_id] = replace(known[station_id], stop_area_id=None)
                cleared = True
        if cleared:
            self._changed.add(line_id)
            when = self._looked_up.get(line_id, {}).get(look_up or "")
            # A look-up of the last hour is not made again at once: it would name the same id.
            if when is not None and self._clock() - when >= RETRY_LOOK_UP_AFTER:
                del self._looked_up[line_id][look_up or ""]

    def forget(self, line_id: str) -> None:
        """Drops the line's refs (an upstream said one of them is unknown) so the next fetch resolves them again."""
        self._by_line.pop(line_id, None)
        self._looked_up.pop(line_id, None)
        self._changed.add(line_id)

    def changes(self, line_id: str) -> LineStopRefs | None:
        """What was learnt or corrected of the line since the last call (or the load), to persist; None: nothing."""
        if line_id not in self._changed:
            return None
        self._changed.discard(line_id)
        refs = tuple(ref for ref in self._by_line.get(line_id, {}).values() if learnt(ref))
        return LineStopRefs(line_id, refs, dict(self._looked_up.get(line_id, {})))

    def load_line(self, stored: LineStopRefs) -> None:
        """Adds what another process learnt of a line (from the database): ids fill the gaps of what is known here,
        and a look-up made there counts here."""
        known = self._by_line.setdefault(stored.line_id, {})
        for ref in stored.refs:
            current = known.get(ref.station_id)
            known[ref.station_id] = ref if current is None else _fill(current, ref)
        looked_up = self._looked_up.setdefault(stored.line_id, {})
        for look_up, when in stored.looked_up.items():
            looked_up[look_up] = max(when, looked_up.get(look_up, when))

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
