"""The system API reads the pipeline's state truthfully, pages task runs, triggers the scheduler, rate-limits and
audits changes, and turns every bad input into a 4xx with a message."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from backend.api.app import create_app
from backend.bus.kafka import TaskPublisher, ensure_topic, message_for
from backend.clock import utcnow
from backend.db.engine import Database
from backend.db.models import StopBoard
from backend.tests.api import seed
from backend.tests.api.conftest import ADMIN, READONLY, api_settings_for
from backend.tests.support.asgi import running
from backend.tests.support.services import KafkaBroker, free_port


async def test_db_summary_counts_tasks_workers_and_departures(client: httpx.AsyncClient, db: Database) -> None:
    await seed.add(
        db,
        seed.task_run("metro:1", status="queued"),
        seed.task_run("metro:2", status="running"),
        seed.task_run("metro:1", status="succeeded"),
        seed.task_run("metro:1", status="succeeded"),
        seed.task_run("metro:3", status="failed", error="all sources failed"),
        seed.task_run("metro:4", status="expired"),
        seed.task_run("metro:5", status="partial", error="2 of 20 stops failed: HTTP 400"),
        seed.worker("w-idle"),
        seed.worker("w-busy", status="busy", current_task_id="t1", current_line_id="metro:2"),
        seed.worker("w-silent", heartbeat_age_seconds=300),
        seed.worker("w-stopped", status="stopped", heartbeat_age_seconds=300),
        seed.departure("metro:1", "chatelet", "A", 3, destination="Château de Vincennes"),
        seed.departure("metro:1", "chatelet", "A", -10),
        seed.snapshot("metro:1"),
        seed.snapshot("metro:2", status="failed", success_age_seconds=None),
    )
    response = await client.get("/api/system/db/summary", headers=READONLY)
    assert response.status_code == 200
    body = response.json()
    assert body["tasks"] == {
        "queued": 1,
        "running": 1,
        "succeeded": 2,
        "partial": 1,
        "failed": 1,
        "expired": 1,
        "total": 7,
    }
    assert body["workers"] == {"starting": 0, "idle": 1, "busy": 1, "draining": 0, "stopped": 1, "lost": 1, "total": 4}
    assert body["departures"] == 1
    assert body["lines_with_data"] == 1
    [highlight] = body["recent_departures"]
    assert highlight["line"]["id"] == "metro:1"
    assert highlight["line"]["colour"] == "#FFCD00"
    assert highlight["station_name"] == "Châtelet"
    assert highlight["destination"] == "Château de Vincennes"


async def test_line_health_gives_operators_the_technical_detail_of_lines_not_ok(
    client: httpx.AsyncClient, db: Database
) -> None:
    now = utcnow()
    attempts = [{"source": "prim", "ok": False, "error": "timeout", "duration_ms": 10.0, "requests": 2, "items": 0}]
    await seed.add(
        db,
        seed.snapshot("metro:1"),
        seed.snapshot(
            "metro:2", status="partial", reason="unreachable", error="1 of 2 stops failed: timeout", attempts=attempts
        ),
        StopBoard(
            line_id="metro:2",
            station_id="nation",
            status="failed",
            reason="unreachable",
            source="prim",
            fetched_at=now,
            last_success_at=now - timedelta(minutes=9),
            departures_count=3,
            error="timeout after 10.0 s on /stop-monitoring",
        ),
        StopBoard(
            line_id="metro:2",
            station_id="anvers",
            status="failed",
            reason="no_stop_ids",
            source="prim",
            fetched_at=now,
            last_success_at=None,
            departures_count=0,
            error="not attempted: no PRIM stop area known",
        ),
    )
    response = await client.get("/api/system/lines", headers=READONLY)
    assert response.status_code == 200, response.text
    [line] = response.json()  # metro 1 is ok: only lines with a problem by default
    assert (line["line_id"], line["status"], line["reason"]) == ("metro:2", "partial", "unreachable")
    assert line["error"] == "1 of 2 stops failed: timeout"
    assert line["attempts"][0]["error"] == "timeout"
    failed = {stop["station_id"]: stop for stop in line["failed_stops"]}
    assert failed["nation"]["error"] == "timeout after 10.0 s on /stop-monitoring"
    assert failed["nation"]["status"] == "failed"
    assert line["stations_without_ids"] == [{"station_id": "anvers", "name": "Anvers"}]
    everything = (await client.get("/api/system/lines?problems=false", headers=READONLY)).json()
    assert {row["line_id"] for row in everything} == {"metro:1", "metro:2"}
    assert (await client.get("/api/system/lines")).status_code == 401


async def test_workers_show_a_silent_worker_as_lost(client: httpx.AsyncClient, db: Database) -> None:
    await seed.add(
        db,
        seed.worker("w-b", status="busy", assigned_partitions=[3, 1], current_line_id="rer:A"),
        seed.worker("w-lost", status="busy", heartbeat_age_seconds=31),
        seed.worker("w-gone", status="stopped", heartbeat_age_seconds=600),
        seed.worker("w-a", heartbeat_age_seconds=2),
    )
    workers = (await client.get("/api/system/workers", headers=ADMIN)).json()
    assert [(w["id"], w["status"]) for w in workers] == [
        ("w-b", "busy"),
        ("w-a", "idle"),
        ("w-lost", "lost"),
        ("w-gone", "stopped"),
    ]
    busy = workers[0]
    assert busy["assigned_partitions"] == [3, 1]
    assert busy["current_line_id"] == "rer:A"
    assert busy["processed_count"] == 3
    assert busy["metrics"] == {"in_flight": 0}
    assert 1.5 <= workers[1]["heartbeat_age_seconds"] < 10
    assert workers[2]["heartbeat_age_seconds"] >= 31


async def test_workers_show_each_source_circuit_from_the_heartbeat(client: httpx.AsyncClient, db: Database) -> None:
    paused = {
        "name": "prim",
        "state": "open",
        "consecutive_failures": 5,
        "last_error": "HTTP 503 from /marketplace/stop-monitoring",
        "retry_in_seconds": 21.5,
    }
    closed = {"name": "vmtr", "state": "closed", "consecutive_failures": 0, "last_error": None, "retry_in_seconds": 0}
    await seed.add(
        db,
        seed.worker(
            "w-paused", metrics={"upstream": {"breakers": [paused, closed, {"name": "garbled"}], "quotas": []}}
        ),
        seed.worker("w-older"),
    )
    workers = {w["id"]: w for w in (await client.get("/api/system/workers", headers=ADMIN)).json()}
    assert workers["w-paused"]["circuits"] == [paused, closed]  # an entry it cannot read is left out
    assert workers["w-older"]["circuits"] == []  # a heartbeat without the report


async def test_queue_reports_counts_and_the_last_scheduler_run(client: httpx.AsyncClient, db: Database) -> None:
    earlier = utcnow() - timedelta(minutes=5)
    await seed.add(
        db,
        seed.task_run("metro:1", status="queued"),
        seed.task_run("metro:2", status="queued"),
        seed.task_run("metro:3", status="running"),
        seed.task_run("metro:4", status="succeeded", scheduled_at=earlier),
        seed.scheduler_run(started_at=earlier, trigger="manual", requested_by="admin"),
    )
    body = (await client.get("/api/system/queue", headers=ADMIN)).json()
    assert body["bus"] == "database"
    assert (body["queued"], body["running"]) == (2, 1)
    assert body["last_scheduled_at"] is not None
    assert body["last_run"]["trigger"] == "manual"
    assert body["last_run"]["requested_by"] == "admin"
    assert body["last_run"]["coalesced"] == 2
    assert body["kafka"] is None
    assert body["kafka_error"] is None


@pytest.mark.kafka
async def test_queue_reports_the_consumer_group_lag_on_kafka(sqlite_url: str, kafka: KafkaBroker) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = api_settings_for(
        sqlite_url,
        kafka_bootstrap_servers=kafka.bootstrap,
        kafka_task_topic=f"api-lag-{suffix}",
        kafka_consumer_group=f"api-lag-{suffix}",
        kafka_task_partitions=3,
    )
    await ensure_topic(settings)
    publisher = TaskPublisher(settings)
    await publisher.start()
    try:
        await publisher.publish([message_for(f"t{i}", "metro:1", 1, utcnow()) for i in range(5)])
    finally:
        await publisher.stop()
    async with running(create_app(settings)) as client:
        # A broker that just started has no group coordinator for a while: meanwhile the answer says so.
        for _ in range(30):
            body = (await client.get("/api/system/queue", headers=ADMIN)).json()
            if body["kafka_error"] is None:
                break
            assert body["kafka"] is None
            await asyncio.sleep(1)
    assert body["bus"] == "kafka"
    assert body["kafka_error"] is None
    kafka_lag = body["kafka"]
    assert kafka_lag["topic"] == settings.kafka_task_topic
    assert kafka_lag["partitions"] == 3
    assert kafka_lag["lag_total"] == 5
    assert sum(p["end_offset"] for p in kafka_lag["lag_by_partition"]) == 5
    assert all(p["committed"] is None for p in kafka_lag["lag_by_partition"])
    assert kafka_lag["members"] == 0


async def test_queue_answers_quickly_with_a_reason_when_the_broker_is_down(sqlite_url: str) -> None:
    settings = api_settings_for(sqlite_url, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    async with running(create_app(settings)) as client:
        started = time.monotonic()
        response = await client.get("/api/system/queue", headers=ADMIN)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert body["bus"] == "kafka"
    assert body["kafka"] is None
    assert settings.kafka_bootstrap_servers in body["kafka_error"]
    assert elapsed < 10


async def test_tasks_are_paged_newest_first_with_a_cursor(client: httpx.AsyncClient, db: Database) -> None:
    now = utcnow()
    lines = ["metro:1", "metro:2", "metro:3", "metro:4", "metro:5", "metro:6", "metro:7"]
    await seed.add(
        db,
        *[seed.task_run(line, scheduled_at=now - timedelta(minutes=i)) for i, line in enumerate(lines)],
        # Same scheduled time as metro:1's: the id breaks the tie, and no run is skipped or repeated.
        seed.task_run("metro:8", scheduled_at=now),
    )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/system/tasks", params=params, headers=READONLY)).json()
        seen += [item["line_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted([*lines, "metro:8"])
    assert seen[2:] == lines[1:]


async def test_tasks_filter_by_status_and_line(client: httpx.AsyncClient, db: Database) -> None:
    await seed.add(
        db,
        seed.task_run("metro:1", status="failed", error="boom", result={"departures": 0}),
        seed.task_run("metro:1", status="succeeded"),
        seed.task_run("rer:A", status="failed"),
    )
    failed = (await client.get("/api/system/tasks?status=failed", headers=ADMIN)).json()["items"]
    assert {item["line_id"] for item in failed} == {"metro:1", "rer:A"}
    on_metro_1 = (await client.get("/api/system/tasks?line=METRO:1&status=failed", headers=ADMIN)).json()["items"]
    assert len(on_metro_1) == 1
    assert on_metro_1[0]["error"] == "boom"
    assert on_metro_1[0]["result"] == {"departures": 0}
    assert (await client.get("/api/system/tasks?line=rer:a", headers=ADMIN)).json()["items"][0]["line_id"] == "rer:A"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "statuss=failed",
        "=null",
        "status=",
        "line=metro:99",
        "line=nonsense",
        "line=" + "x" * 65,
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=" + "9" * 400,
        "cursor=%%%",
        "cursor=" + _b64(b"not json"),
        "cursor=" + _b64(b'{"a": 1}'),
        "cursor=" + _b64(b'["2025-01-01T00:00:00", "naive"]'),
        "cursor=" + _b64(b'["not a date", "x"]'),
        "cursor=" + _b64(b'["2025-01-01T00:00:00+00:00", 5]'),
        "cursor=" + "A" * 513,
    ],
)
async def test_tasks_reject_bad_filters_with_a_422_and_a_message(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/system/tasks?{query}", headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["message"]


async def test_scheduler_trigger_enqueues_every_line_then_coalesces(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = api_settings_for(sqlite_url, scheduler_lines="metro:1,rer:A,tram:T3a")
    caplog.set_level(logging.INFO, logger="backend.api.audit")
    async with running(create_app(settings)) as client:
        first = await client.post("/api/system/scheduler/trigger", headers=ADMIN)
        second = await client.post("/api/system/scheduler/trigger", headers=ADMIN)
        queue = (await client.get("/api/system/queue", headers=ADMIN)).json()
    assert first.status_code == 200
    run = first.json()
    assert (run["trigger"], run["lines_total"], run["enqueued"], run["coalesced"]) == ("manual", 3, 3, 0)
    assert run["requested_by"] == "admin"
    assert run["finished_at"] is not None
    assert (second.json()["enqueued"], second.json()["coalesced"]) == (0, 3)
    assert queue["queued"] == 3
    assert queue["last_run"]["id"] == second.json()["id"]
    audits = [r for r in caplog.records if r.name == "backend.api.audit"]
    assert [getattr(r, "action", None) for r in audits] == ["scheduler.trigger", "scheduler.trigger"]
    assert getattr(audits[0], "caller", None) == "admin"
    assert "3 enqueued" in audits[0].getMessage()


async def test_scheduler_trigger_with_misconfigured_lines_is_a_503_with_the_reason(sqlite_url: str) -> None:
    settings = api_settings_for(sqlite_url, scheduler_lines="metro:1,metro:99")
    async with running(create_app(settings)) as client:
        response = await client.post("/api/system/scheduler/trigger", headers=ADMIN)
    assert response.status_code == 503
    assert "metro:99" in response.json()["detail"]


async def test_mutations_are_rate_limited_per_client_with_retry_after(sqlite_url: str) -> None:
    settings = api_settings_for(sqlite_url, scheduler_lines="metro:1", api_mutation_rate_per_minute=2)
    async with running(create_app(settings)) as client:
        statuses = [(await client.post("/api/system/scheduler/trigger", headers=ADMIN)).status_code for _ in range(2)]
        refused = await client.post("/api/system/workers/scale", json={"count": 1}, headers=ADMIN)
        reads = (await client.get("/api/system/queue", headers=ADMIN)).status_code
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "at most 2 a minute" in refused.json()["detail"]
    assert reads == 200
