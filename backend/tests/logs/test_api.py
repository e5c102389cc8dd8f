"""`GET /api/system/logs`: filters, plain-text search, keyset paging, bad parameters, auth, and the request id that
the API puts on its responses and its log records."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.api.app import create_app
from backend.config import Settings
from backend.db.engine import Database
from backend.logs.repository import LogCursor
from backend.tests.logs.conftest import API_KEY, all_logs, insert_logs, log_row
from backend.tests.support.asgi import running
from backend.tests.support.databases import settings_for

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


async def _get(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get("/api/system/logs", params=params, headers=API_KEY)


async def _messages(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await _get(client, **params)
    assert response.status_code == 200, response.text
    return [item["message"] for item in response.json()["items"]]


async def test_filters_by_service_exact_level_minimum_level_and_time_window(
    settings: Settings, database: Database
) -> None:
    rows = []
    for minutes, (service, level) in enumerate(
        [
            ("worker", "DEBUG"),
            ("worker", "INFO"),
            ("worker", "WARNING"),
            ("worker", "ERROR"),
            ("worker", "CRITICAL"),
            ("api", "INFO"),
            ("api", "ERROR"),
            ("scheduler", "WARNING"),
        ]
    ):
        created_at = NOW - dt.timedelta(minutes=10 - minutes)
        rows.append(log_row(f"{service} {level}", created_at=created_at, service=service, level=level))
    await insert_logs(database, rows)

    async with running(create_app(settings)) as client:
        newest_first = await _messages(client)
        assert newest_first == [row["message"] for row in reversed(rows)]
        assert await _messages(client, service="worker", level="ERROR") == ["worker ERROR"]
        assert await _messages(client, level="ERROR") == ["api ERROR", "worker ERROR"]
        assert await _messages(client, min_level="WARNING") == [
            "scheduler WARNING",
            "api ERROR",
            "worker CRITICAL",
            "worker ERROR",
            "worker WARNING",
        ]
        assert await _messages(client, service="api", min_level="ERROR") == ["api ERROR"]
        assert await _messages(client, service="supervisor") == []
        window = {"since": (NOW - dt.timedelta(minutes=8)).isoformat(), "until": (NOW - dt.timedelta(minutes=5))}
        assert await _messages(client, **window) == ["worker CRITICAL", "worker ERROR", "worker WARNING"]
        # A time without an offset is UTC.
        naive_since = (NOW - dt.timedelta(minutes=4)).replace(tzinfo=None).isoformat()
        assert await _messages(client, since=naive_since) == ["scheduler WARNING", "api ERROR"]

        item = (await _get(client, limit=1)).json()["items"][0]
        assert set(item) == {"id", "created_at", "service", "level", "logger", "message", "extra"}


async def test_search_is_case_insensitive_over_message_and_extra_fields(settings: Settings, database: Database) -> None:
    await insert_logs(
        database,
        [
            log_row("Fetch TIMEOUT on prim", created_at=NOW - dt.timedelta(seconds=3)),
            log_row("all good", created_at=NOW - dt.timedelta(seconds=2), extra={"line": "metro:Special"}),
            log_row("nothing here", created_at=NOW - dt.timedelta(seconds=1), extra={"n": 1}),
        ],
    )
    async with running(create_app(settings)) as client:
        assert await _messages(client, search="timeout") == ["Fetch TIMEOUT on prim"]
        assert await _messages(client, search="metro:special") == ["all good"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("' OR 1=1 --", ["user typed ' OR 1=1 -- in a form"]),
        ("' OR '1'='1", []),
        ("'; DROP TABLE system_logs; --", []),
        ("%", ["disk 100% full"]),
        ("100%", ["disk 100% full"]),
        ("_", ["name a_b here"]),
        ("a_b", ["name a_b here"]),
        ("\\", ["path C:\\temp\\x"]),
        ("\\temp", ["path C:\\temp\\x"]),
        ('"', ['he said "hi"']),
    ],
)
async def test_search_takes_wildcards_quotes_and_sql_as_literal_text(
    settings: Settings, database: Database, search: str, expected: list[str]
) -> None:
    messages = [
        "user typed ' OR 1=1 -- in a form",
        "disk 100% full",
        "100 percent full",
        "name a_b here",
        "name axb here",
        "path C:\\temp\\x",
        "path C:tempx",
        'he said "hi"',
    ]
    await insert_logs(database, [log_row(m, created_at=NOW - dt.timedelta(seconds=i)) for i, m in enumerate(messages)])
    async with running(create_app(settings)) as client:
        assert await _messages(client, search=search) == expected
        assert len(await _messages(client)) == len(messages)  # and the table is intact


async def test_paging_with_the_cursor_visits_every_matching_row_once_newest_first(
    settings: Settings, database: Database
) -> None:
    rows = []
    for number in range(360):
        # Three rows per timestamp, so that paging must also order by id within one instant.
        created_at = NOW - dt.timedelta(seconds=number // 3)
        service = "api" if number % 6 == 5 else "worker"
        rows.append(log_row(f"row {number}", created_at=created_at, service=service))
    await insert_logs(database, rows)
    expected = [
        row.id
        for row in sorted(await all_logs(database), key=lambda r: (r.created_at, r.id), reverse=True)
        if row.service == "worker"
    ]
    assert len(expected) == 300

    seen: list[int] = []
    sizes: list[int] = []
    cursor: str | None = None
    async with running(create_app(settings)) as client:
        while True:
            params: dict[str, Any] = {"service": "worker", "limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = (await _get(client, **params)).json()
            sizes.append(len(page["items"]))
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sizes == [100, 100, 100]
        assert seen == expected

        # Paging also works with the other filters, and a small limit.
        first = (await _get(client, limit=7, min_level="INFO", search="row")).json()
        second = (await _get(client, limit=7, min_level="INFO", search="row", cursor=first["next_cursor"])).json()
        assert [i["id"] for i in first["items"] + second["items"]] == [
            row.id for row in sorted(await all_logs(database), key=lambda r: (r.created_at, r.id), reverse=True)
        ][:14]


def _tampered(cursor: str) -> str:
    position = len(cursor) // 2
    return cursor[:position] + ("A" if cursor[position] != "A" else "B") + cursor[position + 1 :]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"since": "garbage"}, "since"),
        ({"since": "1772366400"}, "since"),  # a Unix time: ambiguous, refused
        ({"since": "2026-03-01T25:00:00Z"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"level": "TRACE"}, "level"),
        ({"min_level": "loud"}, "min_level"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "tampered"}, "cursor"),
        ({"cursor": "forged"}, "cursor"),
        ({"search": "x" * 201}, "search"),
        ({"servce": "worker"}, "servce"),
        ({"service": "nobody"}, "service"),
        ({"level": "error"}, "level"),  # levels are upper case, as stored
        ({"since": ""}, "since"),
        ({"search": "nul\x00byte"}, "search"),
        ({"search": "line\nbreak"}, "search"),
        ({"search": ""}, "search"),
        ({"cursor": ""}, "cursor"),
    ],
)
async def test_bad_parameters_are_a_422_that_names_the_parameter(
    sqlite_url: str, params: dict[str, Any], parameter: str
) -> None:
    real = LogCursor(NOW, 42).encode()
    if params.get("cursor") == "tampered":
        params = {"cursor": _tampered(real)}
    elif params.get("cursor") == "forged":
        # Well-formed, but not signed by the API.
        import base64

        params = {"cursor": base64.urlsafe_b64encode(f"{NOW.isoformat()}|41|0000000000000000".encode()).decode()}
    async with running(create_app(settings_for(sqlite_url))) as client:
        response = await _get(client, **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert f"query.{parameter}:" in body["message"]
    assert body["detail"]


async def test_a_real_cursor_decodes_to_the_position_it_encodes() -> None:
    cursor = LogCursor(NOW.replace(microsecond=123456), 987654321)
    assert LogCursor.decode(cursor.encode()) == cursor


async def test_the_logs_need_a_system_key_and_the_read_only_key_is_enough(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, system_api_readonly_token="read-only-key")
    async with running(create_app(settings)) as client:
        missing = await client.get("/api/system/logs")
        wrong = await client.get("/api/system/logs", headers={"X-API-Key": "nope"})
        read_only = await client.get("/api/system/logs", headers={"X-API-Key": "read-only-key"})
        stream_missing = await client.get("/api/system/logs/stream")
    assert missing.status_code == 401
    assert wrong.status_code == 403
    assert read_only.status_code == 200
    assert stream_missing.status_code == 401


async def test_every_response_carries_a_request_id_the_callers_when_it_is_sane(sqlite_url: str) -> None:
    async with running(create_app(settings_for(sqlite_url))) as client:
        given = await client.get("/health", headers={"X-Request-ID": "trace-abc.123"})
        missing = await client.get("/health")
        insane = await client.get("/health", headers={"X-Request-ID": "two words\tand a tab"})
    assert given.headers["X-Request-ID"] == "trace-abc.123"
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["X-Request-ID"])


async def test_log_records_of_a_request_carry_its_request_id(database_url: str, database: Database) -> None:
    settings = settings_for(database_url, centralized_logging_enabled=True)
    app = create_app(settings)
    route_logger = logging.getLogger("backend.api.tests")

    @app.get("/tests/log")
    async def _logs_something() -> dict[str, str]:
        route_logger.warning("handling a test request", extra={"line_id": "metro:14"})
        return {"ok": "yes"}

    @app.get("/tests/boom")
    async def _fails() -> None:
        raise RuntimeError("kaput")

    async with _client_keeping_errors(app) as client:
        ok = await client.get("/tests/log", headers={"X-Request-ID": "req-ok"})
        failed = await client.get("/tests/boom", headers={"X-Request-ID": "req-boom"})
        assert ok.status_code == 200
        assert failed.status_code == 500
        assert app.state.logging.flush(10)
        rows = {row.message: row for row in await all_logs(database) if row.service == "api"}

    handled = rows["handling a test request"]
    assert handled.extra == {"request_id": "req-ok", "line_id": "metro:14"}
    assert handled.logger == "backend.api.tests"
    unhandled = rows["unhandled error on GET /tests/boom"]
    assert unhandled.extra["request_id"] == "req-boom"
    assert "RuntimeError: kaput" in unhandled.extra["exception"]


def _client_keeping_errors(app: FastAPI) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def client() -> Any:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                yield http

    return client()
