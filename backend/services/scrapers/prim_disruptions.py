"""PRIM's global traffic feed, `GET /disruptions_bulk/disruptions/v2`: every current disruption of the region.

One answer (~1.4 MB) lists `disruptions[]` (id, `applicationPeriods`, `severity` BLOQUANTE / PERTURBEE /
INFORMATION, `title`, `message` in HTML, `shortMessage`, `impactedSections`, `lastUpdate`, `cause`) and `lines[]`,
whose `impactedObjects[].disruptionIds[]` say which disruption touches which line: the link goes through the lines,
not the disruptions. Dates of periods and `lastUpdate` are Paris wall-clock time without zone ("20241127T080000");
`lastUpdatedDate` is UTC. PRIM drops an entry about an hour after its last period ends, so an answer may still hold
entries that are over: `DisruptionRecord.state_at` says so, and readers never show them as current.

The payload is validated by pydantic models: a broken answer is one `UpstreamError("bad_response")` naming the
field path. The upstream's HTML never leaves this module as HTML: `html_to_text` keeps the words only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from html.parser import HTMLParser
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from backend.services.records import PeriodRecord, SectionRecord
from backend.services.resilience import UpstreamError
from backend.services.times import PARIS

PATH = "/disruptions_bulk/disruptions/v2"
API = "disruptions"  # its own PRIM allowance (1,000 a day for a new key)
_LINE_ID = re.compile(r"^line:IDFM:(C\d{5})$")


class Severity(StrEnum):
    """PRIM's severities, in French as PRIM sends them; the most serious first."""

    BLOQUANTE = "BLOQUANTE"
    PERTURBEE = "PERTURBEE"
    INFORMATION = "INFORMATION"


SEVERITY_RANK = {Severity.BLOQUANTE: 0, Severity.PERTURBEE: 1, Severity.INFORMATION: 2}


def _paris_stamp(value: Any) -> Any:
    """ "20241127T080000" (Paris wall-clock) as an aware UTC datetime; anything else is left to pydantic to refuse."""
    if isinstance(value, str) and re.fullmatch(r"\d{8}T\d{6}", value):
        local = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=PARIS)
        return local.astimezone(UTC)
    return value


ParisStamp = Annotated[datetime, BeforeValidator(_paris_stamp)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ApplicationPeriod(_Model):
    begin: ParisStamp
    end: ParisStamp


class SectionEnd(_Model):
    id: str
    name: str
    type: str | None = None


class ImpactedSection(_Model):
    line_id: str = Field(alias="lineId")
    from_: SectionEnd = Field(alias="from")
    to: SectionEnd


class Disruption(_Model):
    id: str = Field(min_length=1)
    application_periods: list[ApplicationPeriod] = Field(alias="applicationPeriods")
    last_update: ParisStamp | None = Field(default=None, alias="lastUpdate")
    cause: str | None = None
    severity: Severity
    title: str
    message: str | None = None
    short_message: str | None = Field(default=None, alias="shortMessage")
    impacted_sections: list[ImpactedSection] = Field(default_factory=list, alias="impactedSections")


class ImpactedObject(_Model):
    type: str
    id: str | None = None
    name: str | None = None
    disruption_ids: list[str] = Field(default_factory=list, alias="disruptionIds")


class FeedLine(_Model):
    id: str
    short_name: str | None = Field(default=None, alias="shortName")
    mode: str | None = None
    impacted_objects: list[ImpactedObject] = Field(default_factory=list, alias="impactedObjects")


class DisruptionsFeed(_Model):
    disruptions: list[Disruption]
    lines: list[FeedLine]
    last_updated_date: datetime | None = Field(default=None, alias="lastUpdatedDate")


def parse_disruptions_bulk(payload: Any) -> DisruptionsFeed:
    """The validated feed; raises `UpstreamError("bad_response")` naming the first broken field."""
    try:
        return DisruptionsFeed.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise UpstreamError(
            "bad_response",
            f"unexpected disruptions_bulk answer: {where}: {first['msg']} ({exc.error_count()} problem(s))",
            short="PRIM: unexpected traffic feed",
        ) from None


# --- what the fleet keeps -------------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    """The words of an HTML fragment: tags dropped, scripts and styles with their content, block ends as breaks."""

    _SKIPPED = frozenset({"script", "style", "head", "template"})
    _BREAKS = frozenset({"br", "p", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str | None, limit: int = 4000) -> str | None:
    """The text of PRIM's HTML message (never HTML: the dashboard shows it as text), blank lines folded."""
    if not fragment or not fragment.strip():
        return None
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").split("\n")]
    text = "\n".join(line for line in lines if line)
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


PeriodState = Literal["current", "upcoming", "ended"]


@dataclass(frozen=True)
class DisruptionRecord:
    """One disruption as it touches one line, text only."""

    line_id: str  # the catalogue's
    disruption_id: str
    severity: Severity
    cause: str | None
    title: str
    short_message: str | None
    message: str | None  # plain text
    periods: tuple[PeriodRecord, ...]
    sections: tuple[SectionRecord, ...]
    whole_line: bool  # the line itself is impacted, not only some of its stops
    last_update_at: datetime | None

    def state_at(self, now: datetime) -> PeriodState:
        return period_state(self.periods, now)


def period_state(periods: tuple[PeriodRecord, ...] | list[PeriodRecord], now: datetime) -> PeriodState:
    if any(period.begin <= now < period.end for period in periods):
        return "current"
    if any(period.begin > now for period in periods):
        return "upcoming"
    return "ended"


def disruptions_by_line(feed: DisruptionsFeed, line_ids: dict[str, str]) -> dict[str, list[DisruptionRecord]]:
    """The feed's disruptions per catalogue line; `line_ids` maps IDFM line ids ("C01371") to catalogue ids.

    A line of the feed the catalogue does not know is left out; a disruption id no entry of `disruptions[]` carries
    is skipped (PRIM lists both from one snapshot, so it does not happen, but it must not fail the whole feed)."""
    by_id = {disruption.id: disruption for disruption in feed.disruptions}
    found: dict[str, dict[str, DisruptionRecord]] = {}
    for feed_line in feed.lines:
        match = _LINE_ID.match(feed_line.id)
        line_id = line_ids.get(match.group(1)) if match else None
        if line_id is None:
            continue
        touched: dict[str, bool] = {}
        for impacted in feed_line.impacted_objects:
            for disruption_id in impacted.disruption_ids:
                touched[disruption_id] = touched.get(disruption_id, False) or impacted.type == "line"
        for disruption_id, whole_line in touched.items():
            disruption = by_id.get(disruption_id)
            if disruption is None:
                continue
            sections = tuple(
                SectionRecord(section.from_.name, section.to.name)
                for section in disruption.impacted_sections
                if section.line_id == feed_line.id
            )
            found.setdefault(line_id, {})[disruption_id] = DisruptionRecord(
                line_id=line_id,
                disruption_id=disruption_id,
                severity=disruption.severity,
                cause=disruption.cause,
                title=" ".join(disruption.title.split()),
                short_message=html_to_text(disruption.short_message, limit=500),
                message=html_to_text(disruption.message),
                periods=tuple(
                    sorted((PeriodRecord(p.begin, p.end) for p in disruption.application_periods), key=_begin)
                ),
                sections=sections,
                whole_line=whole_line,
                last_update_at=disruption.last_update,
            )
    return {
        line_id: sorted(records.values(), key=lambda record: (SEVERITY_RANK[record.severity], record.disruption_id))
        for line_id, records in found.items()
    }


def _begin(period: PeriodRecord) -> datetime:
    return period.begin


def traffic_summary(records: list[DisruptionRecord], now: datetime) -> tuple[str, str | None]:
    """The line's level and message from its disruptions current at `now`: "closed" when a blocking one stops the
    whole line (no section named), "disrupted" for any other blocking or disturbing one, else "normal" (information,
    if any, is the message)."""
    current = [record for record in records if record.state_at(now) == "current"]
    serious = [record for record in current if record.severity != Severity.INFORMATION]
    shown = serious or current
    message = " | ".join(dict.fromkeys(record.short_message or record.title for record in shown)) or None
    if message is not None and len(message) > 500:
        message = message[:499] + "…"
    if any(record.severity == Severity.BLOQUANTE and record.whole_line and not record.sections for record in serious):
        return "closed", message
    if serious:
        return "disrupted", message
    return "normal", message
