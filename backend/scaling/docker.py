"""Scaling on Docker Compose: run WORKER_SCALE_COMMAND with the validated count, and count the worker containers.

The command is split like a shell would (`shlex.split`) but run without one, as an argument list; only the literal
`{count}` is replaced, and only with a validated int. It runs in its own process group with a timeout
(WORKER_SCALE_TIMEOUT_SECONDS): past it, the whole group is killed and the request fails with what the command printed.
The running worker containers are counted through the Docker engine API (the `docker` SDK) when its socket answers;
the answer waits up to WORKER_SCALE_WAIT_SECONDS for that count to reach the new one (a container that is stopping
still runs), and otherwise says the resize is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from backend.config import Settings
from backend.db.engine import Database
from backend.registry import worker_counts
from backend.scaling.base import ScaleOutcome, ScalingError, ScalingUnavailableError

logger = logging.getLogger("backend.scaling.docker")

WORKER_SERVICE = "worker"
DEFAULT_PROJECT = "ratp"
_ENGINE_TIMEOUT = 3.0
_OUTPUT_LIMIT = 2000


def scale_command(template: str, count: int) -> list[str]:
    """The argument list of WORKER_SCALE_COMMAND for `count` workers."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"worker count must be a non-negative int, not {count!r}")
    return [part.replace("{count}", str(count)) for part in shlex.split(template)]


def compose_project(argv: list[str]) -> str:
    """The Compose project named by `-p`/`--project-name` in the command (the default `ratp` otherwise)."""
    for index, part in enumerate(argv):
        if part in ("-p", "--project-name") and index + 1 < len(argv):
            return argv[index + 1]
        if part.startswith("--project-name="):
            return part.split("=", 1)[1]
    return DEFAULT_PROJECT


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def _tail(text: bytes) -> str:
    decoded = text.decode(errors="replace").strip()
    return decoded if len(decoded) <= _OUTPUT_LIMIT else "…" + decoded[-_OUTPUT_LIMIT:]


async def run_command(argv: list[str], *, timeout: float) -> CommandResult:
    """Run `argv` (no shell); raise ScalingUnavailableError when it cannot start or outlives `timeout`."""
    shown = shlex.join(argv)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills what it started too
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise ScalingUnavailableError(
            f"cannot run the scaling command `{shown}`: {exc.strerror or exc} ({argv[0]!r}); install the Docker CLI "
            "with the Compose v2 plugin, or set WORKER_SCALE_COMMAND / WORKER_SCALE_BACKEND=local",
            backend="docker",
        ) from exc
    output = asyncio.ensure_future(process.communicate())
    done, _ = await asyncio.wait({output}, timeout=timeout)
    if not done:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = b"", b""
        with contextlib.suppress(TimeoutError):
            stdout, stderr = await asyncio.wait_for(output, 5.0)
        printed = _tail(stderr) or _tail(stdout) or "nothing"
        raise ScalingUnavailableError(
            f"the scaling command `{shown}` did not finish within {timeout:g} s "
            f"(WORKER_SCALE_TIMEOUT_SECONDS) and was killed; it printed: {printed}",
            backend="docker",
        )
    stdout, stderr = output.result()
    return CommandResult(returncode=process.returncode or 0, stdout=_tail(stdout), stderr=_tail(stderr))


def _count_worker_containers(socket_path: str, project: str) -> int | None:
    if not Path(socket_path).exists():
        return None
    import docker  # the SDK is only needed where a Docker engine is

    client = docker.DockerClient(base_url=f"unix://{socket_path}", timeout=int(_ENGINE_TIMEOUT))
    try:
        containers = client.containers.list(
            filters={
                "label": [f"com.docker.compose.project={project}", f"com.docker.compose.service={WORKER_SERVICE}"],
                "status": "running",
            },
            sparse=True,  # no per-container inspect call
        )
        return len(containers)
    finally:
        client.close()


def _ping(socket_path: str) -> bool:
    if not Path(socket_path).exists():
        return False
    import docker

    client = docker.DockerClient(base_url=f"unix://{socket_path}", timeout=int(_ENGINE_TIMEOUT))
    try:
        return bool(client.ping())
    finally:
        client.close()


async def docker_engine_answers(socket_path: str, *, timeout: float = 3.0) -> bool:
    """Whether a Docker engine answers on `socket_path`."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_ping, socket_path), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        logger.debug("no Docker engine at %s: %s", socket_path, exc)
        return False


class DockerScaler:
    """Resizes the Compose `worker` service with WORKER_SCALE_COMMAND."""

    name: Literal["docker", "local"] = "docker"

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database

    def command(self, count: int) -> list[str]:
        return scale_command(self.settings.worker_scale_command, count)

    async def engine_count(self) -> int | None:
        """Running worker containers of the project, or None when the engine does not answer."""
        socket_path = self.settings.docker_socket_path
        project = compose_project(self.command(0))
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_count_worker_containers, socket_path, project), _ENGINE_TIMEOUT + 1
            )
        except Exception as exc:  # noqa: BLE001 - the count is informative; the scaling itself does not need it
            logger.info("could not count worker containers through %s: %s", socket_path, exc)
            return None

    async def _wait_for(self, count: int) -> int | None:
        deadline = time.monotonic() + self.settings.worker_scale_wait_seconds
        while True:
            observed = await self.engine_count()
            if observed is None or observed == count or time.monotonic() >= deadline:
                return observed
            await asyncio.sleep(0.5)

    async def current_count(self) -> int | None:
        counted = await self.engine_count()
        if counted is not None:
            return counted
        # Without the engine API, the workers that heartbeat in the registry are the best knowledge there is.
        async with self.database.sessions() as session:
            counts = await worker_counts(session, lost_after_seconds=self.settings.worker_lost_after_seconds)
        return counts.live

    async def scale_to(self, count: int, *, requested_by: str) -> ScaleOutcome:
        previous = await self.current_count()
        argv = self.command(count)
        result = await run_command(argv, timeout=self.settings.worker_scale_timeout_seconds)
        if result.returncode != 0:
            raise ScalingError(
                f"the scaling command `{shlex.join(argv)}` exited with status {result.returncode}: "
                f"{result.stderr or result.stdout or 'no output'}",
                backend="docker",
            )
        observed = await self._wait_for(count)
        message = f"docker compose scaled the worker service to {count}"
        if observed is None:
            message += " (the Docker engine API did not answer, so the running containers were not counted)"
        elif observed != count:
            message = (
                f"pending: docker compose is scaling the worker service to {count}; {observed} worker containers "
                f"running after {self.settings.worker_scale_wait_seconds:g} s"
            )
        return ScaleOutcome(backend="docker", previous=previous, requested=count, observed=observed, message=message)
