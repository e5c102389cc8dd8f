"""Every /api/system endpoint needs X-API-Key: 401 without it, 403 with a wrong one; the read-only key reads but
cannot scale or trigger."""

from __future__ import annotations

import httpx

from backend.tests.api.conftest import ADMIN, READONLY

READS = [
    "/api/system/db/summary",
    "/api/system/workers",
    "/api/system/queue",
    "/api/system/tasks",
    "/api/system/lines",
]
MUTATIONS = [("/api/system/workers/scale", {"count": 1}), ("/api/system/scheduler/trigger", None)]


async def test_system_endpoints_refuse_a_missing_key_with_401(client: httpx.AsyncClient) -> None:
    for path in READS:
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "X-API-Key" in response.json()["detail"]
    for path, body in MUTATIONS:
        assert (await client.post(path, json=body)).status_code == 401, path


async def test_system_endpoints_refuse_a_wrong_key_with_403(client: httpx.AsyncClient) -> None:
    for wrong in ({"X-API-Key": "nope"}, {"X-API-Key": ADMIN["X-API-Key"] + "x"}, {"X-API-Key": " "}):
        for path in READS:
            response = await client.get(path, headers=wrong)
            assert response.status_code in (401, 403), (path, wrong)
        for path, body in MUTATIONS:
            assert (await client.post(path, json=body, headers=wrong)).status_code in (401, 403), path
    for path in READS:
        assert (await client.get(path, headers={"X-API-Key": "nope"})).status_code == 403


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
