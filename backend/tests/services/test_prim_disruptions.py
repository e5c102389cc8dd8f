"""PRIM's traffic feed (`disruptions_bulk`): its recording parsed (validation, Paris times, text only, per line), and
one read for every line through `LiveDataService` against the stub upstream (served, refused, broken, fallback)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.catalogue import get_catalogue
from backend.devtools.replay import RECORDINGS
from backend.devtools.upstream import StubUpstream, feed_disruption, feed_of
from backend.services.live_data import LiveDataService
from backend.services.resilience import UpstreamError
from backend.services.scrapers.prim_disruptions import (
    Severity,
    disruptions_by_line,
    html_to_text,
    parse_disruptions_bulk,
    traffic_summary,
)
from backend.tests.services.conftest import SettingsFactory

# The recording's lines as catalogue lines would map them (the recorded lines are buses the catalogue lacks).
LINE_IDS = {"C01187": "bus:165", "C00157": "bus:6307"}


def recorded() -> dict[str, Any]:
    payload = json.loads((RECORDINGS / "prim_disruptions_bulk.json").read_text(encoding="utf-8"))
    return copy.deepcopy(payload)


def test_the_recorded_feed_parses_with_paris_times_read_as_utc() -> None:
    feed = parse_disruptions_bulk(recorded())

    works = next(d for d in feed.disruptions if d.id == "2aecb88e-0c98-11f1-9e08-0a58a9feac02")
    assert works.severity is Severity.BLOQUANTE
    # "20260218T080000" is Paris wall-clock time: 07:00 UTC in winter.
    assert works.application_periods[0].begin == datetime(2026, 2, 18, 7, 0, tzinfo=UTC)
    assert works.impacted_sections[0].from_.name == "Rue de la Station (Asnières-sur-Seine)"
    summer = next(d for d in feed.disruptions if d.id.startswith("a24514c3"))
    # ...and 16:00 UTC in summer (UTC+2).
    assert summer.application_periods[0].begin == datetime(2026, 7, 16, 16, 0, tzinfo=UTC)
    assert feed.last_updated_date == datetime(2026, 7, 30, 9, 2, 11, 434000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("breakage", "path"),
    [
        (lambda p: p["disruptions"][1].update(severity="GRAVE"), "disruptions.1.severity"),
        (lambda p: p["disruptions"][0]["applicationPeriods"][0].update(end="tomorrow"), "applicationPeriods.0.end"),
        (lambda p: p.pop("lines"), "lines"),
        (lambda p: p["lines"][0]["impactedObjects"][0].update(disruptionIds="a24514c3"), "disruptionIds"),
    ],
)
def test_a_broken_feed_is_one_bad_response_naming_the_field(breakage: Any, path: str) -> None:
    payload = recorded()
    breakage(payload)
    with pytest.raises(UpstreamError) as raised:
        parse_disruptions_bulk(payload)
    assert raised.value.kind == "bad_response"
    assert path in raised.value.reason


def test_an_html_message_becomes_text_without_markup_or_script() -> None:
    text = html_to_text(recorded()["disruptions"][0]["message"])
    assert text == (
        "En raison de travaux, l'arrêt Rue de la Station n'est pas desservi.\nReportez-vous à l'arrêt Jules Guesde."
    )
    assert html_to_text("<p>&nbsp;</p>") is None
    assert html_to_text("<img src=x onerror=alert(1)>Trafic &amp; travaux") == "Trafic & travaux"


def test_disruptions_reach_their_lines_through_the_lines_list() -> None:
    by_line = disruptions_by_line(parse_disruptions_bulk(recorded()), LINE_IDS)

    [works] = by_line["bus:165"]
    assert works.disruption_id == "2aecb88e-0c98-11f1-9e08-0a58a9feac02"
    assert [(s.from_name, s.to_name) for s in works.sections] == [
        ("Rue de la Station (Asnières-sur-Seine)", "Jules Guesde (Levallois-Perret)")
    ]
    assert works.short_message == "Arrêt(s) non desservi(s)"
    assert works.whole_line is False  # PRIM named a stop area of the line, not the line
    [whole] = by_line["bus:6307"]
    assert whole.whole_line is True
    # A line of the feed the catalogue does not know is left out.
    assert disruptions_by_line(parse_disruptions_bulk(recorded()), {"C01187": "bus:165"}).keys() == {"bus:165"}


def test_only_current_disruptions_set_the_level_and_ended_ones_are_over() -> None:
    [works] = disruptions_by_line(parse_disruptions_bulk(recorded()), LINE_IDS)["bus:165"]
    during = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)
    after = datetime(2026, 2, 18, 17, 0, tzinfo=UTC)  # 18:00 in Paris: the period's end
    before = datetime(2026, 2, 18, 6, 0, tzinfo=UTC)

    assert works.state_at(during) == "current"
    assert works.state_at(after) == "ended"
    assert works.state_at(before) == "upcoming"
    # A blocking disruption of a section disrupts the line; it does not close it.
    assert traffic_summary([works], during) == ("disrupted", "Arrêt(s) non desservi(s)")
    assert traffic_summary([works], after) == ("normal", None)
    [whole] = disruptions_by_line(parse_disruptions_bulk(recorded()), LINE_IDS)["bus:6307"]
    assert traffic_summary([whole], datetime(2026, 7, 30, 12, tzinfo=UTC))[0] == "disrupted"  # PERTURBEE


# --- one read for every line, through the service, against the stub upstream ------------------------------------


class _Gate:
    def __init__(self, covers: bool) -> None:
        self.value = covers

    async def covers(self) -> bool:
        return self.value


async def test_one_request_reads_every_lines_disruptions(live_settings: SettingsFactory, stub: StubUpstream) -> None:
    now = datetime.now(UTC)
    catalogue = get_catalogue()
    stub.set_disruptions(
        feed_of(
            feed_disruption(
                catalogue.get("metro:1"),
                disruption_id="d1",
                begin=now - timedelta(hours=1),
                end=now + timedelta(hours=1),
                section=("Château de Vincennes", "Nation"),
            ),
            feed_disruption(catalogue.get("rer:A"), disruption_id="d2", begin=now, end=now + timedelta(hours=1)),
        )
    )
    try:
        async with LiveDataService(live_settings()) as service:
            read = await service.read_traffic_feed()
    finally:
        stub.set_disruptions(None)

    assert read.ok, read.error
    assert stub.stats()["requests"] == {"prim.disruptions": 1}
    assert read.attempt.requests == 1
    assert set(read.disruptions) == {"metro:1", "rer:A"}
    assert read.disruptions["metro:1"][0].sections[0].to_name == "Nation"
    assert "metro:14" in read.line_ids  # every line the feed speaks for, disrupted or not


async def test_a_feed_request_the_budget_refuses_is_not_sent(
    live_settings: SettingsFactory, stub: StubUpstream
) -> None:
    async with LiveDataService(live_settings(prim_daily_quota_disruptions=1)) as service:
        first = await service.read_traffic_feed()
        second = await service.read_traffic_feed()

    assert first.ok
    assert not second.ok
    assert second.error is not None
    assert second.error.startswith("not attempted")
    assert stub.stats()["requests"] == {"prim.disruptions": 1}


async def test_a_broken_feed_answer_is_a_failed_read(live_settings: SettingsFactory, stub: StubUpstream) -> None:
    stub.set_faults("prim/disruptions:malformed")
    async with LiveDataService(live_settings()) as service:
        read = await service.read_traffic_feed()
    assert not read.ok
    assert read.disruptions == {}


async def test_line_fetches_ask_no_traffic_while_the_feed_covers_them_and_fall_back_when_not(
    live_settings: SettingsFactory, stub: StubUpstream
) -> None:
    gate = _Gate(covers=True)
    async with LiveDataService(live_settings(source_order="prim"), traffic_gate=gate) as service:
        covered = await service.fetch_line(get_catalogue().get("metro:1"))
        gate.value = False
        fallback = await service.fetch_line(get_catalogue().get("metro:1"))

    assert covered.traffic is None  # the feed's read wrote it; nothing to write
    assert "prim:traffic-fallback" not in {a.source for a in covered.attempts}
    assert fallback.traffic is not None
    assert fallback.traffic.level in ("normal", "disrupted", "closed")
    assert [a.ok for a in fallback.attempts if a.source == "prim:traffic-fallback"] == [True]
    assert stub.stats()["requests"]["prim.general-message"] == 1
