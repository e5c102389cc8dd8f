"""The project's real processes (scheduler, workers, supervisor, API, stub upstream) started for a test."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from backend.config import BACKEND_DIR, REPO_DIR

T = TypeVar("T")


def service_env(**settings: object) -> dict[str, str]:
    """Environment for a service process: no .env files, quick timings, the given settings (UPPER_CASE names)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(REPO_DIR),
        "PYTHONUNBUFFERED": "1",
        "SETTINGS_ENV_FILES": "false",
        "ENVIRONMENT": "test",
        "SYSTEM_API_TOKEN": "test-key",
        "CENTRALIZED_LOGGING_ENABLED": "false",
        "VMTR_SOCKET_ENABLED": "false",
        "WORKER_HEARTBEAT_SECONDS": "0.5",
        "WORKER_LOST_AFTER_SECONDS": "5",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "TASK_RETRY_BACKOFF_SECONDS": "0.5",
        "LOG_LEVEL": "INFO",
    }
    env.update({key.upper(): str(value) for key, value in settings.items()})
    return env


class ServiceProcess:
    """One running service; its output goes to a log file that failing tests print."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=BACKEND_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.alive():
            self.process.kill()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        self.terminate()
        try:
            code: int | None = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait(timeout=10)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class Services:
    """Starts named services for a test and stops every one of them afterwards."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.started: list[ServiceProcess] = []
        self._counter = 0

    def start(self, kind: str, *args: str, **overrides: object) -> ServiceProcess:
        modules = {
            "scheduler": ["-m", "backend.scheduler"],
            "worker": ["-m", "backend.workers.worker"],
            "supervisor": ["-m", "backend.scaling.supervisor"],
            "upstream": ["-m", "backend.devtools.upstream"],
            "api": ["-m", "uvicorn", "backend.main:app"],
        }
        self._counter += 1
        env = {**self.env, **{key.upper(): str(value) for key, value in overrides.items()}}
        process = ServiceProcess(f"{kind}-{self._counter}", [*modules[kind], *args], env, self.log_dir)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.alive():
                process.stop()

    def logs(self, tail: int = 60) -> str:
        parts = []
        for process in self.started:
            lines = process.output().splitlines()[-tail:]
            parts.append(f"--- {process.name} (pid {process.pid}, exit {process.process.poll()}) ---")
            parts.extend(lines)
        return "\n".join(parts)


@contextmanager
def services(log_dir: Path, env: dict[str, str]) -> Iterator[Services]:
    running = Services(log_dir, env)
    try:
        yield running
    except BaseException:
        print(running.logs())  # shown by pytest for the failing test
        raise
    finally:
        running.stop_all()


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float, interval: float = 0.25, message: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {message} (last value: {last!r})")
