"""Real PostgreSQL and Kafka for tests: reuse a running one given by the environment, or start a throwaway one.

- `TEST_DATABASE_URL` (a Postgres server URL) or, if unset, `scripts/postgres.sh` on a free port in a temp dir.
- `TEST_KAFKA_BOOTSTRAP_SERVERS` or, if unset, `scripts/kafka.sh` on a free port in a temp dir.
`scripts/test.sh` starts both once and sets these, so a full run pays their start-up cost once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[3]
SCRIPTS_DIR = REPO_DIR / "scripts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _last_assignment(output: str, name: str) -> str:
    for line in reversed(output.splitlines()):
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"{name} not printed by the start script:\n{output}")


class PostgresServer:
    """A throwaway Postgres server this test may stop and start again."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self._env = env

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS_DIR / "postgres.sh"), "stop"], env=self._env, capture_output=True, check=True)

    def start(self) -> None:
        subprocess.run([str(SCRIPTS_DIR / "postgres.sh"), "start"], env=self._env, capture_output=True, check=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A Postgres server URL (postgresql+asyncpg://.../<db>) for the test session."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    with own_postgres_server() as server:
        yield server.url


@contextmanager
def own_postgres_server() -> Iterator[PostgresServer]:
    """A private Postgres server (its own cluster and port), destroyed afterwards."""
    pg_dir = Path(tempfile.mkdtemp(prefix="ratp-pg-"))
    os.chmod(pg_dir, 0o777)  # the server may run as the postgres user
    env = {**os.environ, "PG_DIR": str(pg_dir), "PG_PORT": str(free_port())}
    script = str(SCRIPTS_DIR / "postgres.sh")
    done = subprocess.run([script, "start"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"could not start PostgreSQL: {done.stderr}{done.stdout}")
    try:
        yield PostgresServer(_last_assignment(done.stdout, "DATABASE_URL"), env)
    finally:
        subprocess.run([script, "destroy"], env=env, capture_output=True, check=False)


class KafkaBroker:
    """A broker this test session can also stop and start again (for broker-restart tests)."""

    def __init__(self, bootstrap: str, env: dict[str, str] | None) -> None:
        self.bootstrap = bootstrap
        self._env = env  # None: given by the environment, not ours to restart

    @property
    def restartable(self) -> bool:
        return self._env is not None

    def stop(self) -> None:
        self._run("stop")

    def start(self) -> None:
        self._run("start")

    def _run(self, action: str) -> None:
        if self._env is None:
            raise RuntimeError("this broker was given by TEST_KAFKA_BOOTSTRAP_SERVERS; it is not ours to restart")
        done = subprocess.run(
            [str(SCRIPTS_DIR / "kafka.sh"), action], env=self._env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {action} failed: {done.stderr}{done.stdout}")


@contextmanager
def kafka_broker(*, own: bool = False) -> Iterator[KafkaBroker]:
    """A Kafka broker; `own=True` always starts a private one (so a test may restart it)."""
    given = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    if given and not own:
        yield KafkaBroker(given, None)
        return
    home = Path(tempfile.mkdtemp(prefix="ratp-kafka-"))
    port = free_port()
    controller_port = free_port()
    env = {
        **os.environ,
        "KAFKA_HOME_DIR": str(home),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
    }
    broker = KafkaBroker(f"127.0.0.1:{port}", env)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)
