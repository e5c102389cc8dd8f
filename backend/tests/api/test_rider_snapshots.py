"""Rider answers served from pre-serialised snapshots stay true: the clock (a passing departure, a board turning
stale, an age) and a worker's write change them at once; ETag and Cache-Control let clients revalidate cheaply.

The API's clock is a test clock here (the snapshot module's and the queries' `utcnow`), so time passes without
waiting; the app checks data versions on every request unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from backend.api import snapshots as snapshots_module
from backend.api.app import create_app
from backend.api.schemas import LineDetail, LinesResponse, StationDetail
from backend.api.snapshot_hits import lines_viewed, station_key
from backend.clock import utcnow
from backend.db.engine import Database
from backend.db.models import LineSnapshot, LineView, StopBoard
from backend.livedata import queries
from backend.tests.api.conftest import api_settings_for
from backend.tests.api.seed import add, departure, snapshot
from backend.tests.support.asgi import running

LINE = "/api/lines/metro/1"
STALE_AFTER = 180.0  # 1.5 x the default 120 s interval


class ApiClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ApiClock:
    test_clock = ApiClock()
    monkeypatch.setattr(snapshots_module, "utcnow", test_clock)
    monkeypatch.setattr(queries, "utcnow", test_clock)
    return test_clock


def board(station_id: str, last_success_at: datetime, *, line_id: str = "metro:1") -> StopBoard:
    return StopBoard(
        line_id=line_id,
        station_id=station_id,
        status="ok",
        reason=None,
        source="prim",
        fetched_at=last_success_at,
        last_success_at=last_success_at,
        departures_count=1,
        error=None,
        task_run_id=None,
    )


def chatelet_board(detail: dict[str, Any]) -> dict[str, Any]:
    for direction in detail["directions"]:
        if direction["direction"] == "A":
            for branch in direction["branches"]:
                for station in branch["stations"]:
                    if station["station_id"] == "chatelet":
                        found: dict[str, Any] = station
                        return found
    raise AssertionError("chatelet not on metro 1, direction A")


@pytest.fixture
async def cached_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app that checks data versions only once an hour: what it serves comes from its snapshots."""
    async with running(create_app(api_settings_for(database_url, api_snapshot_check_seconds=3600))) as http:
        yield http


async def test_a_departure_leaves_a_served_board_when_its_time_passes(
    clock: ApiClock, cached_client: httpx.AsyncClient, db: Database
) -> None:
    now = clock.now
    await add(
        db,
        snapshot("metro:1", success_age_seconds=1),
        board("chatelet", now),
        departure("metro:1", "chatelet", "A", 0.5, now=now, destination="Soon"),
        departure("metro:1", "chatelet", "A", 6, now=now, destination="Later"),
    )
    first = await cached_client.get(LINE)
    assert [d["destination"] for d in chatelet_board(first.json())["departures"]] == ["Soon", "Later"]
    assert int(first.headers["cache-control"].rsplit("=", 1)[1]) <= 30  # never kept past the first departure

    clock.advance(31)
    second = await cached_client.get(LINE)
    assert [d["destination"] for d in chatelet_board(second.json())["departures"]] == ["Later"]
    assert second.headers["etag"] != first.headers["etag"]


async def test_a_served_board_turns_stale_and_ages_without_a_write(
    clock: ApiClock, cached_client: httpx.AsyncClient, db: Database
) -> None:
    now = clock.now
    answered = now - timedelta(seconds=STALE_AFTER - 10)
    await add(
        db,
        snapshot("metro:1", last_success_at=answered),
        board("chatelet", answered),
        departure("metro:1", "chatelet", "A", 30, now=now),
    )
    fresh = await cached_client.get(LINE)
    stop = chatelet_board(fresh.json())["freshness"]
    assert (stop["status"], stop["stale"], stop["age_seconds"]) == ("ok", False, STALE_AFTER - 10)

    clock.advance(4.5)
    aged = await cached_client.get(LINE)
    assert aged.headers["etag"] == fresh.headers["etag"]  # the same snapshot, only older
    assert chatelet_board(aged.json())["freshness"]["age_seconds"] == STALE_AFTER - 5.5
    assert aged.json()["line"]["freshness"]["age_seconds"] == STALE_AFTER - 5.5

    clock.advance(6)
    stale = await cached_client.get(LINE)
    stop = chatelet_board(stale.json())["freshness"]
    assert (stop["status"], stop["reason"], stop["stale"]) == ("stale", "not_fetched", True)
    assert stale.json()["line"]["freshness"]["status"] == "stale"
    assert stale.json()["line"]["freshness"]["stops_stale"] == 1


async def test_the_lines_list_counts_a_board_turning_stale(
    clock: ApiClock, cached_client: httpx.AsyncClient, db: Database
) -> None:
    now = clock.now
    await add(
        db,
        snapshot("metro:1", success_age_seconds=1),
        board("chatelet", now - timedelta(seconds=1)),
        board("nation", now - timedelta(seconds=STALE_AFTER - 5)),
    )

    def metro_1(body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = next(line for line in body["networks"][0]["lines"] if line["id"] == "metro:1")
        return found

    assert metro_1((await cached_client.get("/api/lines")).json())["freshness"]["stops_stale"] == 0
    clock.advance(6)
    assert metro_1((await cached_client.get("/api/lines")).json())["freshness"]["stops_stale"] == 1


async def test_if_none_match_is_a_304_until_a_worker_writes_the_line(
    clock: ApiClock, client: httpx.AsyncClient, db: Database
) -> None:
    now = clock.now
    await add(db, snapshot("metro:1", success_age_seconds=1), departure("metro:1", "chatelet", "A", 5, now=now))
    first = await client.get(LINE)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"].startswith("public, max-age=")

    again = await client.get(LINE, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    listed = await client.get(LINE, headers={"If-None-Match": f'"other", {etag.removeprefix("W/")}'})
    assert listed.status_code == 304

    # A worker's write replaces the line's snapshot row: a new version, a new answer.
    async with db.write_sessions() as session, session.begin():
        row = await session.get(LineSnapshot, "metro:1")
        assert row is not None
        row.fetched_at, row.task_run_id = now, "task-2"
        session.add(departure("metro:1", "chatelet", "A", 9, now=now, destination="New"))
    changed = await client.get(LINE, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "New" in [d["destination"] for d in chatelet_board(changed.json())["departures"]]


async def test_the_snapshot_is_the_answer_the_models_would_give(
    clock: ApiClock, client: httpx.AsyncClient, db: Database
) -> None:
    """The bytes served equal a fresh validation of the same data at the same moment."""
    now = clock.now
    await add(
        db,
        snapshot("metro:1", success_age_seconds=12.3),
        board("chatelet", now - timedelta(seconds=7.25)),
        departure("metro:1", "chatelet", "A", 3, now=now),
        departure(
            "metro:1", "chatelet", "R", 0, now=now, vehicle_at_stop=True, expected_at=now - timedelta(seconds=20)
        ),
    )
    responses = {path: await client.get(path) for path in (LINE, "/api/lines", "/api/stations/chatelet")}
    async with db.sessions() as session:
        line = LineDetail.model_validate(await queries.line_detail(session, "metro:1", stale_after_seconds=STALE_AFTER))
        networks = await queries.lines_by_network(session, stale_after_seconds=STALE_AFTER)
        station = StationDetail.model_validate(
            await queries.station_detail(session, "chatelet", stale_after_seconds=STALE_AFTER)
        )
    lines = LinesResponse.model_validate(
        {"networks": networks, "summary": queries.live_summary([x for n in networks for x in n.lines])}
    )
    # The line's planned refresh interval comes from the budget's plan, not from the line's rows.
    line.refresh_interval_seconds = responses[LINE].json()["refresh_interval_seconds"]
    assert responses[LINE].content == line.model_dump_json().encode()
    assert responses["/api/lines"].content == lines.model_dump_json().encode()
    assert responses["/api/stations/chatelet"].content == station.model_dump_json().encode()


async def test_a_kept_answer_is_the_full_answer_with_every_header(
    clock: ApiClock, cached_client: httpx.AsyncClient, db: Database
) -> None:
    """The second read is answered before routing (backend/api/snapshot_hits.py): same bytes, same tag, and the
    headers every answer carries; a request from a browser origin gets its CORS headers too."""
    now = clock.now
    await add(db, snapshot("metro:1", success_age_seconds=1), departure("metro:1", "chatelet", "A", 5, now=now))
    built = await cached_client.get(LINE, headers={"X-Request-ID": "first-read"})
    kept = await cached_client.get(LINE, headers={"X-Request-ID": "second-read"})
    assert (kept.status_code, kept.content, kept.headers["etag"]) == (200, built.content, built.headers["etag"])
    assert kept.headers["x-request-id"] == "second-read"
    for name in (
        "content-type",
        "cache-control",
        "x-content-type-options",
        "content-security-policy",
        "x-frame-options",
    ):
        assert kept.headers[name] == built.headers[name], name
    not_modified = await cached_client.get(LINE, headers={"If-None-Match": built.headers["etag"]})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["x-content-type-options"] == "nosniff"

    from_browser = await cached_client.get(LINE, headers={"Origin": "http://localhost:3000"})
    assert from_browser.content == built.content
    assert from_browser.headers["access-control-allow-origin"] == "http://localhost:3000"
    # A path the routes refuse is refused the same way, kept answers or not.
    assert (await cached_client.get("/api/lines/metro/" + "1" * 40)).status_code == 422
    assert (await cached_client.get("/api/lines/metro/99")).status_code == 404


async def test_a_write_reaches_kept_answers_without_a_read_waiting_for_the_check(
    database_url: str, db: Database
) -> None:
    """Versions are checked in the background of kept answers: a worker's write shows within one check."""
    now = utcnow()
    async with running(create_app(api_settings_for(database_url, api_snapshot_check_seconds=0.05))) as http:
        await add(db, snapshot("metro:1", success_age_seconds=1), departure("metro:1", "chatelet", "A", 5, now=now))
        first = await http.get(LINE)
        async with db.write_sessions() as session, session.begin():
            row = await session.get(LineSnapshot, "metro:1")
            assert row is not None
            row.fetched_at, row.task_run_id = utcnow(), "task-2"
            session.add(departure("metro:1", "chatelet", "A", 9, now=now, destination="New"))
        for _ in range(400):
            answer = await http.get(LINE)
            if answer.headers["etag"] != first.headers["etag"]:
                break
            await asyncio.sleep(0.025)
        assert "New" in [d["destination"] for d in chatelet_board(answer.json())["departures"]]


async def test_a_kept_answer_renews_the_viewing_lease_of_its_lines(database_url: str, db: Database) -> None:
    """A lease renewed on every read (VIEW_LEASE_SECONDS tiny): rows deleted after the first read come back from
    kept answers alone."""
    settings = api_settings_for(database_url, api_snapshot_check_seconds=3600, view_lease_seconds=0.04)
    async with running(create_app(settings)) as http:
        await add(db, snapshot("metro:1", success_age_seconds=1), departure("metro:1", "chatelet", "A", 5))
        for path in (LINE, "/api/stations/chatelet"):
            assert (await http.get(path)).status_code == 200
        await asyncio.sleep(0.1)  # the built reads' leases are written
        async with db.write_sessions() as session, session.begin():
            await session.execute(delete(LineView))
        leased: set[str] = set()
        for _ in range(400):
            for path in (LINE, "/api/stations/chatelet"):
                assert (await http.get(path)).status_code == 200
            async with db.sessions() as session:
                leased = set((await session.execute(select(LineView.line_id))).scalars())
            if leased >= set(lines_viewed(station_key("chatelet"))):
                break
            await asyncio.sleep(0.025)
    assert "metro:1" in leased
    assert leased >= set(lines_viewed(station_key("chatelet")))
