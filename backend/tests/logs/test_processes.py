"""Real processes log to `system_logs`: a scheduler and a worker (`python -c` programs calling configure_logging), the
API under uvicorn, and a worker that keeps running and logging while Postgres is stopped and started again."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.config import BACKEND_DIR
from backend.db.engine import Database
from backend.db.migrate import upgrade_database
from backend.db.models import SystemLog
from backend.tests.logs.conftest import all_logs, python_env, run_python
from backend.tests.support.databases import settings_for
from backend.tests.support.processes import eventually
from backend.tests.support.services import PostgresServer, free_port

SERVICE_PROGRAM = """
import json, logging, sys
from backend.config import Settings
from backend.logs import bind_log_context, configure_logging

service = sys.argv[1]
handle = configure_logging(Settings(_env_file=None), service)
log = logging.getLogger(f"backend.{service}")
with bind_log_context(worker_id=f"{service}-1"):
    log.info("%s started", service, extra={"line_id": "metro:1"})
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("%s failed a task", service, extra={"task_id": f"task-of-{service}"})
handle.close()
print("STATS " + json.dumps(handle.stats()))
"""

OUTAGE_PROGRAM = """
import json, logging, signal, sys, time
from backend.config import Settings
from backend.logs import configure_logging

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
handle = configure_logging(Settings(_env_file=None), "worker")
log = logging.getLogger("backend.workers.outage")
for command in sys.stdin:
    phase, count = command.split()
    started = time.perf_counter()
    for number in range(int(count)):
        log.info("%s record %d", phase, number, extra={"phase": phase})
    elapsed_ms = (time.perf_counter() - started) * 1000
    print("ACK " + json.dumps({"phase": phase, "elapsed_ms": elapsed_ms, **handle.stats()}), flush=True)
handle.close()
print("DONE " + json.dumps(handle.stats()), flush=True)
"""


def _stats(stdout: str, prefix: str = "STATS ") -> dict[str, Any]:
    (line,) = [line for line in stdout.splitlines() if line.startswith(prefix)]
    return dict(json.loads(line[len(prefix) :]))


async def _serve_api(database_url: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "uvicorn", "backend.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=BACKEND_DIR,
        env=python_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"

    async def healthy() -> bool:
        assert process.poll() is None, process.communicate()[0]
        try:
            async with httpx.AsyncClient(base_url=base_url) as client:
                return (await client.get("/health")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(healthy, timeout=30, interval=0.1)
    return process, base_url


async def test_api_scheduler_and_worker_processes_all_land_in_system_logs(database_url: str) -> None:
    api, base_url = await _serve_api(database_url)
    try:
        scheduler, worker = await asyncio.gather(
            asyncio.to_thread(_run_service, "scheduler", database_url),
            asyncio.to_thread(_run_service, "worker", database_url),
        )
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.get(
                "/api/system/logs",
                params={"service": "worker", "level": "ERROR"},
                headers={"X-API-Key": "test-key", "X-Request-ID": "ops-check-1"},
            )
    finally:
        api.send_signal(signal.SIGTERM)
        api_output = api.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully, then re-raises the signal so that its exit status says why it stopped.
    assert api.returncode in (0, -signal.SIGTERM), api_output
    assert "Application shutdown complete." in api_output

    for done in (scheduler, worker):
        assert done.returncode == 0, done.stderr
        stats = _stats(done.stdout)
        assert (stats["logs_written"], stats["logs_dropped"], stats["logs_failed"]) == (2, 0, 0)

    # The API answered from the table the other processes wrote to.
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "ops-check-1"
    (found,) = response.json()["items"]
    assert found["message"] == "worker failed a task"
    assert found["extra"]["task_id"] == "task-of-worker"
    assert "ZeroDivisionError" in found["extra"]["exception"]

    database = Database(settings_for(database_url), "tests")
    try:
        rows = await all_logs(database)
    finally:
        await database.dispose()
    by_service: dict[str, list[SystemLog]] = {}
    for row in rows:
        by_service.setdefault(row.service, []).append(row)
    assert set(by_service) == {"api", "scheduler", "worker"}
    for service in ("scheduler", "worker"):
        started, failed = by_service[service]
        assert (started.message, started.level, started.logger) == (f"{service} started", "INFO", f"backend.{service}")
        assert started.extra == {"worker_id": f"{service}-1", "line_id": "metro:1"}
        assert failed.extra["task_id"] == f"task-of-{service}"
        assert failed.pid != by_service["api"][0].pid
    assert "Application startup complete." in [row.message for row in by_service["api"]]
    # One line per record on stdout too, in the same format for uvicorn's own records.
    assert " INFO api uvicorn.error: Application startup complete." in api_output


def _run_service(service: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SERVICE_PROGRAM, service],
        cwd=BACKEND_DIR,
        env=python_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_disabled_centralized_logging_in_a_process_writes_nothing(sqlite_url: str) -> None:
    program = SERVICE_PROGRAM.replace("sys.argv[1]", '"worker"')
    done = await asyncio.to_thread(run_python, program, python_env(sqlite_url, CENTRALIZED_LOGGING_ENABLED="false"))
    assert done.returncode == 0, done.stderr
    assert _stats(done.stdout)["logs_sink"] == "disabled"
    assert "worker failed a task" in done.stdout
    database = Database(settings_for(sqlite_url), "tests")
    try:
        assert await all_logs(database) == []
    finally:
        await database.dispose()


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_worker_keeps_running_and_logging_while_postgres_is_down_and_catches_up_after(
    own_postgres: PostgresServer,
) -> None:
    url = own_postgres.url
    await upgrade_database(settings_for(url), url=url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OUTAGE_PROGRAM,
        cwd=BACKEND_DIR,
        env=python_env(url, LOG_LEVEL="WARNING"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    printed: list[str] = []

    async def command(phase: str, count: int) -> dict[str, Any]:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(f"{phase} {count}\n".encode())
        await process.stdin.drain()
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, "the worker process exited"
            printed.append(line)
            if line.startswith("ACK "):
                return dict(json.loads(line[4:]))

    async def phase_count(phase: str) -> int:
        database = Database(settings_for(url), "tests")
        try:
            async with database.sessions() as session:
                query = select(func.count()).select_from(SystemLog).where(SystemLog.message.like(f"{phase} record %"))
                return int(await session.scalar(query) or 0)
        finally:
            await database.dispose()

    try:
        await command("before", 5)
        await eventually(lambda: _equals(phase_count("before"), 5), timeout=20, interval=0.1)

        await asyncio.to_thread(own_postgres.stop)
        during = await command("during", 50)
        assert during["logs_dropped"] == 0
        retrying = await eventually(lambda: _sink_state(command("probe", 0), "retrying"), timeout=30, interval=0.1)
        assert retrying["logs_written"] == 5
        assert process.returncode is None

        await asyncio.to_thread(own_postgres.start)
        await command("after", 5)
        await eventually(lambda: _equals(phase_count("during"), 50), timeout=60, interval=0.1)
        await eventually(lambda: _equals(phase_count("after"), 5), timeout=30, interval=0.1)
    finally:
        process.stdin.close()
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
        await process.wait()
    printed.append(rest)
    output = "".join(printed)
    assert process.returncode == 0, output
    final = _stats(output, "DONE ")
    assert (final["logs_written"], final["logs_dropped"], final["logs_failed"]) == (60, 0, 0)
    assert "cannot write logs to the database, retrying" in output
    assert "writing logs to the database again" in output


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _sink_state(stats: Any, state: str) -> dict[str, Any] | None:
    found: dict[str, Any] = await stats
    return found if found["logs_sink"] == state else None
