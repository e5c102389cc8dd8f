"""Every fault class of every source ends as a readable attempt error or a partial result, never an exception;
failing sources are held back by their circuit breaker, Retry-After and the PRIM quotas."""

from __future__ import annotations

import json
import time

import pytest

from backend.catalogue import Catalogue
from backend.devtools.upstream import Fault, StubUpstream
from backend.services.live_data import LiveDataService
from backend.services.records import LineFetchResult, SourceAttempt
from backend.tests.services.conftest import SettingsFactory, timeout_for_fault


def attempt(result: LineFetchResult, source: str) -> SourceAttempt:
    found = [a for a in result.attempts if a.source == source]
    assert found, f"no {source} attempt in {result.attempts}"
    return found[-1]


PRIM_FAULTS = [
    ("timeout", "timeout after"),
    ("challenge", "HTTP 403"),
    ("forbidden", "HTTP 403"),
    ("rate_limit", "HTTP 429"),
    ("server_error", "HTTP 500"),
    ("truncated", "malformed JSON"),
    ("malformed", "malformed JSON"),
    ("empty", "empty answer"),
    ("unknown_id", "unknown id"),
]


@pytest.mark.parametrize(("kind", "reason"), PRIM_FAULTS)
async def test_prim_faults_are_recorded_and_ratp_takes_over(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream, kind: str, reason: str
) -> None:
    stub.set_faults(f"prim:{kind}")
    settings = live_settings(**timeout_for_fault(kind))

    async with LiveDataService(settings) as service:
        result = await service.fetch_line(catalogue.get("metro:1"))

    prim = attempt(result, "prim")
    assert not prim.ok
    assert reason in (prim.error or "")
    assert {d.source for d in result.departures} == {"ratp_http"}
    # Every stop answered through ratp.fr: the departures are refreshed, PRIM's failure stays in the attempts.
    assert result.status == "ok"
    assert not result.failed_stops
    assert result.traffic is not None
    assert result.traffic.level == "unknown"
    assert "traffic unavailable" in (result.traffic.message or "")
    assert "traffic: " in (result.error or "")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("server_error", "HTTP 500"),
        ("truncated", "malformed JSON"),
        ("empty", "empty answer"),
        ("unknown_id", "Le référentiel ne contient pas l'arrêt"),
    ],
)
async def test_prim_stop_faults_after_the_stop_areas_are_known(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream, kind: str, reason: str
) -> None:
    line = catalogue.get("metro:1")
    await service.fetch_line(line)  # learns the stop areas
    service.prim.forget_stop_answers()
    stub.set_faults(f"prim/stop-monitoring:{kind}")

    result = await service.fetch_line(line)

    prim = attempt(result, "prim")
    assert not prim.ok
    assert "stops failed" in (prim.error or "")
    assert reason in (prim.error or "")
    assert {d.source for d in result.departures} == {"ratp_http"}


RATP_FAULTS = [
    ("timeout", "timeout after"),
    ("challenge", "PLAYWRIGHT_SEEDING_ENABLED=false"),
    ("forbidden", "HTTP 403"),
    ("rate_limit", "HTTP 429"),
    ("server_error", "HTTP 500"),
    ("truncated", "malformed JSON"),
    ("malformed", "malformed JSON"),
    ("empty", "empty answer"),
    ("unknown_id", "HTTP 404"),
]


@pytest.mark.parametrize(("kind", "reason"), RATP_FAULTS)
async def test_ratp_faults_are_recorded_without_raising(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream, kind: str, reason: str
) -> None:
    stub.set_faults(f"ratp:{kind}")
    async with LiveDataService(live_settings(prim_api_key="", **timeout_for_fault(kind))) as service:
        result = await service.fetch_line(catalogue.get("metro:1"))

    ratp = attempt(result, "ratp_http")
    assert not ratp.ok
    assert reason in (ratp.error or "")
    assert result.departures == ()
    assert result.status == "failed"
    assert result.reason is not None
    assert all(not stop.answered for stop in result.stops)
    assert "departures: " in (result.error or "")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("malformed", "malformed ratp.fr board"), ("empty", "empty answer"), ("truncated", "malformed JSON")],
)
async def test_ratp_board_faults_are_recorded(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream, kind: str, reason: str
) -> None:
    stub.set_faults(f"ratp/next-passages:{kind}")
    async with LiveDataService(live_settings(prim_api_key="", source_order="ratp_http")) as service:
        result = await service.fetch_line(catalogue.get("tram:T3b"))

    ratp = attempt(result, "ratp_http")
    assert not ratp.ok
    assert "stations failed" in (ratp.error or "")
    assert reason in (ratp.error or "")
    assert result.status == "failed"
    assert result.reason == "upstream_error"


async def test_a_board_failing_on_one_line_only_leaves_the_others(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults("ratp/next-passages:malformed@tram:T3b")
    async with LiveDataService(live_settings(prim_api_key="", source_order="ratp_http")) as service:
        failing = await service.fetch_line(catalogue.get("tram:T3b"))
        working = await service.fetch_line(catalogue.get("tram:T3a"))

    assert failing.status == "failed"
    assert working.status == "ok", working.error


VMTR_FAULTS = [
    ("timeout", "no [POSV - INIT] within"),
    ("challenge", "HTTP 403"),
    ("forbidden", "HTTP 403"),
    ("rate_limit", "HTTP 429"),
    ("server_error", "HTTP 500"),
    ("truncated", "malformed socket event"),
    ("malformed", "malformed socket event"),
    ("unknown_id", "socket refused the room"),
    ("dropped", "socket closed by the server before sending vehicles"),
]


@pytest.mark.parametrize(("kind", "reason"), VMTR_FAULTS)
async def test_vmtr_faults_are_recorded_and_departures_still_come(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream, kind: str, reason: str
) -> None:
    stub.set_faults(f"vmtr:{kind}")

    async with LiveDataService(live_settings(**timeout_for_fault(kind))) as service:
        result = await service.fetch_line(catalogue.get("rer:E"))

    vmtr = attempt(result, "vmtr")
    assert not vmtr.ok
    assert reason in (vmtr.error or "")
    assert result.positions == ()
    assert result.departures
    # The departures were refreshed: a train-position failure is reported, and does not fail the line.
    assert result.status == "ok"
    assert "positions: " in (result.error or "")


async def test_vmtr_with_no_vehicles_is_an_empty_answer_not_an_error(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults("vmtr:empty")

    result = await service.fetch_line(catalogue.get("rer:E"))

    vmtr = attempt(result, "vmtr")
    assert (vmtr.ok, vmtr.items, vmtr.requests) == (True, 0, 2)
    assert result.positions == ()
    assert result.status == "ok"


async def test_wrong_origin_is_refused_by_the_socket(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    async with LiveDataService(live_settings(vmtr_origin="https://example.org")) as service:
        result = await service.fetch_line(catalogue.get("metro:2"))

    assert "HTTP 403" in (attempt(result, "vmtr").error or "")


async def test_failing_source_is_not_hammered_and_recovers_after_the_cool_down(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    settings = live_settings(
        upstream_breaker_failure_threshold=3, upstream_breaker_cooldown_seconds=30.0, upstream_max_concurrency=4
    )
    line = catalogue.get("metro:1")
    # The breakers' clock is ours: the cool-down passes when the test says so, not when a loaded machine is slow.
    now = [0.0]
    async with LiveDataService(settings, clock=lambda: now[0]) as service:
        await service.fetch_line(line)  # learns the stop areas
        service.prim.forget_stop_answers()
        stub.state.reset_stats()
        stub.set_faults("prim/stop-monitoring:server_error")

        failing = await service.fetch_line(line)
        sent = stub.stats()["requests"]["prim.stop-monitoring"]
        again = await service.fetch_line(line)

        # Requests already queued when the breaker opened at most; the other stops of the 25 were not asked.
        threshold, slots = settings.upstream_breaker_failure_threshold, settings.upstream_max_concurrency
        assert sent <= threshold + slots - 1
        assert stub.stats()["requests"]["prim.stop-monitoring"] == sent  # nor anything while open
        for result in (failing, again):
            assert "not attempted: prim paused until" in (attempt(result, "prim").error or "")
            assert {d.source for d in result.departures} == {"ratp_http"}
        assert service.breakers["prim"].snapshot().state == "open"

        stub.state.clear_faults()
        now[0] += 31.0
        recovered = await service.fetch_line(line)

    assert attempt(recovered, "prim").ok
    assert {d.source for d in recovered.departures} == {"prim"}
    assert service.breakers["prim"].snapshot().state == "closed"


async def test_short_retry_after_is_waited_for_and_the_request_retried(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults(Fault(source="prim", route="general-message", kind="rate_limit", count=1, retry_after=1))

    result = await service.fetch_line(catalogue.get("tram:T1"))

    traffic = attempt(result, "prim:traffic")
    assert traffic.ok
    assert traffic.requests == 2
    assert traffic.duration_ms >= 1000
    assert result.status == "ok", result.error


async def test_long_retry_after_pauses_the_source_instead_of_waiting(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults(Fault(source="prim", kind="rate_limit", retry_after=600))
    line = catalogue.get("tram:T1")

    started = time.monotonic()
    first = await service.fetch_line(line)
    prim_requests = stub.stats()["requests_by_source"]["prim"]
    second = await service.fetch_line(line)

    # Far from the 600 s asked: nobody waited for the Retry-After (a loose bound, so a loaded machine cannot fail it).
    assert time.monotonic() - started < 120
    # Whichever PRIM request met the 429 first (a stop or the traffic message) says so; the rest were not sent.
    assert any("Retry-After 600 s" in (a.error or "") for a in first.attempts if a.source.startswith("prim"))
    assert "not attempted: prim paused until" in (attempt(second, "prim").error or "")
    assert stub.stats()["requests_by_source"]["prim"] == prim_requests
    assert service.breakers["prim"].snapshot().retry_in_seconds > 500


async def test_prim_quota_refuses_requests_before_the_limit(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    async with LiveDataService(live_settings(prim_daily_quota_departures=10)) as service:
        result = await service.fetch_line(catalogue.get("metro:1"))
        [departures_quota] = [q for q in service.quota_snapshots() if q.name == "PRIM departures"]

    assert stub.stats()["requests"]["prim.stop-monitoring"] == departures_quota.used_today <= 9
    assert departures_quota.refused > 0
    prim = attempt(result, "prim")
    assert "quota pacing" in (prim.error or "")
    assert result.departures  # the stops PRIM could not be asked about came from ratp.fr
    assert {d.source for d in result.departures} == {"prim"}


async def test_fetch_ends_within_its_budget_when_everything_hangs(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults("prim:timeout", "ratp:timeout", "vmtr:timeout")
    settings = live_settings(upstream_timeout_seconds=3.0, upstream_fetch_budget_seconds=2.0, vmtr_listen_seconds=3.0)

    started = time.monotonic()
    async with LiveDataService(settings) as service:
        result = await service.fetch_line(catalogue.get("metro:6"))

    assert time.monotonic() - started < 3.5
    assert result.status == "failed"
    assert result.error is not None
    assert "time" in result.error


async def test_an_error_answer_is_shared_between_lines_like_a_good_one(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    # Châtelet is one stop area for metro 1 and metro 4: when it fails for one line, the other is not asked again.
    stub.set_faults(Fault(source="prim", route="stop-monitoring", kind="server_error", stations=["chatelet"]))
    stub.state.reset_stats()

    first = await service.fetch_line(catalogue.get("metro:1"))
    second = await service.fetch_line(catalogue.get("metro:4"))

    assert stub.stats()["faults_applied"] == {"prim.stop-monitoring:server_error": 1}
    for result in (first, second):
        [failed] = result.failed_stops
        assert failed.station_id == "chatelet"
        assert failed.cause == "HTTP 500"
        assert result.status == "partial"


async def test_an_unknown_id_answer_invalidates_only_that_stop_area(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    line = catalogue.get("metro:1")
    stub.set_faults(Fault(source="prim", route="stop-monitoring", kind="unknown_id", stations=["nation"], count=1))
    first = await service.fetch_line(line)
    service.prim.forget_stop_answers()
    stub.state.reset_stats()

    second = await service.fetch_line(line)

    assert [stop.station_id for stop in first.failed_stops] == ["nation"]
    assert first.failed_stops[0].cause == "PRIM: unknown id"
    # Only Nation lost its id: one look-up by name finds it again, every other stop kept its shipped id.
    assert second.status == "ok", second.error
    assert all(ref.stop_area_id for ref in service.stop_refs("metro:1").values())
    assert stub.stats()["requests"]["prim.navitia"] == 1


async def test_the_heartbeat_report_names_each_source_circuit_and_the_local_quotas(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults("prim:server_error")
    async with LiveDataService(live_settings(upstream_breaker_failure_threshold=1)) as service:
        await service.fetch_line(catalogue.get("metro:1"))
        report = service.counters()

    circuits = {breaker["name"]: breaker for breaker in report["breakers"]}
    assert set(circuits) == {"prim", "ratp_http", "vmtr"}
    assert circuits["prim"]["state"] == "open"
    assert "HTTP 500" in circuits["prim"]["last_error"]
    assert circuits["ratp_http"]["state"] == "closed"
    assert {quota["name"] for quota in report["quotas"]} >= {"PRIM departures"}
    json.dumps(report)  # it travels in the heartbeat's JSON column
