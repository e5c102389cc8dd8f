"""Scaling on Docker runs WORKER_SCALE_COMMAND as an argument list with the validated count, within a timeout, and
turns every failure into a clear 502/503. A fake `docker` executable on PATH records its arguments; a fake engine on
a unix socket answers the Docker API calls (the engine cannot run here)."""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from backend.api.app import create_app
from backend.db.engine import Database
from backend.scaling.docker import DockerScaler, compose_project, scale_command
from backend.scaling.local import LocalScaler
from backend.scaling.service import scaler_for
from backend.tests.api import seed
from backend.tests.api.conftest import ADMIN, api_settings_for
from backend.tests.support.asgi import running

SCALE = "/api/system/workers/scale"

FAKE_DOCKER = """#!{python}
import json, os, sys, time
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "pid": os.getpid()}}) + "\\n")
mode = os.environ.get("FAKE_DOCKER_MODE", "ok")
if mode == "fail":
    print("Error response from daemon: no such service: worker", file=sys.stderr)
    sys.exit(1)
if mode == "sleep":
    print("[+] Running 3/4", flush=True)
    time.sleep(60)
print("[+] Running 4/4")
"""


class FakeDocker:
    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = directory / "bin"
        self.bin.mkdir()
        self.log = directory / "docker-calls.jsonl"
        executable = self.bin / "docker"
        executable.write_text(FAKE_DOCKER.format(python=sys.executable))
        executable.chmod(0o755)
        self._monkeypatch = monkeypatch
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("FAKE_DOCKER_LOG", str(self.log))
        self.mode("ok")

    def mode(self, mode: str) -> None:
        self._monkeypatch.setenv("FAKE_DOCKER_MODE", mode)

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    return FakeDocker(tmp_path, monkeypatch)


def docker_settings(sqlite_url: str, tmp_path: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "worker_scale_backend": "docker",
        "docker_socket_path": str(tmp_path / "no-engine.sock"),
    }
    values.update(overrides)
    return api_settings_for(sqlite_url, **values)


# --- the command --------------------------------------------------------------------------------------------------


def test_only_the_count_placeholder_is_substituted_and_nothing_is_shell_parsed() -> None:
    argv = scale_command(
        "docker compose -f '/srv/my project/dc.yml' up --scale worker={count} worker; echo {x} $HOME", 7
    )
    assert argv == [
        "docker",
        "compose",
        "-f",
        "/srv/my project/dc.yml",
        "up",
        "--scale",
        "worker=7",
        "worker;",
        "echo",
        "{x}",
        "$HOME",
    ]


@pytest.mark.parametrize("count", [-1, True, 2.0, "3"])
def test_the_count_must_be_a_non_negative_int(count: Any) -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        scale_command("docker compose up --scale worker={count}", count)


def test_the_compose_project_is_read_from_the_command() -> None:
    assert compose_project(scale_command("docker compose -p ratp up", 1)) == "ratp"
    assert compose_project(["docker", "compose", "--project-name=other", "up"]) == "other"
    assert compose_project(["docker", "compose", "up"]) == "ratp"


# --- through the endpoint -----------------------------------------------------------------------------------------


async def test_scale_runs_the_default_compose_command_with_the_count(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker
) -> None:
    settings = docker_settings(sqlite_url, tmp_path)
    async with running(create_app(settings)) as client:
        response = await client.post(SCALE, json={"count": 5}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["backend"], body["previous"], body["requested"], body["observed"]) == ("docker", 0, 5, None)
    assert "scaled the worker service to 5" in body["message"]
    [call] = fake_docker.calls()
    assert call["argv"] == [
        "compose",
        "-p",
        "ratp",
        "-f",
        "/workspace/docker-compose.yml",
        "up",
        "-d",
        "--no-deps",
        "--no-build",
        "--no-recreate",
        "--scale",
        "worker=5",
        "worker",
    ]


async def test_a_delta_starts_from_the_live_workers_when_the_engine_cannot_count(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker
) -> None:
    settings = docker_settings(sqlite_url, tmp_path)
    database = Database(settings, "tests")
    try:
        await seed.add(database, seed.worker("w1"), seed.worker("w2"), seed.worker("w-lost", heartbeat_age_seconds=99))
    finally:
        await database.dispose()
    async with running(create_app(settings)) as client:
        response = await client.post(SCALE, json={"delta": -1}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert (response.json()["previous"], response.json()["requested"]) == (2, 1)
    assert "worker=1" in fake_docker.calls()[0]["argv"]


async def test_a_custom_command_gets_the_count_wherever_it_says_so(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker
) -> None:
    command = "docker compose -f '/srv/my stack/compose.yml' up --scale worker={count} worker --label n={count}"
    settings = docker_settings(sqlite_url, tmp_path, worker_scale_command=command)
    async with running(create_app(settings)) as client:
        assert (await client.post(SCALE, json={"count": 0}, headers=ADMIN)).status_code == 200
    assert fake_docker.calls()[0]["argv"] == [
        "compose",
        "-f",
        "/srv/my stack/compose.yml",
        "up",
        "--scale",
        "worker=0",
        "worker",
        "--label",
        "n=0",
    ]


async def test_a_failing_command_is_a_502_with_its_stderr(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker
) -> None:
    fake_docker.mode("fail")
    async with running(create_app(docker_settings(sqlite_url, tmp_path))) as client:
        response = await client.post(SCALE, json={"count": 2}, headers=ADMIN)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "exited with status 1" in detail
    assert "no such service: worker" in detail


async def test_a_command_past_the_timeout_is_killed_and_a_503_with_the_reason(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker
) -> None:
    fake_docker.mode("sleep")
    settings = docker_settings(sqlite_url, tmp_path, worker_scale_timeout_seconds=1.5)
    async with running(create_app(settings)) as client:
        started = time.monotonic()
        response = await client.post(SCALE, json={"count": 2}, headers=ADMIN)
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "did not finish within 1.5 s" in detail
    assert "WORKER_SCALE_TIMEOUT_SECONDS" in detail
    assert "Running 3/4" in detail
    assert elapsed < 10
    pid = fake_docker.calls()[0]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_missing_docker_cli_is_a_503_that_says_what_to_install(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    async with running(create_app(docker_settings(sqlite_url, tmp_path))) as client:
        response = await client.post(SCALE, json={"count": 2}, headers=ADMIN)
    assert response.status_code == 503
    assert "Compose v2 plugin" in response.json()["detail"]


# --- the engine -----------------------------------------------------------------------------------------------------


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    running_workers = 3
    queries: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path.endswith("/_ping"):
            self._answer(b"OK", "text/plain")
        elif url.path.endswith("/version"):
            self._answer(json.dumps({"ApiVersion": "1.44", "Version": "26.0.0"}).encode())
        elif url.path.endswith("/containers/json"):
            type(self).queries.append(parse_qs(url.query))
            containers = [{"Id": f"c{i}", "Names": [f"/ratp-worker-{i}"]} for i in range(type(self).running_workers)]
            self._answer(json.dumps(containers).encode())
        else:
            self.send_error(404)

    def _answer(self, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *_args: Any) -> None:
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[Path]:
    """A Docker engine API on a unix socket that reports 3 running worker containers."""
    socket_path = tmp_path / "docker.sock"
    _EngineHandler.queries = []
    server = _UnixHTTPServer(str(socket_path), _EngineHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield socket_path
    server.shutdown()
    server.server_close()


async def test_auto_picks_docker_when_the_engine_answers_and_local_otherwise(
    sqlite_url: str, tmp_path: Path, fake_engine: Path
) -> None:
    settings = api_settings_for(sqlite_url, worker_scale_backend="auto", docker_socket_path=str(fake_engine))
    database = Database(settings, "tests")
    try:
        assert isinstance(await scaler_for(settings, database), DockerScaler)
        nowhere = settings.model_copy(update={"docker_socket_path": str(tmp_path / "absent.sock")})
        assert isinstance(await scaler_for(nowhere, database), LocalScaler)
    finally:
        await database.dispose()


async def test_previous_and_observed_come_from_the_engine_when_it_answers(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker, fake_engine: Path
) -> None:
    settings = api_settings_for(
        sqlite_url, worker_scale_backend="auto", docker_socket_path=str(fake_engine), worker_scale_wait_seconds=1
    )
    async with running(create_app(settings)) as client:
        response = await client.post(SCALE, json={"delta": 1}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    # The engine keeps counting 3: once the wait is over, the answer says so and that the resize is pending.
    assert (body["backend"], body["previous"], body["requested"], body["observed"]) == ("docker", 3, 4, 3)
    assert body["message"].startswith("pending: ")
    assert "3 worker containers running after 1 s" in body["message"]
    assert "worker=4" in fake_docker.calls()[0]["argv"]
    filters = json.loads(_EngineHandler.queries[0]["filters"][0])
    assert sorted(filters["label"]) == ["com.docker.compose.project=ratp", "com.docker.compose.service=worker"]
    assert filters["status"] == ["running"]


async def test_an_engine_that_hangs_does_not_hang_the_endpoint(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker
) -> None:
    # A socket that accepts connections but never answers.
    socket_path = tmp_path / "silent.sock"
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(socket_path))
    silent.listen(16)
    try:
        settings = docker_settings(sqlite_url, tmp_path, docker_socket_path=str(socket_path))
        async with running(create_app(settings)) as client:
            started = time.monotonic()
            response = await client.post(SCALE, json={"count": 2}, headers=ADMIN)
            elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 200, response.text
    assert response.json()["observed"] is None
    assert elapsed < 20


async def test_scaling_on_docker_is_audited(
    sqlite_url: str, tmp_path: Path, fake_docker: FakeDocker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="backend.api.audit")
    fake_docker.mode("fail")
    async with running(create_app(docker_settings(sqlite_url, tmp_path))) as client:
        await client.post(SCALE, json={"count": 2}, headers=ADMIN)
    [record] = [r for r in caplog.records if r.name == "backend.api.audit"]
    assert record.levelname == "WARNING"
    assert getattr(record, "status_code", None) == 502
    assert "no such service" in getattr(record, "outcome", "")
