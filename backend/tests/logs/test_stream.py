"""`GET /api/system/logs/stream`: a live tail over real HTTP (uvicorn on loopback) with the list's filters, heartbeat
comments, a backlog from `since`, resuming after `Last-Event-ID`, and an end when the client goes away."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from backend.api.app import create_app
from backend.api.routers import logs as logs_router
from backend.config import Settings
from backend.db.engine import Database
from backend.logs.repository import LiveTail
from backend.tests.logs.conftest import API_KEY, insert_logs, log_row
from backend.tests.support.databases import settings_for
from backend.tests.support.services import free_port


@pytest.fixture(autouse=True)
def quick_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs_router, "STREAM_POLL_SECONDS", 0.1)
    monkeypatch.setattr(logs_router, "STREAM_HEARTBEAT_SECONDS", 0.3)


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the API did not start"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


class EventReader:
    """Reads server-sent events: data events as dicts (with their id), comments as strings."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = 10.0) -> dict[str, Any] | str:
        fields: dict[str, str] = {}
        while True:
            line = await asyncio.wait_for(self._lines.__anext__(), timeout)
            if line.startswith(":"):
                return line[1:].strip()
            if not line:
                if fields:
                    event: dict[str, Any] = json.loads(fields["data"])
                    event["event_id"] = fields.get("id")
                    return event
                continue
            name, _, value = line.partition(":")
            fields[name] = value.lstrip(" ")

    async def records(self, count: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < count:
            event = await self.next()
            if isinstance(event, dict):
                found.append(event)
        return found


def _row(message: str, **fields: Any) -> dict[str, Any]:
    return log_row(message, created_at=dt.datetime.now(dt.UTC), **fields)


async def test_the_stream_sends_new_matching_records_and_heartbeats(settings: Settings, database: Database) -> None:
    await insert_logs(database, [_row("old warning", level="WARNING")])
    async with served(settings) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        params = {"service": "worker", "min_level": "WARNING"}
        async with client.stream("GET", "/api/system/logs/stream", params=params, headers=API_KEY) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = EventReader(response)
            assert await reader.next() == "heartbeat"

            await insert_logs(
                database,
                [
                    _row("new warning", level="WARNING", extra={"line_id": "metro:1"}),
                    _row("api error", service="api", level="ERROR"),
                    _row("worker info", level="INFO"),
                    _row("worker error", level="ERROR"),
                ],
            )
            first, second = await reader.records(2)
    assert (first["message"], second["message"]) == ("new warning", "worker error")
    assert first["extra"] == {"line_id": "metro:1"}
    assert set(first) == {"id", "created_at", "service", "level", "logger", "message", "extra", "event_id"}
    assert first["event_id"] == str(first["id"])


async def test_since_sends_the_backlog_first_and_last_event_id_resumes_after_it(
    settings: Settings, database: Database
) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await insert_logs(
        database,
        [
            log_row("too old", created_at=old - dt.timedelta(hours=1)),
            log_row("backlog 1", created_at=old),
            log_row("backlog 2", created_at=old + dt.timedelta(minutes=1)),
        ],
    )
    async with served(settings) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        params = {"since": old.isoformat(), "search": "backlog"}
        async with client.stream("GET", "/api/system/logs/stream", params=params, headers=API_KEY) as response:
            backlog = await EventReader(response).records(2)
        assert [event["message"] for event in backlog] == ["backlog 1", "backlog 2"]

        await insert_logs(database, [_row("backlog 3 (live)")])
        headers = {**API_KEY, "Last-Event-ID": backlog[0]["event_id"]}
        async with client.stream("GET", "/api/system/logs/stream", params=params, headers=headers) as response:
            resumed = await EventReader(response).records(2)
        assert [event["message"] for event in resumed] == ["backlog 2", "backlog 3 (live)"]


async def test_the_stream_stops_polling_when_the_client_goes_away(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls = 0
    original = LiveTail.poll

    async def counted(self: LiveTail, database: Database) -> Any:
        nonlocal polls
        polls += 1
        return await original(self, database)

    monkeypatch.setattr(LiveTail, "poll", counted)
    async with served(settings) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        async with client.stream("GET", "/api/system/logs/stream", headers=API_KEY) as response:
            reader = EventReader(response)
            assert await reader.next() == "heartbeat"
        assert polls > 0
        await asyncio.sleep(1.0)
        after_disconnect = polls
        await asyncio.sleep(1.0)
        assert polls == after_disconnect


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"min_level": "LOUD"}, "min_level"), ({"since": "yesterday"}, "since"), ({"cursor": "x"}, "cursor")],
)
async def test_bad_stream_parameters_are_a_422_before_streaming(
    sqlite_url: str, params: dict[str, str], parameter: str
) -> None:
    async with served(settings_for(sqlite_url)) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.get("/api/system/logs/stream", params=params, headers=API_KEY)
    assert response.status_code == 422
    assert f"query.{parameter}" in response.json()["message"]
