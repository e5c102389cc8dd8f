"""What a rider and an operator see when the departures upstream fails, on real processes.

Each case runs the stub upstream, a worker and the scheduler as processes on one Postgres database (the
database-backed queue), lets a first cycle fill metro 1's boards, lets those boards age past the freshness window,
injects a fault into PRIM's stop-monitoring and triggers a second cycle through the system API. It then reads what
the task, its log lines, the line's and each stop's freshness and the public API say: a failed fetch is a failed
task, a partial one says which stops failed, old boards are kept but marked stale with their age, nothing that
passed is listed, and no failure empties another stop's board.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backend.api.app import create_app
from backend.catalogue import get_catalogue
from backend.db.models import StopBoard, SystemLog, TaskRun
from backend.tests.api.conftest import ADMIN, READONLY, api_settings_for
from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.asgi import running
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import Services, eventually, service_env, services

LINE = "metro:1"
STALE_AFTER_SECONDS = 2.0
ALL_STATIONS = list(dict.fromkeys(place.station.id for place in get_catalogue().stations_for(LINE)))
HALF = ALL_STATIONS[::2]


@dataclass
class Seen:
    """What the second cycle left: the task, its warning lines, and the API's answers."""

    task: TaskRun
    warnings: list[SystemLog]
    line: dict[str, Any]  # GET /api/lines/metro/1
    summary: dict[str, Any]  # the line's entry in GET /api/lines
    boards: dict[str, dict[str, Any]]  # station id -> direction A board (departures, freshness)
    health: list[dict[str, Any]]  # GET /api/system/lines
    stop_rows: dict[str, StopBoard]
    before: dict[str, list[str]] = field(default_factory=dict)  # station id -> departure times after cycle 1


def expected_warnings(task: TaskRun) -> int:
    """A success logs no warning, a partial refresh one, a failure one per attempt."""
    return {"succeeded": 0, "partial": 1}.get(task.status, task.attempt)


@dataclass
class Harness:
    stack: Services
    probe: PipelineProbe
    api: httpx.AsyncClient
    stub: httpx.AsyncClient

    async def finished(self, after: datetime) -> TaskRun | None:
        final = [
            task
            for task in await self.probe.tasks()
            if task.line_id == LINE
            and task.scheduled_at > after
            and task.status in ("succeeded", "partial", "failed", "expired")
        ]
        return final[0] if final else None

    async def cycle(self) -> TaskRun:
        after = datetime.now(UTC) - timedelta(milliseconds=1)
        response = await self.api.post("/api/system/scheduler/trigger", headers=ADMIN)
        assert response.status_code == 200, response.text
        return await eventually(lambda: self.finished(after), timeout=90, message="the cycle's task to finish")

    async def set_faults(self, *faults: dict[str, Any]) -> None:
        response = await self.stub.post("/__stub/faults", json={"faults": list(faults), "replace": True})
        assert response.status_code == 200, response.text

    async def boards(self) -> dict[str, dict[str, Any]]:
        body = (await self.api.get(f"/api/lines/{LINE.replace(':', '/')}")).json()
        return {
            station["station_id"]: station
            for direction in body["directions"]
            if direction["direction"] == "A"
            for branch in direction["branches"]
            for station in branch["stations"]
        }

    async def warnings(self, task_id: str, *, expected: int) -> list[SystemLog]:
        """The worker's WARNING lines about the task, once `expected` of them reached the centralized log."""
        if expected == 0:
            await asyncio.sleep(1.0)  # what would have been logged has been flushed by now

        async def logged() -> list[SystemLog] | None:
            async with self.probe.database.sessions() as session:
                rows = (
                    await session.execute(
                        select(SystemLog).where(SystemLog.level == "WARNING", SystemLog.service == "worker")
                    )
                ).scalars()
                mine = [row for row in rows if (row.extra or {}).get("task_id") == task_id]
            return mine if len(mine) >= expected else None

        if expected == 0:
            return await logged() or []

        return await eventually(logged, timeout=20, message=f"{expected} warning(s) about task {task_id}")

    async def station(self, station_id: str) -> dict[str, dict[str, Any]]:
        """A public station page's freshness entries, by line."""
        response = await self.api.get(f"/api/stations/{station_id}")
        assert response.status_code == 200, response.text
        return {entry["line_id"]: entry for entry in response.json()["freshness"]}

    async def seen(self, task: TaskRun, before: dict[str, list[str]]) -> Seen:
        line = (await self.api.get(f"/api/lines/{LINE.replace(':', '/')}")).json()
        lines = (await self.api.get("/api/lines")).json()
        summary = next(item for network in lines["networks"] for item in network["lines"] if item["id"] == LINE)
        health = (await self.api.get("/api/system/lines", headers=READONLY)).json()
        async with self.probe.database.sessions() as session:
            stop_rows = {
                row.station_id: row
                for row in (await session.execute(select(StopBoard).where(StopBoard.line_id == LINE))).scalars()
            }
        return Seen(
            task=task,
            warnings=await self.warnings(task.id, expected=expected_warnings(task)),
            line=line,
            summary=summary,
            boards=await self.boards(),
            health=health,
            stop_rows=stop_rows,
            before=before,
        )


@pytest.fixture
async def harness(postgres_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """Stub, worker and scheduler processes with metro 1's boards filled by a first, healthy cycle."""
    probe = PipelineProbe(postgres_url)
    settings = api_settings_for(
        postgres_url, freshness_stale_after_seconds=STALE_AFTER_SECONDS, task_max_attempts=2, scheduler_lines=LINE
    )
    env = service_env(
        database_url=postgres_url,
        scheduler_interval_seconds=3600,
        centralized_logging_enabled="true",
        task_max_attempts=2,
        upstream_timeout_seconds=1,
        upstream_breaker_cooldown_seconds=2,
        prim_stop_cache_seconds=0.5,  # each cycle asks anew (its answers are shared within the cycle only)
    )
    try:
        with services(tmp_path, env) as stack:
            port = await start_stub(stack, latency_ms=0)
            configure(stack, **{**stub_env(port), "source_order": "prim"}, scheduler_lines=LINE)
            stack.start("worker")
            stack.start("scheduler")
            await eventually(lambda: probe.all_succeeded(1), timeout=120, message="the first cycle to succeed")
            async with (
                running(create_app(settings)) as api,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as stub,
            ):
                yield Harness(stack, probe, api, stub)
    finally:
        await probe.close()


async def second_cycle(harness: Harness, *faults: dict[str, Any]) -> Seen:
    before = {
        station: [d["expected_at"] for d in board["departures"]] for station, board in (await harness.boards()).items()
    }
    assert sum(map(len, before.values())) > 0, "the first cycle filled the boards"
    await asyncio.sleep(STALE_AFTER_SECONDS + 0.5)  # the first cycle's boards are now older than the window
    await harness.set_faults(*faults)
    task = await harness.cycle()
    return await harness.seen(task, before)


def departure_times(boards: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {station: [d["expected_at"] for d in board["departures"]] for station, board in boards.items()}


def stop_monitoring(kind: str, **extra: Any) -> dict[str, Any]:
    return {"source": "prim", "route": "stop-monitoring", "kind": kind, **extra}


def assert_nothing_passed_is_listed(seen: Seen) -> None:
    now = datetime.now(UTC)
    for board in seen.boards.values():
        for departure in board["departures"]:
            expected = datetime.fromisoformat(departure["expected_at"])
            assert expected >= now - timedelta(minutes=1)
            if expected < now - timedelta(seconds=5):
                assert departure["vehicle_at_stop"], departure


def assert_failed_line_keeps_old_boards_marked_stale(seen: Seen, reasons: set[str], error: str) -> None:
    """A fetch in which no stop answered: a failed task (retried first), one WARNING per attempt, every board
    kept with its own age and marked failed, the line failed and not live."""
    assert seen.task.status == "failed"
    assert seen.task.error is not None
    assert seen.task.error.startswith("failed after 2 attempts: ")
    assert error in seen.task.error
    assert len(seen.warnings) == 2, [(w.message, w.extra) for w in seen.warnings]  # per attempt, not per stop
    for warning in seen.warnings:
        assert LINE in warning.message, warning.message
        assert (warning.extra or {}).get("line_id") == LINE, warning.extra
    freshness = seen.summary["freshness"]
    assert freshness["status"] == "failed"
    assert freshness["reason"] in reasons
    assert freshness["stale"] is True
    assert freshness["stops_failed"] == freshness["stops_total"] == len(ALL_STATIONS)
    assert "error" not in freshness
    for station, board in seen.boards.items():
        assert board["freshness"]["status"] == "failed", station
        assert board["freshness"]["stale"] is True
        assert board["freshness"]["age_seconds"] > STALE_AFTER_SECONDS
        assert board["freshness"]["reason"] in reasons
    # The old departures are still shown (marked as above), minus any whose time has passed meanwhile.
    kept = {station: [d["expected_at"] for d in board["departures"]] for station, board in seen.boards.items()}
    for station, times in kept.items():
        assert set(times) <= set(seen.before[station])
    assert sum(map(len, kept.values())) > 0
    assert_nothing_passed_is_listed(seen)
    [health] = [row for row in seen.health if row["line_id"] == LINE]
    assert health["status"] == "failed"
    assert error in (health["error"] or "")
    assert len(health["failed_stops"]) == len(ALL_STATIONS)


FAILURES: list[tuple[str, dict[str, Any], set[str], str]] = [
    ("all stops HTTP 400", stop_monitoring("bad_request"), {"upstream_error"}, "HTTP 400"),
    ("SIRI ErrorCondition", stop_monitoring("unknown_id"), {"upstream_error"}, "PRIM: unknown id"),
    ("malformed answers", stop_monitoring("malformed"), {"upstream_error", "paused"}, "prim"),
    ("HTTP 429 with Retry-After", stop_monitoring("rate_limit", retry_after=60), {"rate_limited", "paused"}, "429"),
    ("timeouts", stop_monitoring("timeout"), {"unreachable", "paused"}, "timeout"),
]


@pytest.mark.parametrize(("case", "fault", "reasons", "error"), FAILURES, ids=[case[0] for case in FAILURES])
async def test_a_fetch_no_stop_answered_fails_the_task_and_keeps_every_board_marked_stale(
    harness: Harness, case: str, fault: dict[str, Any], reasons: set[str], error: str
) -> None:
    seen = await second_cycle(harness, fault)
    assert_failed_line_keeps_old_boards_marked_stale(seen, reasons, error)
    if "Retry-After" in case or "timeouts" in case:
        # Requests the paused source refused say so, with this fetch's own cause, not a borrowed one.
        assert "not attempted: prim paused until" in (seen.task.error or "")


async def test_an_answer_with_no_visits_empties_the_boards_and_is_a_success(harness: Harness) -> None:
    seen = await second_cycle(harness, stop_monitoring("no_visits"))

    assert seen.task.status == "succeeded"
    assert seen.task.error is None
    assert seen.warnings == []
    freshness = seen.summary["freshness"]
    assert (freshness["status"], freshness["stale"], freshness["stops_failed"]) == ("no_data", False, 0)
    for station, board in seen.boards.items():
        assert board["departures"] == [], station  # the upstream says nothing is coming: that is the truth
        assert board["freshness"]["status"] == "no_data"
        assert board["freshness"]["stale"] is False


async def test_half_the_stops_failing_is_a_partial_task_that_touches_only_those_stops(harness: Harness) -> None:
    seen = await second_cycle(harness, stop_monitoring("bad_request", stations=HALF))

    assert seen.task.status == "partial"
    assert seen.task.error is not None
    assert f"{len(HALF)} of {len(ALL_STATIONS)} stops failed: HTTP 400" in seen.task.error
    assert HALF[0] in seen.task.error  # which stops
    [warning] = seen.warnings
    assert "refreshed part of the line" in warning.message
    freshness = seen.summary["freshness"]
    assert freshness["status"] == "partial"
    assert (freshness["stops_failed"], freshness["stops_total"]) == (len(HALF), len(ALL_STATIONS))
    for station, board in seen.boards.items():
        if station in HALF:
            # Failed: its last good board stays, dated and marked stale.
            assert board["freshness"]["status"] == "failed", station
            assert board["freshness"]["stale"] is True
            assert board["freshness"]["age_seconds"] > STALE_AFTER_SECONDS
            assert {d["expected_at"] for d in board["departures"]} <= set(seen.before[station])
        else:
            assert board["freshness"]["status"] in ("ok", "no_data"), station
            assert board["freshness"]["stale"] is False
            assert all(datetime.fromisoformat(d["fetched_at"]) > seen.task.scheduled_at for d in board["departures"])
    assert any(seen.boards[station]["departures"] for station in HALF)
    assert_nothing_passed_is_listed(seen)
    # The public station page of a failed stop says its metro 1 board is old; an answered stop's page does not.
    failed_page = await harness.station(HALF[0])
    answered_page = await harness.station(ALL_STATIONS[1])
    assert failed_page[LINE]["stop"]["status"] == "failed"
    assert failed_page[LINE]["stop"]["age_seconds"] > STALE_AFTER_SECONDS
    assert failed_page[LINE]["freshness"]["status"] == "partial"
    assert answered_page[LINE]["stop"]["status"] in ("ok", "no_data")


async def test_a_half_open_probe_refreshes_one_stop_and_never_empties_the_others(harness: Harness) -> None:
    before = {
        station: [d["expected_at"] for d in board["departures"]] for station, board in (await harness.boards()).items()
    }
    await harness.set_faults(stop_monitoring("server_error"))
    for _ in range(3):  # an outage: cycles in which no stop answers (and the breaker opens)
        outage = await harness.cycle()
        if outage.status == "failed":
            break
    assert outage.status == "failed", outage.error
    await harness.set_faults()  # the upstream is back
    await asyncio.sleep(2.5)  # past the breaker's cool-down: the next request is its one probe
    task = await harness.cycle()
    seen = await harness.seen(task, before)

    assert seen.task.status == "partial"
    assert "prim is being probed" in (seen.task.error or "")
    refreshed = [s for s, board in seen.boards.items() if board["freshness"]["status"] in ("ok", "no_data")]
    assert len(refreshed) == 1  # the probe's stop, and only it
    for station, board in seen.boards.items():
        if station in refreshed:
            continue
        assert board["freshness"]["status"] == "failed", station
        assert board["freshness"]["reason"] == "paused"
        # Not emptied: the board from before the outage is still there (less what has passed since).
        assert {d["expected_at"] for d in board["departures"]} <= set(before[station])
    assert sum(len(board["departures"]) for s, board in seen.boards.items() if s not in refreshed) > 0
    assert seen.summary["freshness"]["status"] == "partial"


async def test_the_worker_heartbeat_shows_a_source_paused_by_a_retry_after(harness: Harness) -> None:
    await harness.set_faults(stop_monitoring("rate_limit", retry_after=600))
    task = await harness.cycle()
    assert task.status == "failed", task.error

    async def prim_circuit() -> dict[str, Any] | None:
        response = await harness.api.get("/api/system/workers", headers=READONLY)
        assert response.status_code == 200, response.text
        circuits = [
            circuit for worker in response.json() for circuit in worker["circuits"] if circuit["name"] == "prim"
        ]
        return circuits[0] if circuits and circuits[0]["state"] != "closed" else None

    # The orchestrator's fleet table reads this: the source paused for the time PRIM asked, and why.
    circuit = await eventually(prim_circuit, timeout=30, message="a heartbeat with prim's circuit open")
    assert circuit["state"] == "open"
    assert 60 < circuit["retry_in_seconds"] <= 600
    assert "Retry-After 600 s" in circuit["last_error"]
    assert circuit["consecutive_failures"] >= 1
