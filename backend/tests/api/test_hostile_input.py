"""Inputs an attacker (or a fuzzer) sends: each gets a 4xx that says what is wrong, never a 500 or a broken stream;
and what an anonymous caller can learn: nothing of the parameters, the keys or the infrastructure."""

from __future__ import annotations

import base64
import json
import logging
from typing import Annotated

import httpx
import jsonschema_rs
import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from backend.api.app import create_app
from backend.config import Settings
from backend.db.keyset import checksum
from backend.tests.api.conftest import ADMIN, ADMIN_KEY, READONLY, READONLY_KEY, api_settings_for
from backend.tests.support.asgi import running

LOGS = "/api/system/logs"
STREAM = "/api/system/logs/stream"
TASKS = "/api/system/tasks"
SCALE = "/api/system/workers/scale"
OVERFLOWING_TIMES = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]


def _refused(response: httpx.Response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    message = response.json()["message"]
    assert isinstance(message, str)
    assert message
    return message


@pytest.mark.parametrize(("path", "parameter"), [(LOGS, "since"), (LOGS, "until"), (STREAM, "since")])
@pytest.mark.parametrize("value", OVERFLOWING_TIMES)
async def test_a_time_that_overflows_in_utc_is_a_422(
    client: httpx.AsyncClient, path: str, parameter: str, value: str
) -> None:
    message = _refused(await client.get(path, params={parameter: value}, headers=READONLY))
    assert f"query.{parameter}: out of range" in message


def _cursor(at: str, row_id: str) -> str:
    # Shaped as the API issues them (with a valid checksum), carrying a time it could never have issued.
    payload = f"{at}|{row_id}"
    return base64.urlsafe_b64encode(f"{payload}|{checksum(payload)}".encode()).decode().rstrip("=")


def _log_cursor(created_at: str, row_id: int = 5) -> str:
    return _cursor(created_at, str(row_id))


def _task_cursor(scheduled_at: str) -> str:
    return _cursor(scheduled_at, "a-task")


@pytest.mark.parametrize("value", OVERFLOWING_TIMES)
async def test_a_cursor_carrying_an_overflowing_time_is_a_422(client: httpx.AsyncClient, value: str) -> None:
    assert "invalid cursor" in _refused(await client.get(LOGS, params={"cursor": _log_cursor(value)}, headers=ADMIN))
    assert "invalid cursor" in _refused(await client.get(TASKS, params={"cursor": _task_cursor(value)}, headers=ADMIN))


@pytest.mark.parametrize("header", ["²", "١٢", str(2**70), "-1", "12abc"])
async def test_a_last_event_id_that_is_not_an_event_id_is_a_422_before_the_stream_starts(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get(STREAM, headers={**READONLY, "Last-Event-ID": header.encode()})
    assert "header.Last-Event-ID" in _refused(response)


async def test_a_two_megabyte_body_is_refused_with_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    body = b'{"count": 1, "pad": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(SCALE, content=body, headers={**ADMIN, "Content-Type": "application/json"})
    assert "at most 65536 bytes" in _refused(response, 413)

    async def chunks() -> object:
        for _ in range(40):
            yield b"x" * 50_000

    chunked = await client.post(SCALE, content=chunks(), headers={**ADMIN, "Content-Type": "application/json"})  # type: ignore[arg-type]
    _refused(chunked, 413)


async def test_the_size_limit_is_a_setting(database_url: str) -> None:
    settings = api_settings_for(database_url, api_max_body_bytes=2048)
    async with running(create_app(settings)) as client:
        response = await client.post(SCALE, content=b" " * 3000 + b"{}", headers=ADMIN)
    assert "at most 2048 bytes" in _refused(response, 413)


async def test_scale_needs_exactly_one_of_count_or_delta_and_the_schema_says_so(client: httpx.AsyncClient) -> None:
    for body in ({}, {"count": 1, "delta": 1}, {"count": None}, {"count": 1, "delta": None}):
        assert "exactly one" in _refused(await client.post(SCALE, json=body, headers=ADMIN)), body
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["ScaleRequest"]
    assert schema["oneOf"] == [{"required": ["count"]}, {"required": ["delta"]}]
    assert schema["properties"]["count"]["type"] == "integer"


async def test_a_body_that_is_not_utf8_is_a_documented_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SCALE, content=b'{"count": "\xff"}', headers={**ADMIN, "Content-Type": "application/json"}
    )
    status = response.status_code
    assert status in (400, 422)
    _refused(response, status)
    documented = (await client.get("/openapi.json")).json()["paths"][SCALE]["post"]["responses"]
    assert str(status) in documented


async def test_cursor_formats_are_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (LOGS, TASKS):
        (cursor,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "cursor"]
        assert "base64" in cursor["description"]
        assert "pattern" in json.dumps(cursor["schema"])
    assert _refused(await client.get(TASKS, params={"cursor": "not a cursor!"}, headers=ADMIN))


@pytest.mark.parametrize("query", ["þ", "щука", "東京"])
async def test_a_station_search_in_any_alphabet_is_answered(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get("/api/stations/search", params={"q": query})
    assert response.status_code == 200, response.text
    assert response.json() == []


@pytest.mark.parametrize("query", ["--!", "_", "  "])
async def test_a_station_search_without_letter_or_digit_is_a_422(client: httpx.AsyncClient, query: str) -> None:
    message = _refused(await client.get("/api/stations/search", params={"q": query}))
    assert "letter or digit" in message


async def test_a_search_for_a_non_ascii_letter_is_answered_and_its_documented_schema_agrees(
    client: httpx.AsyncClient,
) -> None:
    """The fuzzer's case: `Õ` was answered (a letter) while the documented pattern `[^\\W_]`, read as ECMA-262
    (ASCII `\\W`), refused it. jsonschema_rs reads regexes as OpenAPI readers do, in the ECMA-262 dialect."""
    response = await client.get("/api/stations/search", params={"limit": 13, "q": "Õ"})
    assert response.status_code == 200, response.text
    (q,) = [
        p
        for p in (await client.get("/openapi.json")).json()["paths"]["/api/stations/search"]["get"]["parameters"]
        if p["name"] == "q"
    ]
    assert jsonschema_rs.is_valid(q["schema"], "Õ")


def _patterns(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(value) for value in node))
    return set()


# Where the server's regex engines (pydantic's, for `Query(pattern=...)`, and Python's `re`) read Unicode letters and
# digits (Arabic-Indic here) into \w, \d and \s, and ECMA-262 reads ASCII only.
DIALECT_PROBES = [
    "Õ",
    "щ",
    "東京",
    "\u0663",
    "2026-03-01",
    "\u0662\u0660\u0662\u0666-\u0660\u0663-\u0660\u0661",
    "ab\u00a0c",
    "a_b",
]


async def test_every_documented_pattern_means_the_same_in_ecma_262_as_on_the_server(client: httpx.AsyncClient) -> None:
    """OpenAPI patterns are ECMA-262 regexes (what schemathesis and the dashboard's generated types assume); the
    server checks them with pydantic (FastAPI's `Query(pattern=...)`). A pattern both read alike documents exactly
    what the server enforces."""
    patterns = _patterns((await client.get("/openapi.json")).json())
    assert patterns
    for pattern in sorted(patterns):
        server = TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])
        for probe in DIALECT_PROBES:
            try:
                server.validate_python(probe)
                accepted = True
            except ValidationError:
                accepted = False
            ecma = jsonschema_rs.is_valid({"type": "string", "pattern": pattern}, probe)
            assert accepted == ecma, (pattern, probe, accepted, ecma)


@pytest.mark.parametrize("path", ["/api/system/tasks", "/api/system/logs", "/api/system/logs/stream", SCALE])
async def test_an_anonymous_caller_gets_401_not_the_parameter_list(client: httpx.AsyncClient, path: str) -> None:
    if path == SCALE:
        response = await client.post(path, params={"bogus": "1"}, json={"nope": 1})
    else:
        response = await client.get(path, params={"bogus": "1", "limit": "-5"})
    assert response.status_code == 401
    assert "bogus" not in response.text
    assert "limit" not in response.text
    wrong = await client.get("/api/system/tasks", params={"bogus": "1"}, headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 403


async def test_health_detail_only_for_a_caller_with_a_key(sqlite_url: str) -> None:
    settings = api_settings_for(sqlite_url, kafka_bootstrap_servers="127.0.0.1:1")
    async with running(create_app(settings)) as client:
        anonymous = (await client.get("/health")).json()
        keyed = (await client.get("/health", headers=READONLY)).json()
        wrong = await client.get("/health", headers={"X-API-Key": "wrong"})
    assert anonymous["broker"]["status"] == keyed["broker"]["status"] == "down"
    assert "127.0.0.1:1" not in json.dumps(anonymous)
    assert anonymous["broker"]["detail"] == "unreachable (send X-API-Key for the reason)"
    assert "127.0.0.1:1" in keyed["broker"]["detail"]
    assert wrong.status_code == 403


async def test_every_response_carries_security_headers(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/lines"),
        await client.get("/api/system/tasks"),
        await client.get("/health"),
        await client.get("/docs"),
        await client.get("/nowhere"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "default-src 'none'" in (await client.get("/api/lines")).headers["content-security-policy"]


async def test_docs_are_served_from_the_app_without_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text
    assert "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        served = await client.get(f"/docs/assets/{asset}")
        assert served.status_code == 200
        assert len(served.content) > 10_000


async def test_docs_can_be_turned_off(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"api_docs_enabled": False})
    async with running(create_app(settings)) as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404
        assert (await client.get("/api/lines")).status_code == 200


async def test_no_part_of_any_key_reaches_the_logs(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await client.post(SCALE, json={"count": 1}, headers=ADMIN)
        await client.post("/api/system/scheduler/trigger", headers=ADMIN)
        await client.get(TASKS, headers=READONLY)
    texts = [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assert any("by admin" in text for text in texts), texts
    for key in (ADMIN_KEY, READONLY_KEY):
        assert not any(key[-4:] in text for text in texts)
