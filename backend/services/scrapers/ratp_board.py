"""Reading ratp.fr's next-passages board: the HTML fragment of `blocs-horaires-next-passages` into rows and times.

Pure functions over `selectolax` (the lexbor HTML5 parser): the board's parts are found by their CSS classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from selectolax.lexbor import LexborHTMLParser, LexborNode

from backend.services.records import DepartureStatus
from backend.services.resilience import UpstreamError
from backend.services.times import paris_clock_time
from backend.services.topology import name_key

_MINUTES = re.compile(r"^(\d{1,3})\s*(?:mn|min|minutes?)$")
_CLOCK = re.compile(r"\b(\d{1,2}[:h]\d{2})\b")
_NO_SERVICE = ("service termine", "aucun passage", "pas de passage", "aucun horaire", "horaires indisponibles")


def _classes(node: LexborNode) -> frozenset[str]:
    return frozenset((node.attributes.get("class") or "").split())


def _first(node: LexborNode, css_class: str) -> LexborNode | None:
    """The first element below `node` (not `node` itself) with the class."""
    return next((found for found in node.css(f".{css_class}") if found.mem_id != node.mem_id), None)


def _text(node: LexborNode) -> str:
    """The element's text, whitespace collapsed, words of neighbouring elements kept apart."""
    return " ".join(node.text(deep=True, separator=" ").split())


@dataclass(frozen=True)
class BoardRow:
    destination: str
    time_text: str
    status_text: str | None
    mission: str | None
    is_realtime: bool  # listed under "temps réel" rather than "horaires théoriques"


@dataclass(frozen=True)
class Board:
    heading: str | None  # "Vers Château de Vincennes"
    rows: tuple[BoardRow, ...]
    no_service: bool  # the board says no train is due (end of service), not an error


def parse_board(html: str) -> list[Board]:
    """The timetables of a next-passages fragment; raises `UpstreamError` when it is empty or unreadable."""
    if not html.strip():
        raise UpstreamError("empty", "empty ratp.fr board")
    root = LexborHTMLParser(html)
    blocks = root.css(".ixxi-horaire-result-timetable")
    if not blocks:
        raise UpstreamError("bad_response", "malformed ratp.fr board: no timetable block in the HTML")
    boards: list[Board] = []
    unreadable = 0
    for block in blocks:
        heading = _first(block, "destination_label")
        table = block.css_first("table")
        rows: list[BoardRow] = []
        no_service = False
        realtime = True
        for row in table.css("tr") if table is not None else ():
            classes = _classes(row)
            if "type-horaire-tr" in classes:
                realtime = "temps reel" in name_key(_text(row))
                continue
            if not any(css_class.startswith("body-") for css_class in classes):
                continue
            destination = _first(row, "terminus-wrap")
            wait = _first(row, "heure-wrap")
            if destination is not None and wait is not None and _text(destination) and _text(wait):
                status = _first(row, "type-horaire-td")
                mission = _first(row, "js-horaire-show-mission")
                rows.append(
                    BoardRow(
                        destination=_text(destination),
                        time_text=_text(wait),
                        status_text=(_text(status) or None) if status is not None else None,
                        mission=(_text(mission) or None) if mission is not None else None,
                        is_realtime=realtime,
                    )
                )
            elif any(phrase in name_key(_text(row)) for phrase in _NO_SERVICE):
                no_service = True
            else:
                unreadable += 1
        if table is None and not rows:
            unreadable += 1
        boards.append(
            Board(heading=_text(heading) if heading is not None else None, rows=tuple(rows), no_service=no_service)
        )
    if unreadable and not any(board.rows or board.no_service for board in boards):
        raise UpstreamError("bad_response", f"malformed ratp.fr board: {unreadable} unreadable timetable part(s)")
    return boards


@dataclass(frozen=True)
class RowTime:
    expected_at: datetime
    status: DepartureStatus
    vehicle_at_stop: bool
    is_realtime: bool


def row_time(row: BoardRow, now: datetime) -> RowTime | None:
    """When the row's train leaves and in what state; None when the row gives no time (nothing is guessed)."""
    wait = name_key(row.time_text)
    remark = name_key(row.status_text or "")
    at_stop = wait in ("a quai", "a l arret", "en gare", "a l arrivee")
    approaching = "approche" in wait
    expected: datetime | None = None
    minutes = _MINUTES.match(wait)
    if at_stop or approaching:
        expected = now
    elif minutes:
        expected = now + timedelta(minutes=int(minutes.group(1)))
    else:
        clock = _CLOCK.search(row.time_text)
        if clock:
            expected = paris_clock_time(clock.group(1).replace("h", ":"), now)
    if expected is None:
        return None
    status: DepartureStatus
    if "supprime" in wait or "supprime" in remark or "annule" in remark:
        status = "cancelled"
    elif "retard" in wait or "retard" in remark:
        status = "delayed"
    elif at_stop:
        status = "at_platform"
    elif row.is_realtime:
        status = "on_time"
    else:
        status = "unknown"
    return RowTime(expected_at=expected, status=status, vehicle_at_stop=at_stop, is_realtime=row.is_realtime)
