"""Every line's traffic from one read of PRIM's traffic feed per refresh, on real processes against the stub upstream.

A scheduler and three workers share one Postgres database; the stub serves PRIM's `disruptions_bulk` feed (the
recorded disruption moved onto metro 1 for a period holding now, and onto metro 2 for a period that ended an hour
ago, which PRIM still lists for about an hour). The fleet must read the feed exactly once per refresh whatever its
size, the line API must show metro 1's severity, period and section and nothing current on metro 2, and when the feed
answers 500 the traffic task must say so while the line fetches fill the traffic with their own per-line requests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from backend.api.app import create_app
from backend.catalogue import get_catalogue
from backend.db.models import TRAFFIC_FEED_TASK_LINE, TaskRun, TrafficFeed, TrafficStatus
from backend.devtools.upstream import feed_disruption, feed_of
from backend.livedata.traffic_feed import GATE_TTL_SECONDS
from backend.tests.api.conftest import ADMIN, READONLY, api_settings_for
from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.asgi import running
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import eventually, service_env, services

FEED_SECONDS = 30
SETTINGS: dict[str, Any] = {
    "scheduler_interval_seconds": 20,
    "scheduler_tick_seconds": 1,
    "source_order": "prim",
    "scheduler_lines": "metro:1,metro:2",
    "prim_traffic_feed_seconds": FEED_SECONDS,
    # The stub's day allows a million: what the feed's refresh asks for, not its allowance, sets the pace here.
    "prim_daily_quota_disruptions": 100_000,
    "task_retry_backoff_seconds": 1,
}


def the_feed(now: datetime) -> dict[str, Any]:
    catalogue = get_catalogue()
    return feed_of(
        feed_disruption(
            catalogue.get("metro:1"),
            disruption_id="current-on-metro-1",
            begin=now - timedelta(hours=1),
            end=now + timedelta(hours=2),
            section=("Château de Vincennes", "Nation"),
            whole_line=False,
        ),
        feed_disruption(
            catalogue.get("metro:2"),
            disruption_id="ended-on-metro-2",
            begin=now - timedelta(hours=3),
            end=now - timedelta(hours=1),
        ),
    )


async def feed_tasks(probe: PipelineProbe) -> list[TaskRun]:
    async with probe.database.sessions() as session:
        statement = select(TaskRun).where(TaskRun.line_id == TRAFFIC_FEED_TASK_LINE).order_by(TaskRun.scheduled_at)
        return list((await session.execute(statement)).scalars())


async def line_tasks(probe: PipelineProbe) -> list[TaskRun]:
    async with probe.database.sessions() as session:
        statement = select(TaskRun).where(TaskRun.line_id.in_(["metro:1", "metro:2"]), TaskRun.status == "succeeded")
        return list((await session.execute(statement)).scalars())


def sources_of(task: TaskRun) -> set[str]:
    return {attempt["source"] for attempt in (task.result or {}).get("attempts", []) if attempt["ok"]}


async def test_one_feed_read_per_refresh_serves_every_line_and_per_line_requests_stand_in_when_it_fails(
    postgres_url: str, tmp_path: Path
) -> None:
    probe = PipelineProbe(postgres_url)
    env = service_env(database_url=postgres_url, **SETTINGS)
    try:
        with services(tmp_path, env) as stack:
            port = await start_stub(stack, "--per-second", "5")
            configure(stack, **{**stub_env(port), **SETTINGS})
            settings = api_settings_for(postgres_url, **{**stub_env(port), **SETTINGS})
            async with (
                running(create_app(settings)) as api,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as stub,
            ):
                assert (await stub.post("/__stub/disruptions", json=the_feed(datetime.now(UTC)))).status_code == 200
                for _ in range(3):
                    stack.start("worker")
                stack.start("scheduler")

                # Two refreshes of the feed, each one read by one worker of the three.
                async def two_reads() -> list[TaskRun] | None:
                    done = [t for t in await feed_tasks(probe) if t.status == "succeeded"]
                    return done if len(done) >= 2 else None

                reads = await eventually(two_reads, timeout=120, message="two reads of the traffic feed")
                stats = (await stub.get("/__stub/stats")).json()
                tasks = await feed_tasks(probe)
                finished = [t for t in tasks if t.status == "succeeded"]
                # Exactly one request per refresh: as many requests as reads that finished (a read under way may
                # have sent its own), never two reads at once, and the refreshes FEED_SECONDS apart.
                assert len(finished) <= stats["requests"]["prim.disruptions"] <= len(finished) + 1
                assert all(t.attempt == 1 and t.result and t.result["disruptions"] == 2 for t in finished)
                assert reads[1].scheduled_at - reads[0].scheduled_at >= timedelta(seconds=FEED_SECONDS - 2)
                assert len({t.worker_id for t in finished}) >= 1
                # Once the feed is read (and the workers saw it), line fetches ask PRIM for no traffic of their own.
                seen_after = reads[0].finished_at + timedelta(seconds=GATE_TTL_SECONDS)

                async def covered_fetches() -> list[TaskRun] | None:
                    done = [t for t in await line_tasks(probe) if t.started_at and t.started_at > seen_after]
                    return done if len(done) >= 2 else None

                covered = await eventually(covered_fetches, timeout=60, message="line fetches after the first read")
                assert not [t for t in covered if "prim:traffic-fallback" in sources_of(t)]
                assert not [t for t in covered if "prim:traffic" in sources_of(t)]

                # The line page: metro 1's blocking disruption, its period and section; nothing current on metro 2.
                async def metro_1_disrupted() -> dict[str, Any] | None:
                    body = (await api.get("/api/lines/metro/1")).json()
                    return body if body["disruptions"] else None

                line = await eventually(metro_1_disrupted, timeout=30, message="metro 1's disruption served")
                [disruption] = line["disruptions"]
                assert disruption["id"] == "current-on-metro-1"
                assert disruption["severity"] == "blocking"
                assert disruption["current"] is True
                assert disruption["sections"] == [{"from_name": "Château de Vincennes", "to_name": "Nation"}]
                assert datetime.fromisoformat(disruption["period"]["end"]) > datetime.now(UTC)
                assert "<" not in (disruption["message"] or "")  # text only, never the upstream's HTML
                assert "alert(1)" not in (disruption["message"] or "")
                assert line["line"]["traffic"]["level"] == "disrupted"
                assert line["line"]["traffic"]["message"] == "Arrêt(s) non desservi(s)"
                metro_2 = (await api.get("/api/lines/metro/2")).json()
                assert metro_2["disruptions"] == []
                assert metro_2["line"]["traffic"]["level"] == "normal"

                # The feed fails: the traffic task says so, and the line fetches fill the traffic per line.
                fault = {"source": "prim", "route": "disruptions", "kind": "server_error"}
                assert (await stub.post("/__stub/faults", json=fault)).status_code == 200

                async def feed_failed() -> TaskRun | None:
                    failed = [t for t in await feed_tasks(probe) if t.error]
                    return failed[-1] if failed else None

                failed = await eventually(feed_failed, timeout=90, message="a failed read of the traffic feed")
                assert "HTTP 500" in (failed.error or "")
                assert "fall back to one general-message request per line" in (failed.error or "")
                assert failed.result is not None
                assert failed.result["fallback"] == "per-line general-message"
                async with probe.database.sessions() as session:
                    feed = await session.get(TrafficFeed, "prim")
                assert feed is not None
                assert "HTTP 500" in (feed.last_error or "")
                since = datetime.now(UTC)
                assert (await api.post("/api/system/scheduler/trigger", headers=ADMIN)).status_code == 200

                async def fallen_back() -> list[TaskRun] | None:
                    done = [t for t in await line_tasks(probe) if t.scheduled_at >= since]
                    lines = {t.line_id for t in done if "prim:traffic-fallback" in sources_of(t)}
                    return done if lines == {"metro:1", "metro:2"} else None

                await eventually(fallen_back, timeout=90, message="line fetches falling back to per-line traffic")
                stats = (await stub.get("/__stub/stats")).json()
                assert stats["requests"]["prim.general-message"] >= 2
                async with probe.database.sessions() as session:
                    statuses = {
                        row.line_id: row
                        for row in (await session.execute(select(TrafficStatus))).scalars()
                        if row.line_id in ("metro:1", "metro:2")
                    }
                # Written by the line fetches from general-message, over the feed's ("prim:disruptions").
                assert {line_id: row.source for line_id, row in statuses.items()} == {
                    "metro:1": "prim",
                    "metro:2": "prim",
                }
                report = (await api.get("/api/system/budget", headers=READONLY)).json()
                feed_api = next(a for a in report["apis"] if a["api"] == "disruptions")
                assert feed_api["used_today"] >= 3
                assert feed_api["planned_per_day"] == round(86_400 / FEED_SECONDS, 1)
    finally:
        await probe.close()
