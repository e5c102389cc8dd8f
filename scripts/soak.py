#!/usr/bin/env python3
"""Soak run of the task pipeline under chaos, with real processes (not a test: it prints what happened).

Starts a private PostgreSQL and Kafka, the stub upstream, the scheduler and N workers (Kafka bus, live fetches
against the stub), and for `--minutes` keeps them busy while it
- SIGKILLs a random worker every `--kill-every` seconds (and starts a replacement),
- stops Kafka for `--outage` seconds at one third of the run, then starts it again,
- stops PostgreSQL for `--outage` seconds at two thirds of the run, then starts it again.
Then it lets the fleet finish every task scheduled so far (the scheduler still relaying), stops the scheduler, and
prints those tasks by status and:
- expired: tasks that ended `expired` (no outage may cause one);
- lost: tasks the scheduler enqueued that have no row, or that are still queued or running after the drain;
- attempts lost with killed workers: attempts taken back (reaper) or over (another worker) from a worker this
  script SIGKILLed, which is what a kill costs;
- attempts wasted: every other attempt beyond the first (an outage, a live worker robbed of its task, a retry).

Run: backend/venv/bin/python scripts/soak.py --minutes 10 [--workers 4] [--lines 40]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from backend.db.models import SchedulerRun, TaskRun  # noqa: E402
from backend.migrate import migrate_database  # noqa: E402
from backend.tests.pipeline.probe import PipelineProbe, lines_for  # noqa: E402
from backend.tests.support.databases import settings_for  # noqa: E402
from backend.tests.support.pipeline import start_stub, stub_env  # noqa: E402
from backend.tests.support.processes import ServiceProcess, Services, eventually, service_env  # noqa: E402
from backend.tests.support.services import kafka_broker, own_postgres_server  # noqa: E402

TAKEN_BACK = re.compile(r"task (\S+) taken back: .*?worker (\S+) ")
TAKEN_OVER = re.compile(r"task (\S+) taken over from worker (\S+) ")


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def quietly(probe: PipelineProbe, what: str) -> Counter[str] | None:
    """The task counts, or None while the database is down."""
    try:
        return await probe.task_statuses()
    except Exception as exc:  # noqa: BLE001 - the database may be stopped on purpose
        say(f"{what}: database not answering ({type(exc).__name__})")
        return None


class Fleet:
    def __init__(self, stack: Services, probe: PipelineProbe, size: int) -> None:
        self.stack = stack
        self.probe = probe
        self.workers: list[ServiceProcess] = [stack.start("worker") for _ in range(size)]
        self.killed: set[str] = set()  # worker ids

    async def kill_one(self) -> None:
        alive = [w for w in self.workers if w.alive()]
        if not alive:
            return
        victim = random.choice(alive)
        try:
            rows = {row.pid: row.id for row in await self.probe.workers()}
        except Exception:  # noqa: BLE001 - no kill while the database is down: the victim could not be named
            return
        if victim.pid not in rows:
            return
        victim.kill()
        self.killed.add(rows[victim.pid])
        self.workers.remove(victim)
        self.workers.append(self.stack.start("worker"))
        say(f"SIGKILLed worker {rows[victim.pid]} (pid {victim.pid}); started a replacement")


async def soak(args: argparse.Namespace, log_dir: Path) -> int:
    with own_postgres_server() as postgres, kafka_broker(own=True) as kafka:
        await migrate_database(settings_for(postgres.url), url=postgres.url)
        probe = PipelineProbe(postgres.url)
        lines = lines_for(args.lines)
        env = service_env(
            database_url=postgres.url,
            kafka_bootstrap_servers=kafka.bootstrap,
            scheduler_interval_seconds=args.interval,
            scheduler_queued_expiry_cycles=3,
            scheduler_lines=",".join(lines),
            worker_concurrency=2,
            task_max_attempts=3,
        )
        stack = Services(log_dir, env)
        try:
            port = await start_stub(stack, latency_ms=args.latency_ms)
            stack.env.update({key.upper(): str(value) for key, value in stub_env(port).items()})
            fleet = Fleet(stack, probe, args.workers)
            await eventually(
                lambda: _live(probe, args.workers), timeout=180, message=f"{args.workers} workers in the registry"
            )
            scheduler = stack.start("scheduler")
            say(
                f"running {args.minutes:g} min: {args.workers} workers, {len(lines)} lines every {args.interval:g} s, "
                f"stub latency {args.latency_ms} ms; logs in {log_dir}"
            )
            await _chaos(args, fleet, postgres, kafka)

            # The scheduler keeps relaying (what an outage left unpublished) while the fleet finishes every task
            # scheduled so far; then it stops, and what it queued after this point is not counted.
            ended_at = datetime.now(UTC)
            say("chaos over; letting the fleet finish every task scheduled so far")
            try:
                await eventually(lambda: _finished_before(probe, ended_at), timeout=300, message="every task finished")
            except AssertionError as exc:
                say(str(exc))
            scheduler.terminate()
            scheduler.wait(60)
            return await _report(probe, fleet, stack, ended_at)
        finally:
            stack.stop_all()
            await probe.close()


async def _chaos(args: argparse.Namespace, fleet: Fleet, postgres: object, kafka: object) -> None:
    started = time.monotonic()
    duration = args.minutes * 60
    events = {duration / 3: ("Kafka", kafka), 2 * duration / 3: ("PostgreSQL", postgres)}
    next_kill = args.kill_every
    while (elapsed := time.monotonic() - started) < duration:
        for at, (name, server) in list(events.items()):
            if elapsed >= at:
                del events[at]
                say(f"stopping {name} for {args.outage:g} s")
                await asyncio.to_thread(server.stop)  # type: ignore[attr-defined]
                await asyncio.sleep(args.outage)
                await asyncio.to_thread(server.start)  # type: ignore[attr-defined]
                say(f"{name} started again")
        if elapsed >= next_kill:
            await fleet.kill_one()
            next_kill += args.kill_every
        counts = await quietly(fleet.probe, "progress")
        if counts is not None and int(elapsed) % 60 < 5:
            say(f"{elapsed / 60:.1f} min: {dict(sorted(counts.items()))}")
        await asyncio.sleep(5)


async def _live(probe: PipelineProbe, count: int) -> bool:
    return len(await probe.live_workers()) >= count


async def _tasks_before(probe: PipelineProbe, ended_at: datetime) -> tuple[list[TaskRun], int]:
    """The task rows scheduled before `ended_at`, and how many tasks the scheduler enqueued before then."""
    async with probe.database.sessions() as session:
        runs = select(SchedulerRun.id).where(SchedulerRun.started_at < ended_at)
        rows = list((await session.execute(select(TaskRun).where(TaskRun.scheduler_run_id.in_(runs)))).scalars())
        enqueued = await session.scalar(
            select(func.coalesce(func.sum(SchedulerRun.enqueued), 0)).where(SchedulerRun.started_at < ended_at)
        )
    return rows, int(enqueued or 0)


async def _finished_before(probe: PipelineProbe, ended_at: datetime) -> bool:
    try:
        rows, _ = await _tasks_before(probe, ended_at)
    except Exception:  # noqa: BLE001 - reconnecting after the database restart
        return False
    return all(row.status not in ("queued", "running") for row in rows)


async def _report(probe: PipelineProbe, fleet: Fleet, stack: Services, ended_at: datetime) -> int:
    rows, enqueued = await _tasks_before(probe, ended_at)
    statuses = Counter(row.status for row in rows)
    logs = "\n".join(process.output() for process in stack.started)
    taken = {(m.group(1), m.group(2)) for m in TAKEN_BACK.finditer(logs)}
    taken |= {(m.group(1), m.group(2)) for m in TAKEN_OVER.finditer(logs)}
    lost_with_kills = sum(1 for _, worker in taken if worker in fleet.killed)
    taken_from_live = sorted(f"{task} from {worker}" for task, worker in taken if worker not in fleet.killed)
    extra_attempts = sum(max(row.attempt - 1, 0) for row in rows)
    wasted = extra_attempts - lost_with_kills
    unfinished = statuses["queued"] + statuses["running"]
    missing = max(enqueued - len(rows), 0)
    print()
    print("== soak result")
    print(f"tasks by status:            {dict(sorted(statuses.items()))} ({len(rows)} tasks, {enqueued} enqueued)")
    print(f"workers SIGKILLed:          {len(fleet.killed)}")
    print(f"attempts lost with killed workers: {lost_with_kills}")
    print(f"attempts wasted:            {wasted}")
    print(f"expired:                    {statuses['expired']}")
    print(f"lost:                       {unfinished + missing} ({unfinished} unfinished, {missing} missing)")
    print(f"published_at missing:       {sum(1 for row in rows if row.attempt > 0 and row.published_at is None)}")
    if taken_from_live:
        print(f"taken from workers not killed: {', '.join(taken_from_live[:10])}")
    for row in rows:
        if row.status in ("expired", "failed") or row.attempt > 1:
            print(f"  {row.line_id} {row.status} attempt {row.attempt}: {row.error}")
    return 0 if wasted == 0 and statuses["expired"] == 0 and unfinished + missing == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--interval", type=float, default=15.0, help="scheduler interval, seconds")
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds between two worker SIGKILLs")
    parser.add_argument("--outage", type=float, default=25.0, help="seconds Kafka, then PostgreSQL, stay stopped")
    parser.add_argument("--latency-ms", type=int, default=150, help="stub upstream latency")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="ratp-soak-"))
    return asyncio.run(soak(args, log_dir))


if __name__ == "__main__":
    sys.exit(main())
