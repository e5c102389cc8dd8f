"""Reading ratp.fr's next-passages board: the HTML fragment of `blocs-horaires-next-passages` into rows and times.

Pure functions over the stdlib `html.parser`: the fragment is small and regular, so a tolerant tree of
(tag, classes, children) is all that is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser

from backend.services.records import DepartureStatus
from backend.services.resilience import UpstreamError
from backend.services.times import paris_clock_time
from backend.services.topology import name_key

_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_MINUTES = re.compile(r"^(\d{1,3})\s*(?:mn|min|minutes?)$")
_CLOCK = re.compile(r"\b(\d{1,2}[:h]\d{2})\b")
_NO_SERVICE = ("service termine", "aucun passage", "pas de passage", "aucun horaire", "horaires indisponibles")


@dataclass
class Element:
    tag: str
    classes: frozenset[str]
    children: list[Element | str] = field(default_factory=list)

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def first(self, css_class: str) -> Element | None:
        return next((element for element in self.iter() if css_class in element.classes), None)

    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else " " + child.text() + " ")
        return " ".join("".join(parts).split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("root", frozenset())
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = frozenset(next((value or "" for name, value in attrs if name == "class"), "").split())
        element = Element(tag, classes)
        self._stack[-1].children.append(element)
        if tag not in _VOID_TAGS:
            self._stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._stack) - 1, 0, -1):
            if self._stack[index].tag == tag:
                del self._stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data)


def parse_html(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


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
    root = parse_html(html)
    blocks = [element for element in root.iter() if "ixxi-horaire-result-timetable" in element.classes]
    if not blocks:
        raise UpstreamError("bad_response", "malformed ratp.fr board: no timetable block in the HTML")
    boards: list[Board] = []
    unreadable = 0
    for block in blocks:
        heading = block.first("destination_label")
        table = next((element for element in block.iter() if element.tag == "table"), None)
        rows: list[BoardRow] = []
        no_service = False
        realtime = True
        for row in table.iter() if table is not None else ():
            if row.tag != "tr":
                continue
            if "type-horaire-tr" in row.classes:
                realtime = "temps reel" in name_key(row.text())
                continue
            if not any(css_class.startswith("body-") for css_class in row.classes):
                continue
            destination = row.first("terminus-wrap")
            wait = row.first("heure-wrap")
            if destination is not None and wait is not None and destination.text() and wait.text():
                status = row.first("type-horaire-td")
                mission = row.first("js-horaire-show-mission")
                rows.append(
                    BoardRow(
                        destination=destination.text(),
                        time_text=wait.text(),
                        status_text=(status.text() or None) if status is not None else None,
                        mission=(mission.text() or None) if mission is not None else None,
                        is_realtime=realtime,
                    )
                )
            elif any(phrase in name_key(row.text()) for phrase in _NO_SERVICE):
                no_service = True
            else:
                unreadable += 1
        if table is None and not rows:
            unreadable += 1
        boards.append(
            Board(heading=heading.text() if heading is not None else None, rows=tuple(rows), no_service=no_service)
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
