"""Property-based fuzzing of the OpenAPI schema (schemathesis), one test per operation and mode: whatever the input,
no 5xx, every response matches its documented model and status codes, and input that breaks the schema is refused.

Runs against the app (its lifespan included) on a seeded Postgres database, with the admin key. Not fuzzed: the scale
endpoint (it needs a Docker engine or a supervisor; tests/scaling covers it) and the log stream (it never ends).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backend.api.app import create_app
from backend.db.engine import Database
from backend.db.models import utcnow
from backend.livedata.catalogue_sync import sync_catalogue
from backend.tests.api import seed
from backend.tests.api.conftest import ADMIN, api_settings_for
from backend.tests.support.databases import PostgresDatabases

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 25
NOT_FUZZED = {"/api/system/workers/scale", "/api/system/logs/stream"}
OPERATIONS = [
    (method.upper(), path)
    for path, item in create_app(api_settings_for("sqlite+aiosqlite:///:memory:")).openapi()["paths"].items()
    for method in item
    if path not in NOT_FUZZED
]


async def _seed(url: str) -> None:
    database = Database(api_settings_for(url), "tests")
    try:
        await sync_catalogue(database)
        now = utcnow()
        await seed.add(
            database,
            *[seed.departure("metro:1", "chatelet", d, m, now=now) for d in ("A", "R") for m in (1, 4, 9)],
            seed.vehicle("metro:1", "MF01-1", previous_station_id="louvre-rivoli", next_station_id="chatelet"),
            seed.snapshot(
                "metro:1",
                attempts=[{"source": "prim", "ok": True, "error": None, "duration_ms": 5.0, "requests": 2, "items": 6}],
            ),
            seed.traffic("metro:1"),
            seed.worker("w1"),
            seed.worker("w2", heartbeat_age_seconds=120),
            seed.task_run("metro:1", status="succeeded", result={"departures": 6}),
            seed.task_run("rer:A", status="failed", error="timeout"),
            seed.scheduler_run(),
        )
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def fuzz_app(postgres_databases: PostgresDatabases) -> Iterator[FastAPI]:
    """The app on a seeded database shared by every fuzzed operation (they only read, or enqueue coalesced tasks)."""
    url = asyncio.run(postgres_databases.create())
    try:
        asyncio.run(_seed(url))
        yield create_app(api_settings_for(url, scheduler_lines="metro:1,rer:A"))
        shutdown_lifespans()
    finally:
        asyncio.run(postgres_databases.drop(url))


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_its_schema_and_never_fails(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(case: Any) -> None:
        # Schema-valid input can still be refused for what a schema cannot say (an unknown line, a cursor this API
        # did not hand out, a search with no letter): those 422s are the contract, so that one check is left out.
        case.call_and_validate(headers=ADMIN, excluded_checks=[positive_data_acceptance])

    try:
        fuzz()
    except Unsatisfiable:
        pytest.skip("no parameter or body to break")
