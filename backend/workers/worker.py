"""One worker replica: `python -m backend.workers.worker [--fetcher live|none]`.

Consumes line-fetch tasks from Kafka (KAFKA_BOOTSTRAP_SERVERS set) or from the database-backed queue, runs up to
WORKER_CONCURRENCY of them at once, heartbeats into the worker registry, and on SIGTERM finishes (or hands back)
its in-flight tasks, commits, leaves the group and marks itself stopped.

`--fetcher none` runs the pipeline without upstream work (tasks succeed without fetching or writing live data):
for measuring the pipeline itself (scripts/bench_pipeline.py), never for serving data.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from backend.clock import utcnow
from backend.config import Settings, get_settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.db.migrate import SchemaNotReadyError, wait_for_schema
from backend.lifecycle import (
    collect_young_objects_less_often,
    freeze_startup_heap,
    install_stop_signals,
    run_process,
)
from backend.logs import CentralizedLogging
from backend.registry import WorkerState, new_worker_id, write_heartbeat
from backend.tasks import repository as tasks
from backend.vocabulary import Service, WorkerStatus
from backend.workers.database_loop import DatabaseTaskLoop
from backend.workers.execution import LineFetcher, TaskExecutor, UpstreamReport, lease_for
from backend.workers.kafka_loop import KafkaTaskLoop

logger = logging.getLogger("backend.workers.worker")


async def write_state(database: Database, settings: Settings, state: WorkerState) -> None:
    """Write the registry row and renew the leases of in-flight tasks."""
    async with database.write_sessions() as session, session.begin():
        now = utcnow()
        await write_heartbeat(session, state, now=now)
        await tasks.renew_leases(session, list(state.in_flight), worker_id=state.id, now=now, lease=lease_for(settings))


async def heartbeat(
    database: Database,
    settings: Settings,
    state: WorkerState,
    logs: CentralizedLogging | None,
    fetcher: object = None,
) -> None:
    """Every WORKER_HEARTBEAT_SECONDS until cancelled; a database outage only delays it."""
    while True:
        if logs is not None:
            state.metrics.update(logs.stats())  # dropped log records show on the worker's row
        if isinstance(fetcher, UpstreamReport):
            state.metrics["upstream"] = fetcher.counters()  # circuit breakers (and local quotas) on the worker's row
        try:
            await write_state(database, settings, state)
        except DATABASE_ERRORS as exc:
            logger.warning("heartbeat failed: %s", exc)
        await asyncio.sleep(settings.worker_heartbeat_seconds)


def build_fetcher(settings: Settings, mode: str, database: Database) -> LineFetcher | None:
    if mode == "none":
        return None
    from backend.budget.ledger import FleetBudget
    from backend.livedata.traffic_feed import TrafficFeedGate, traffic_feed_fresh_for
    from backend.services.live_data import LiveDataService

    # One PRIM budget for the whole fleet, kept in the database; the fleet's read of the traffic feed, too.
    gate = None
    if settings.prim_traffic_feed_enabled:
        gate = TrafficFeedGate(database, fresh_for=traffic_feed_fresh_for(settings))
    return LiveDataService(settings, prim_budget=FleetBudget(database, settings), traffic_gate=gate)


async def run_worker(
    settings: Settings,
    *,
    fetcher_mode: str = "live",
    stopping: asyncio.Event | None = None,
    logs: CentralizedLogging | None = None,
) -> int:
    stopping = stopping or asyncio.Event()
    state = WorkerState(id=new_worker_id(settings), bus=settings.bus)
    # No ping before each transaction: a worker runs two per task, and a connection found dead fails one statement,
    # which the worker retries (DatabaseUnavailableError) on a fresh connection after the pool dropped the dead ones.
    database = Database(settings, f"worker {state.id}", pre_ping=False)
    try:
        await wait_for_schema(database.engine, timeout=300, stopping=stopping)
    except SchemaNotReadyError as exc:
        logger.error("worker cannot start: %s", exc)
        await database.dispose()
        return 3
    await database.open_pool()
    state.started_at = utcnow()
    state.metrics["concurrency"] = settings.worker_concurrency
    fetcher = build_fetcher(settings, fetcher_mode, database)
    freeze_startup_heap()
    collect_young_objects_less_often()
    executor = TaskExecutor(settings, database, state, fetcher)
    loop = (
        KafkaTaskLoop(settings, executor, state) if settings.uses_kafka else DatabaseTaskLoop(settings, executor, state)
    )
    beat = asyncio.create_task(heartbeat(database, settings, state, logs, fetcher))
    logger.info("worker %s started (bus: %s, concurrency %d)", state.id, state.bus, settings.worker_concurrency)
    try:
        await loop.run(stopping)
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
        state.status = WorkerStatus.STOPPED
        state.in_flight.clear()
        try:
            await asyncio.wait_for(write_state(database, settings, state), timeout=10)
        except DATABASE_ERRORS:  # includes TimeoutError
            logger.warning("could not record the stopped status")
        if fetcher is not None:
            await fetcher.aclose()
        await database.dispose()
        logger.info("worker %s stopped (processed %d, failed %d)", state.id, state.processed, state.failed)
    return 0


async def _main(args: argparse.Namespace, logs: CentralizedLogging) -> int:
    settings = get_settings()
    stopping = asyncio.Event()
    install_stop_signals(stopping, "worker")
    return await run_worker(settings, fetcher_mode=args.fetcher, stopping=stopping, logs=logs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.workers.worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--fetcher",
        choices=("live", "none"),
        default="live",
        help="live: fetch from the configured sources (default); none: pipeline benchmark mode",
    )
    args = parser.parse_args(argv)
    return run_process(Service.WORKER, lambda logs: _main(args, logs))


if __name__ == "__main__":
    sys.exit(main())
