"""Every /api/system endpoint needs X-API-Key: 401 without it, 403 with a wrong one; the read-only key reads but
cannot scale or trigger. The endpoints are the app's own routes, so a new one is covered the day it is added."""

from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_app
from backend.tests.api.conftest import ADMIN, READONLY, api_settings_for


def _operations() -> list[tuple[str, str, bool]]:
    """(method, path, whether it declares the key) of every operation of the app, from its OpenAPI document: the
    app is built, never started."""
    document = create_app(api_settings_for("sqlite+aiosqlite:///unused.db")).openapi()
    return [
        (method.upper(), path, bool(operation.get("security")))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


OPERATIONS = _operations()
PROTECTED = sorted((method, path) for method, path, keyed in OPERATIONS if keyed or path.startswith("/api/system"))


def _concrete(path: str) -> str:
    return path.replace("{", "").replace("}", "")  # any value: the key is checked before the path parameters


def test_every_system_route_and_only_those_declare_the_key() -> None:
    system = {(method, path) for method, path, _ in OPERATIONS if path.startswith("/api/system")}
    keyed = {(method, path) for method, path, keyed in OPERATIONS if keyed}
    assert len(system) >= 10, system
    assert system == keyed


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_every_protected_route_refuses_a_missing_key_with_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, _concrete(path), json={} if method == "POST" else None)
    assert response.status_code == 401, response.text
    assert "X-API-Key" in response.json()["detail"]


@pytest.mark.parametrize("wrong", ["nope", ADMIN["X-API-Key"] + "x", " "])
@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_every_protected_route_refuses_a_wrong_key(
    client: httpx.AsyncClient, method: str, path: str, wrong: str
) -> None:
    body = {} if method == "POST" else None
    response = await client.request(method, _concrete(path), json=body, headers={"X-API-Key": wrong})
    assert response.status_code in (401, 403), response.text
    if wrong == "nope":
        assert response.status_code == 403


READS = [
    "/api/system/db/summary",
    "/api/system/workers",
    "/api/system/queue",
    "/api/system/tasks",
    "/api/system/lines",
]
MUTATIONS = [("/api/system/workers/scale", {"count": 1}), ("/api/system/scheduler/trigger", None)]


async def test_read_only_key_reads_but_cannot_scale_or_trigger(client: httpx.AsyncClient) -> None:
    for path in READS:
        assert (await client.get(path, headers=READONLY)).status_code == 200, path
    for path, body in MUTATIONS:
        response = await client.post(path, json=body, headers=READONLY)
        assert response.status_code == 403, path
        assert "read-only" in response.json()["detail"]


async def test_admin_key_reads(client: httpx.AsyncClient) -> None:
    for path in READS:
        assert (await client.get(path, headers=ADMIN)).status_code == 200, path


async def test_auth_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/system/workers/scale", json={"count": "not a number"})
    assert response.status_code == 401
