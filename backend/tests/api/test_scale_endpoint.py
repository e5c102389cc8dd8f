"""`POST /api/system/workers/scale`: exactly one of count/delta within 0..WORKER_MAX_COUNT, every bad input a 422
with a message, the local backend's answers, and an audit record of each request."""

from __future__ import annotations

import logging
import os

import httpx
import pytest

from backend.db.engine import Database
from backend.scaling.fleet import read_desired_workers, write_supervisor_beat
from backend.tests.api import seed
from backend.tests.api.conftest import ADMIN

SCALE = "/api/system/workers/scale"


BAD_BODIES = [
    "{}",
    '{"count": 2, "delta": 1}',
    '{"count": null, "delta": null}',
    '{"count": "4"}',
    '{"count": "four"}',
    '{"count": 4.0}',
    '{"count": 4.5}',
    '{"count": true}',
    '{"count": [4]}',
    '{"count": {"n": 4}}',
    '{"count": -1}',
    '{"count": 65}',
    '{"count": 100000000000000000000000000000000000000}',
    '{"count": 1e400}',
    '{"count": -1e400}',
    '{"count": NaN}',
    '{"delta": "+1"}',
    '{"delta": 100000000000000000000000000000000000000}',
    '{"delta": -100000000000000000000000000000000000000}',
    '{"count": 1, "workers": 2}',
    '{"workers": 2}',
    "[4]",
    "4",
    '"count"',
    "null",
    "not json",
    '{"count": 4',
    "",
]


async def test_bad_scale_requests_are_a_422_with_a_message(client: httpx.AsyncClient) -> None:
    for body in BAD_BODIES:
        response = await client.post(SCALE, content=body, headers={**ADMIN, "Content-Type": "application/json"})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["message"], body


async def test_a_number_too_long_to_parse_is_a_4xx(client: httpx.AsyncClient) -> None:
    body = '{"count": ' + "9" * 5000 + "}"
    response = await client.post(SCALE, content=body, headers={**ADMIN, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


async def test_a_form_body_is_a_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(SCALE, data={"count": "2"}, headers=ADMIN)
    assert response.status_code == 422


async def test_local_scaling_without_a_supervisor_is_a_503_that_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post(SCALE, json={"count": 3}, headers=ADMIN)
    assert response.status_code == 503
    assert "no local supervisor is running" in response.json()["detail"]
    assert "nothing was changed" in response.json()["detail"]
    async with db.sessions() as session:
        assert await read_desired_workers(session) is None


async def test_local_scaling_records_the_desired_count_and_reports_the_live_workers(
    client: httpx.AsyncClient, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="backend.api.audit")
    await write_supervisor_beat(db, pid=os.getpid(), name="test-host:1")
    await seed.add(db, seed.worker("w1"), seed.worker("w2", status="busy"), seed.worker("w3", heartbeat_age_seconds=90))
    response = await client.post(SCALE, json={"count": 2}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "backend": "local",
        "previous": 2,
        "requested": 2,
        "observed": 2,
        "message": "2 local workers running",
    }
    [record] = [r for r in caplog.records if r.name == "backend.api.audit"]
    assert getattr(record, "action", None) == "workers.scale"
    assert getattr(record, "caller", None) == "admin"
    assert getattr(record, "request", None) == {"count": 2}
    assert getattr(record, "status_code", None) == 200


async def test_a_delta_applies_to_the_desired_count(client: httpx.AsyncClient, db: Database) -> None:
    await write_supervisor_beat(db, pid=os.getpid(), name="test-host:1")
    await seed.add(db, *[seed.worker(f"w{i}") for i in range(3)])
    first = await client.post(SCALE, json={"count": 3}, headers=ADMIN)
    assert first.status_code == 200
    await seed.add(db, seed.worker("w3"))
    grown = await client.post(SCALE, json={"delta": 1}, headers=ADMIN)
    assert grown.status_code == 200, grown.text
    assert (grown.json()["previous"], grown.json()["requested"], grown.json()["observed"]) == (3, 4, 4)
    async with db.sessions() as session:
        assert await read_desired_workers(session) == 4


async def test_a_delta_past_the_bounds_is_a_422(client: httpx.AsyncClient, db: Database) -> None:
    await write_supervisor_beat(db, pid=os.getpid(), name="test-host:1")
    await seed.add(db, seed.worker("w0"))
    assert (await client.post(SCALE, json={"count": 1}, headers=ADMIN)).status_code == 200
    for delta, bound in ((-2, "-1"), (64, "65")):
        response = await client.post(SCALE, json={"delta": delta}, headers=ADMIN)
        assert response.status_code == 422
        assert bound in response.json()["message"]
        assert "WORKER_MAX_COUNT" in response.json()["message"]
