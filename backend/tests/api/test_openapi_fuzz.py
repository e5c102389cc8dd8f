"""Property-based fuzzing of the OpenAPI schema (schemathesis), one test per operation and mode: whatever the input,
no 5xx, every response matches its documented model and status codes, and input that breaks the schema is refused.

Runs against the app (its lifespan included) on a seeded Postgres database, with the admin key. Every operation is
fuzzed: the scale endpoint against a local supervisor's heartbeat (the request is recorded, the pool does not move),
and the log stream, which never ends, by reading each answer's status, headers and first chunk, then hanging up.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlencode

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backend.api.app import create_app
from backend.api.routers import logs as logs_router
from backend.clock import utcnow
from backend.db.engine import Database
from backend.scaling.fleet import write_supervisor_beat
from backend.tests.api import seed
from backend.tests.api.conftest import ADMIN, ADMIN_KEY, api_settings_for
from backend.tests.support.databases import PostgresDatabases

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 25
STREAM = "/api/system/logs/stream"
NOT_FUZZED = {STREAM}  # fuzzed by its own test below: a response that never ends needs a bounded read
OPERATIONS = [
    (method.upper(), path)
    for path, item in create_app(api_settings_for("sqlite+aiosqlite:///:memory:")).openapi()["paths"].items()
    for method in item
    if path not in NOT_FUZZED
]


async def _seed(url: str) -> None:
    database = Database(api_settings_for(url), "tests")
    try:
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
        await write_supervisor_beat(database, pid=1, name="fuzz-supervisor")
    finally:
        await database.dispose()


# The seeded supervisor heartbeat stays alive for the whole run; a scale request answers at once (resize pending).
FUZZ_SETTINGS: dict[str, Any] = {
    "scheduler_lines": "metro:1,rer:A",
    "worker_lost_after_seconds": 86_400,
    "worker_scale_wait_seconds": 0,
}


@pytest.fixture(scope="module")
def fuzz_app(postgres_databases: PostgresDatabases) -> Iterator[FastAPI]:
    """The app on a seeded database shared by every fuzzed operation (they only read, or enqueue coalesced tasks)."""
    url = asyncio.run(postgres_databases.create())
    try:
        asyncio.run(_seed(url))
        yield create_app(api_settings_for(url, **FUZZ_SETTINGS))
        shutdown_lifespans()
    finally:
        asyncio.run(postgres_databases.drop(url))


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    """The schema with the admin key given to schemathesis as the `APIKeyHeader` scheme's credential, not added to
    every call: a negative case that drops `X-API-Key` must reach the API without it (and get its 401)."""
    config = SchemathesisConfig.from_dict({"auth": {"openapi": {"APIKeyHeader": {"api_key": ADMIN_KEY}}}})
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=config)


def fuzz_operation(operation: Any, mode: GenerationMode) -> Any:
    """A hypothesis test calling `operation` with each generated case and running schemathesis's checks on it."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(case: Any) -> None:
        # Schema-valid input can still be refused for what a schema cannot say (an unknown line, a cursor this API
        # did not hand out, a search with no letter): those 422s are the contract, so that one check is left out.
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    return fuzz


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_its_schema_and_never_fails(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    try:
        fuzz_operation(api_schema[path][method], mode)()
    except Unsatisfiable:
        pytest.skip("no parameter or body to break")


def test_a_case_dropping_the_key_is_sent_without_it(api_schema: Any) -> None:
    """Seed 4 was reported failing: its first negative case for GET /api/system/lines dropped `X-API-Key` and added
    a query parameter whose value is an empty list (so it is never sent). The fuzzer used to add the admin key to
    every call, so the request that reached the API was valid and its 200 was taken for accepted bad input."""
    hypothesis.seed(4)(fuzz_operation(api_schema["/api/system/lines"]["GET"], GenerationMode.NEGATIVE))()


async def _first_chunk(app: FastAPI, case: Any) -> tuple[int, dict[str, str], bytes]:
    """Call the app for `case` over ASGI and hang up after the status, the headers and the first body chunk."""
    query = urlencode(case.query or {}, doseq=True).encode()
    headers = {**{k: str(v) for k, v in (case.headers or {}).items()}, **ADMIN}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": case.method.upper(),
        "scheme": "http",
        "path": case.formatted_path,
        "raw_path": case.formatted_path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("api", 80),
        "app": app,
    }
    hung_up = asyncio.Event()
    first: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        if not hung_up.is_set():
            hung_up_wait = asyncio.create_task(hung_up.wait())
            await hung_up_wait
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await first.put(message)

    call = asyncio.create_task(app(scope, receive, cast(Any, send)))
    start = await first.get()
    body = b""
    while True:
        message = await first.get()
        body += message.get("body", b"")
        if body or not message.get("more_body", False):
            break
    hung_up.set()
    await call
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def stream_app(
    fuzz_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FastAPI, asyncio.AbstractEventLoop]]:
    """The fuzzed app with its lifespan running on an event loop of its own (one for every case), and the stream's
    heartbeat comment sent at once, so that an idle stream's first chunk comes without waiting."""
    monkeypatch.setattr(logs_router, "STREAM_HEARTBEAT_SECONDS", 0.0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    lifespan = fuzz_app.router.lifespan_context(fuzz_app)
    asyncio.run_coroutine_threadsafe(lifespan.__aenter__(), loop).result()
    try:
        yield fuzz_app, loop
    finally:
        asyncio.run_coroutine_threadsafe(lifespan.__aexit__(None, None, None), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_log_stream_answers_every_input_with_a_stream_or_a_documented_4xx(
    stream_app: tuple[FastAPI, asyncio.AbstractEventLoop], api_schema: Any, mode: GenerationMode
) -> None:
    app, loop = stream_app
    operation = api_schema[STREAM]["GET"]
    documented = set(operation.definition.raw["responses"])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(case: Any) -> None:
        status, headers, body = asyncio.run_coroutine_threadsafe(_first_chunk(app, case), loop).result()
        assert status < 500, body
        assert str(status) in documented, (status, body)
        if status == 200:
            assert headers["content-type"].startswith("text/event-stream")
            assert body.startswith((b"data:", b"id:", b":", b"event:")), body
        else:
            assert json.loads(body)["message"], body

    fuzz()
