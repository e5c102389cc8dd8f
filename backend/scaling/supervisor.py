"""`python -m backend.scaling.supervisor [--workers N]`: keeps the desired number of local worker processes running.

Run by `serve.sh up` in local mode (no Docker). About once a second it reads `fleet_settings.desired_workers` (set by
`POST /api/system/workers/scale` and by `--workers`) and reconciles its children, `python -m backend.workers.worker`
processes: it starts missing ones, stops extra ones with SIGTERM (newest first; SIGKILL only past the stop timeout),
and restarts crashed ones with an exponential backoff. It heartbeats into `fleet_settings` so the API knows someone
acts on the desired count. On SIGTERM or SIGINT it stops all its children the same way, then exits.

It only ever signals processes it started itself (and has not reaped yet, so their pids cannot have been reused).
Each worker runs in its own process group, so only the supervisor signals it; on Linux a worker also gets SIGTERM if
the supervisor dies without stopping it. If the database is unreachable it keeps the current children and retries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from backend.config import Settings, get_settings, host_name
from backend.db.engine import Database
from backend.lifecycle import run_process
from backend.scaling.fleet import (
    clear_supervisor_beat,
    read_desired_workers,
    read_supervisor_beat,
    write_desired_workers,
    write_supervisor_beat,
)
from backend.vocabulary import Service

logger = logging.getLogger("backend.scaling.supervisor")

DEFAULT_WORKER_COMMAND = [sys.executable, "-m", "backend.workers.worker"]
# Runs before the worker command replaces it (exec, same pid): on Linux the worker gets SIGTERM if the supervisor dies
# without stopping it (SIGKILL, a crash), so no worker outlives its supervisor. Elsewhere it just execs the command.
_ORPHAN_GUARD = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)  # the supervisor is already gone
os.execvp(sys.argv[2], sys.argv[2:])
"""
# A child that ran at least this long before exiting is not counted as a crash loop.
HEALTHY_RUN_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    started_at: float
    stop_sent_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


class AnotherSupervisorError(RuntimeError):
    """Another supervisor heartbeats for this database: two would each run the full pool."""


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        worker_command: list[str],
        initial_workers: int | None = None,
        poll_seconds: float = 1.0,
        stop_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.database = database
        self.worker_command = worker_command
        self.poll_seconds = poll_seconds
        # A stopping worker finishes its in-flight task first; give it the task timeout and a margin.
        self.stop_timeout = stop_timeout if stop_timeout is not None else settings.task_timeout_seconds + 10.0
        self._clock = clock
        self.name = f"{host_name()}:{os.getpid()}"
        self.children: list[Child] = []
        self.desired: int | None = initial_workers
        self._pending_initial = initial_workers
        self._crashes = 0
        self._next_start_at = 0.0
        self._next_beat_at = 0.0
        self._database_ok = True
        self.stopping = asyncio.Event()

    # --- the loop ----------------------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._check_single_instance()
        logger.info(
            "supervisor %s started: worker command %s, desired %s",
            self.name,
            shlex.join(self.worker_command),
            self.desired if self.desired is not None else "from the database",
        )
        try:
            while not self.stopping.is_set():
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.poll_seconds)
        finally:
            await self.stop_all()
            with contextlib.suppress(Exception):
                await clear_supervisor_beat(self.database, name=self.name)
            logger.info("supervisor %s stopped", self.name)

    async def tick(self) -> None:
        await self._refresh_desired()
        self._reap()
        self._escalate()
        if self.desired is not None and not self.stopping.is_set():
            self._reconcile(self.desired)
        await self._beat()

    def request_stop(self) -> None:
        self.stopping.set()

    @property
    def running(self) -> list[Child]:
        """Children not asked to stop."""
        return [child for child in self.children if child.stop_sent_at is None]

    # --- desired count ------------------------------------------------------------------------------------------

    async def _refresh_desired(self) -> None:
        try:
            if self._pending_initial is not None:
                await write_desired_workers(self.database, self._pending_initial, updated_by=f"supervisor {self.name}")
                self._pending_initial = None
            async with self.database.sessions() as session:
                desired = await read_desired_workers(session)
        except Exception as exc:  # noqa: BLE001 - keep the current children while the database is away
            if self._database_ok:
                logger.warning("cannot read the desired worker count, keeping %d workers: %s", len(self.running), exc)
            self._database_ok = False
            return
        if not self._database_ok:
            logger.info("database reachable again")
        self._database_ok = True
        if desired is None:
            desired = self.settings.default_worker_count
        desired = max(0, min(desired, self.settings.worker_max_count))
        if desired != self.desired:
            logger.info("desired workers: %d (running %d)", desired, len(self.running))
        self.desired = desired

    async def _beat(self) -> None:
        now = self._clock()
        if now < self._next_beat_at:
            return
        try:
            await write_supervisor_beat(self.database, pid=os.getpid(), name=self.name)
            self._next_beat_at = now + self.settings.worker_heartbeat_seconds
        except Exception as exc:  # noqa: BLE001 - reported by _refresh_desired; retried next tick
            logger.debug("supervisor heartbeat failed: %s", exc)

    async def _check_single_instance(self) -> None:
        try:
            async with self.database.sessions() as session:
                beat = await read_supervisor_beat(session)
        except Exception as exc:  # noqa: BLE001 - the database may come later; the loop retries
            logger.warning("cannot check for another supervisor: %s", exc)
            return
        if beat is None or beat.name == self.name or not beat.alive(self.settings.worker_lost_after_seconds):
            return
        host, _, pid = beat.name.rpartition(":")
        if host == host_name() and pid.isdigit() and not _pid_alive(int(pid)):
            return  # a supervisor on this host that died without clearing its beat
        raise AnotherSupervisorError(
            f"another supervisor ({beat.name}) is running against this database; stop it first "
            "(`./serve.sh down`), or wait "
            f"{self.settings.worker_lost_after_seconds:g} s if it was killed"
        )

    # --- children -----------------------------------------------------------------------------------------------

    def _reconcile(self, desired: int) -> None:
        running = self.running
        if len(running) > desired:
            # Newest first: the oldest workers hold the warmest caches and partitions.
            for child in sorted(running, key=lambda c: c.started_at, reverse=True)[: len(running) - desired]:
                self._signal(child, signal.SIGTERM)
                child.stop_sent_at = self._clock()
            logger.info("stopping %d workers (desired %d)", len(running) - desired, desired)
            return
        missing = desired - len(running)
        if missing <= 0 or self._clock() < self._next_start_at:
            return
        for _ in range(missing):
            self._start()

    def _start(self) -> None:
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid()), *self.worker_command],
                stdin=subprocess.DEVNULL,
                # Its own process group: a signal to the supervisor's group (Ctrl-C, `serve.sh down`) reaches the
                # supervisor only, which then sends each worker exactly one SIGTERM. (A second one would kill a worker
                # at once, in the middle of its tasks.)
                process_group=0,
            )
        except OSError as exc:
            self._crashed(f"cannot start {shlex.join(self.worker_command)}: {exc}", ran_for=0.0)
            return
        self.children.append(Child(process=process, started_at=self._clock()))
        logger.info("started worker pid %d", process.pid)

    def _reap(self) -> None:
        for child in list(self.children):
            code = child.process.poll()
            if code is None:
                continue
            self.children.remove(child)
            if child.stop_sent_at is not None or self.stopping.is_set():
                logger.info("worker pid %d stopped (exit status %d)", child.pid, code)
            else:
                self._crashed(
                    f"worker pid {child.pid} exited unexpectedly with status {code}",
                    ran_for=self._clock() - child.started_at,
                )

    def _crashed(self, reason: str, *, ran_for: float) -> None:
        if ran_for >= HEALTHY_RUN_SECONDS:
            self._crashes = 0
        self._crashes += 1
        backoff = min(MAX_BACKOFF_SECONDS, 2.0 ** (self._crashes - 1))
        self._next_start_at = max(self._next_start_at, self._clock() + backoff)
        logger.warning("%s; restarting in %.0f s", reason, backoff)

    def _escalate(self) -> None:
        now = self._clock()
        for child in self.children:
            if child.stop_sent_at is not None and now - child.stop_sent_at > self.stop_timeout:
                logger.warning("worker pid %d did not stop within %.0f s; killing it", child.pid, self.stop_timeout)
                self._signal(child, signal.SIGKILL)

    @staticmethod
    def _signal(child: Child, signum: int) -> None:
        # Popen.send_signal does nothing once the child is reaped, so a reused pid is never signalled.
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signum)

    async def stop_all(self) -> None:
        """SIGTERM every child, wait for them (SIGKILL past the stop timeout), reap them all."""
        for child in self.running:
            self._signal(child, signal.SIGTERM)
            child.stop_sent_at = self._clock()
        if self.children:
            logger.info("stopping %d workers", len(self.children))
        while self.children:
            self._reap()
            self._escalate()
            if self.children:
                await asyncio.sleep(0.1)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.scaling.supervisor", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"set the desired worker count at start (0..{settings.worker_max_count}); "
        "default: the database's, else DEFAULT_WORKER_COUNT",
    )
    parser.add_argument(
        "--worker-command",
        default=None,
        help=f"command of one worker (default: {shlex.join(DEFAULT_WORKER_COMMAND)})",
    )
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="seconds between two reconciliations")
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=None,
        help="seconds a stopping worker gets before SIGKILL (default: TASK_TIMEOUT_SECONDS + 10)",
    )
    return parser


async def _main(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(settings, "supervisor")
    command = shlex.split(args.worker_command) if args.worker_command is not None else DEFAULT_WORKER_COMMAND
    supervisor = Supervisor(
        settings,
        database,
        worker_command=command,
        initial_workers=args.workers,
        poll_seconds=args.poll_seconds,
        stop_timeout=args.stop_timeout,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, supervisor.request_stop)
    try:
        await supervisor.run()
    except AnotherSupervisorError as exc:
        logger.error("%s", exc)
        return 1
    finally:
        await database.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    args = _parser(settings).parse_args(argv)
    if args.workers is not None and not 0 <= args.workers <= settings.worker_max_count:
        print(f"--workers must be within 0..{settings.worker_max_count} (WORKER_MAX_COUNT)", file=sys.stderr)
        return 2
    command = shlex.split(args.worker_command) if args.worker_command is not None else DEFAULT_WORKER_COMMAND
    if not command or shutil.which(command[0]) is None:
        print(f"--worker-command: {command[0] if command else 'nothing'} is not an executable", file=sys.stderr)
        return 2
    return run_process(Service.SUPERVISOR, lambda _logs: _main(settings, args), settings)


if __name__ == "__main__":
    sys.exit(main())
