"""Local scaling end to end: the real supervisor process runs real worker processes, the scale endpoint resizes the
pool and the worker registry follows; crashed workers come back; SIGTERM stops everything. Plus the supervisor's
reconciliation rules, driven tick by tick with stand-in worker commands."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from backend.api.app import create_app
from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import Worker
from backend.scaling.fleet import read_desired_workers, write_desired_workers, write_supervisor_beat
from backend.scaling.local import LocalScaler
from backend.scaling.supervisor import AnotherSupervisorError, Supervisor
from backend.tests.api import seed
from backend.tests.api.conftest import ADMIN, api_settings_for
from backend.tests.support.asgi import running
from backend.tests.support.processes import eventually
from backend.tests.support.services import REPO_DIR

SCALE = "/api/system/workers/scale"
HEARTBEAT = 0.5
LOST_AFTER = 3.0


def fleet_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_DIR),
        "PYTHONUNBUFFERED": "1",
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "SYSTEM_API_TOKEN": "fleet-test-key",
        "CENTRALIZED_LOGGING_ENABLED": "false",
        "VMTR_SOCKET_ENABLED": "false",
        "WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "WORKER_LOST_AFTER_SECONDS": str(LOST_AFTER),
        "WORKER_CONCURRENCY": "1",
    }


@pytest.fixture
def supervisor_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "supervisor.log"
    yield log
    print(log.read_text() if log.exists() else "(no supervisor output)")


async def live_workers(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    workers = (await client.get("/api/system/workers", headers=ADMIN)).json()
    return [w for w in workers if w["status"] in ("starting", "idle", "busy")]


def start_supervisor(database_url: str, log_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """`python -m backend.scaling.supervisor ARGS` with the real worker command, output to `log_path`."""
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "backend.scaling.supervisor", "--stop-timeout", "15", *args],
            env=fleet_env(database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like serve.sh (setsid): stopped through its process group
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.postgres
@pytest.mark.slow
async def test_the_registry_follows_scaling_through_the_endpoint(postgres_url: str, supervisor_log: Path) -> None:
    settings = api_settings_for(postgres_url, worker_heartbeat_seconds=HEARTBEAT, worker_lost_after_seconds=LOST_AFTER)
    supervisor = start_supervisor(postgres_url, supervisor_log, "--workers", "1", "--poll-seconds", "0.2")
    try:
        async with running(create_app(settings)) as client:

            async def count_is(n: int) -> Callable[[], Awaitable[Any]]:
                async def check() -> Any:
                    live = await live_workers(client)
                    return live if len(live) == n else None

                return check

            first = await eventually(await count_is(1), timeout=30, message="the first worker registering")

            grown = await client.post(SCALE, json={"count": 4}, headers=ADMIN)
            assert grown.status_code == 200, grown.text
            assert (grown.json()["backend"], grown.json()["previous"], grown.json()["requested"]) == ("local", 1, 4)
            four = await eventually(await count_is(4), timeout=8 * HEARTBEAT + 10, message="scaling to 4")
            assert len({w["pid"] for w in four}) == 4

            shrunk = await client.post(SCALE, json={"delta": -2}, headers=ADMIN)
            assert shrunk.status_code == 200, shrunk.text
            assert (shrunk.json()["previous"], shrunk.json()["requested"]) == (4, 2)
            two = await eventually(await count_is(2), timeout=8 * HEARTBEAT + 10, message="scaling to 2")
            # Two of the new workers were stopped (newest first: the first worker stays) and recorded it.
            workers = (await client.get("/api/system/workers", headers=ADMIN)).json()
            assert sum(1 for w in workers if w["status"] == "stopped") == 2
            assert first[0]["id"] in {w["id"] for w in two}

            # A worker that dies is replaced.
            victim = two[0]
            os.kill(victim["pid"], signal.SIGKILL)

            async def replaced() -> Any:
                live = await live_workers(client)
                ids = {w["id"] for w in live}
                return live if len(live) == 2 and victim["id"] not in ids else None

            await eventually(replaced, timeout=LOST_AFTER + 15, message="the killed worker being replaced")

            # `serve.sh down` signals the supervisor's whole process group; every worker stops gracefully once.
            os.killpg(supervisor.pid, signal.SIGTERM)
            assert supervisor.wait(timeout=30) == 0
            workers = (await client.get("/api/system/workers", headers=ADMIN)).json()
            assert await live_workers(client) == []
            assert not [w for w in workers if w["status"] != "stopped" and w["id"] != victim["id"]]
            assert not [w["pid"] for w in workers if _pid_alive(w["pid"])]
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


@pytest.mark.postgres
@pytest.mark.slow
async def test_workers_stop_when_their_supervisor_is_killed(postgres_url: str, supervisor_log: Path) -> None:
    settings = api_settings_for(postgres_url, worker_heartbeat_seconds=HEARTBEAT, worker_lost_after_seconds=LOST_AFTER)
    supervisor = start_supervisor(postgres_url, supervisor_log, "--workers", "2", "--poll-seconds", "0.2")
    try:
        async with running(create_app(settings)) as client:

            async def two_live() -> Any:
                live = await live_workers(client)
                return live if len(live) == 2 else None

            workers = await eventually(two_live, timeout=30, message="two workers registering")
            supervisor.kill()
            supervisor.wait()

            async def all_stopped() -> Any:
                rows = (await client.get("/api/system/workers", headers=ADMIN)).json()
                return rows if rows and all(w["status"] == "stopped" for w in rows) else None

            await eventually(all_stopped, timeout=20, message="the orphaned workers stopping")
            for worker in workers:
                for _ in range(50):
                    if not _pid_alive(worker["pid"]):
                        break
                    await asyncio.sleep(0.1)
                assert not _pid_alive(worker["pid"])
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


# --- reconciliation rules, tick by tick --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


@pytest.fixture
def fleet_settings(sqlite_url: str) -> Settings:
    return api_settings_for(
        sqlite_url,
        worker_heartbeat_seconds=HEARTBEAT,
        worker_lost_after_seconds=LOST_AFTER,
        worker_scale_wait_seconds=2,
    )


@pytest.fixture
async def fleet_db(fleet_settings: Settings) -> Any:
    database = Database(fleet_settings, "tests")
    yield database
    await database.dispose()


def _supervisor(settings: Settings, database: Database, command: list[str], clock: Clock, **kwargs: Any) -> Supervisor:
    return Supervisor(settings, database, worker_command=command, clock=clock, stop_timeout=0.5, **kwargs)


async def _wait_exit(supervisor: Supervisor) -> None:
    for _ in range(100):
        if all(child.process.poll() is not None for child in supervisor.children):
            return
        await asyncio.sleep(0.05)


async def test_supervisor_starts_and_stops_children_towards_the_desired_count(
    fleet_settings: Settings, fleet_db: Database
) -> None:
    clock = Clock()
    supervisor = _supervisor(fleet_settings, fleet_db, SLEEPER, clock, initial_workers=3)
    try:
        await supervisor.tick()
        assert len(supervisor.running) == 3
        async with fleet_db.sessions() as session:
            assert await read_desired_workers(session) == 3
        newest = max(supervisor.running, key=lambda c: c.started_at)
        await write_desired_workers(fleet_db, 1, updated_by="test")
        clock.now += 1
        await supervisor.tick()
        assert len(supervisor.running) == 1
        assert newest not in supervisor.running
        await asyncio.sleep(0.3)
        await supervisor.tick()
        assert len(supervisor.children) == 1  # the two stopped ones were reaped
    finally:
        await supervisor.stop_all()
    assert supervisor.children == []


async def test_supervisor_kills_a_child_that_ignores_sigterm_after_the_stop_timeout(
    fleet_settings: Settings, fleet_db: Database
) -> None:
    clock = Clock()
    supervisor = Supervisor(fleet_settings, fleet_db, worker_command=STUBBORN, initial_workers=1, stop_timeout=0.5)
    await supervisor.tick()
    [child] = supervisor.children
    await asyncio.sleep(1.0)  # let it install its SIGTERM handler
    started = time.monotonic()
    await supervisor.stop_all()
    assert 0.4 < time.monotonic() - started < 5
    assert child.process.returncode == -signal.SIGKILL
    del clock


async def test_supervisor_restarts_crashed_children_with_a_growing_backoff(
    fleet_settings: Settings, fleet_db: Database
) -> None:
    clock = Clock()
    supervisor = _supervisor(fleet_settings, fleet_db, CRASHER, clock, initial_workers=1)
    starts: list[float] = []
    try:
        for _ in range(24):
            await supervisor.tick()
            if supervisor.children:
                starts.append(clock.now)
                await _wait_exit(supervisor)
            clock.now += 0.5
    finally:
        await supervisor.stop_all()
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(starts)]
    # A crash is seen at the tick after the start (0.5 s later), then waits 1 s, 2 s, 4 s ... before the restart.
    assert gaps == [1.5, 2.5, 4.5], gaps


async def test_a_second_supervisor_on_the_same_database_refuses_to_start(
    fleet_settings: Settings, fleet_db: Database
) -> None:
    await write_supervisor_beat(fleet_db, pid=1, name="another-host:1")
    supervisor = Supervisor(fleet_settings, fleet_db, worker_command=SLEEPER, initial_workers=1)
    with pytest.raises(AnotherSupervisorError, match="another-host:1"):
        await supervisor.run()
    assert supervisor.children == []


async def test_local_scale_reports_observed_workers_once_the_supervisor_beats(
    fleet_settings: Settings, fleet_db: Database
) -> None:
    supervisor = Supervisor(fleet_settings, fleet_db, worker_command=SLEEPER, poll_seconds=0.1)
    runner = asyncio.create_task(supervisor.run())
    try:
        async with running(create_app(fleet_settings)) as client:
            await asyncio.sleep(0.3)
            response = await client.post(SCALE, json={"count": 2}, headers=ADMIN)
            # Stand-in workers never register, so nothing is observed; the answer says the pool is being resized.
            assert response.status_code == 200, response.text
            assert response.json()["observed"] == 0
            assert "resizing" in response.json()["message"]
            assert len(supervisor.running) == 2
    finally:
        supervisor.request_stop()
        await asyncio.wait_for(runner, 10)
    assert supervisor.children == []


async def test_a_draining_worker_counts_until_it_has_stopped(fleet_settings: Settings, fleet_db: Database) -> None:
    await seed.add(fleet_db, seed.worker("w-idle"), seed.worker("w-draining", status="draining"))
    await write_supervisor_beat(fleet_db, pid=os.getpid(), name="tests:1")
    scaler = LocalScaler(fleet_settings, fleet_db, wait_seconds=0.5)

    draining = await scaler.scale_to(1, requested_by="tests")
    # The draining worker still finishes its tasks: the pool is not down to 1 yet, and the answer says so.
    assert (draining.requested, draining.observed) == (1, 2)
    assert draining.message.startswith("pending: ")

    async with fleet_db.write_sessions() as session, session.begin():
        await session.execute(update(Worker).where(Worker.id == "w-draining").values(status="stopped"))
    stopped = await scaler.scale_to(1, requested_by="tests")
    assert (stopped.requested, stopped.observed) == (1, 1)
    assert not stopped.message.startswith("pending")
