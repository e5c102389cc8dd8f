"""The task-run state machine on SQLite and Postgres: coalescing, guarded transitions, retries, the reaper."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from backend.config import Settings
from backend.db.engine import Database
from backend.db.models import TaskRun, Worker
from backend.registry import WorkerState
from backend.tasks import repository as tasks
from backend.tasks.repository import StartRefusal, TaskAssignment
from backend.workers.execution import TaskExecutor

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=10)
LOST_AFTER = timedelta(seconds=30)


async def enqueue(database: Database, lines: list[str], now: datetime = NOW) -> tasks.EnqueueOutcome:
    async with database.write_sessions() as session, session.begin():
        return await tasks.enqueue(session, lines, now=now, max_attempts=2, trigger="interval")


async def start(database: Database, task_id: str, worker: str, now: datetime = NOW) -> TaskAssignment | StartRefusal:
    async with database.write_sessions() as session, session.begin():
        return await tasks.start(session, task_id, worker_id=worker, now=now, lease=LEASE)


async def row(database: Database, task_id: str) -> TaskRun:
    async with database.sessions() as session:
        return (await session.execute(select(TaskRun).where(TaskRun.id == task_id))).scalar_one()


async def heartbeat(database: Database, worker: str, at: datetime, status: str = "busy") -> None:
    async with database.write_sessions() as session, session.begin():
        session.add(
            Worker(
                id=worker,
                host="h",
                pid=1,
                status=status,
                bus="kafka",
                started_at=at,
                last_heartbeat_at=at,
                assigned_partitions=[],
                metrics={},
            )
        )


async def test_a_line_with_an_active_task_is_coalesced_not_queued_twice(database: Database) -> None:
    first = await enqueue(database, ["metro:1", "metro:2"])
    second = await enqueue(database, ["metro:1", "metro:2", "metro:3"])
    assert (len(first.task_ids), first.coalesced) == (2, 0)
    assert (len(second.task_ids), second.coalesced) == (1, 2)


async def test_concurrent_enqueues_never_create_two_active_tasks_for_a_line(database: Database) -> None:
    outcomes = await asyncio.gather(*(enqueue(database, ["rer:A", "rer:B"]) for _ in range(5)))
    assert sum(len(o.task_ids) for o in outcomes) == 2


async def test_a_redelivered_finished_task_is_not_run_again(database: Database) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    assignment = await start(database, task_id, "w1")
    assert isinstance(assignment, TaskAssignment)
    assert assignment.attempt == 1
    async with database.write_sessions() as session, session.begin():
        assert await tasks.succeed(session, assignment, worker_id="w1", now=NOW, result={})
    assert await start(database, task_id, "w2") is StartRefusal.FINISHED
    async with database.write_sessions() as session, session.begin():
        assert not await tasks.succeed(session, assignment, worker_id="w1", now=NOW, result={})


async def test_a_task_running_under_a_live_worker_is_left_to_it(database: Database) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    await heartbeat(database, "w1", NOW)
    assert isinstance(await start(database, task_id, "w1"), TaskAssignment)
    assert await start(database, task_id, "w2", NOW + timedelta(seconds=1)) is StartRefusal.OWNED


async def test_a_task_of_a_dead_worker_is_taken_over_and_the_late_result_dropped(database: Database) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    await heartbeat(database, "w1", NOW)
    first = await start(database, task_id, "w1")
    assert isinstance(first, TaskAssignment)
    later = NOW + LEASE + timedelta(seconds=1)
    second = await start(database, task_id, "w2", later)
    assert isinstance(second, TaskAssignment)
    assert second.attempt == 2
    async with database.write_sessions() as session, session.begin():
        assert not await tasks.succeed(session, first, worker_id="w1", now=later, result={})
        assert await tasks.succeed(session, second, worker_id="w2", now=later, result={})
    assert (await row(database, task_id)).worker_id == "w2"


async def test_a_failed_attempt_is_retried_with_backoff_then_fails_with_its_reason(database: Database) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    first = await start(database, task_id, "w1")
    assert isinstance(first, TaskAssignment)
    async with database.write_sessions() as session, session.begin():
        status = await tasks.fail(
            session, first, worker_id="w1", now=NOW, error="upstream 503", retry_backoff=timedelta(seconds=5)
        )
    assert status == "queued"
    queued = await row(database, task_id)
    assert queued.available_at == NOW + timedelta(seconds=5)
    assert queued.published_at is None
    assert "upstream 503" in (queued.error or "")
    assert await start(database, task_id, "w2", NOW + timedelta(seconds=1)) is StartRefusal.NOT_DUE
    second = await start(database, task_id, "w2", NOW + timedelta(seconds=6))
    assert isinstance(second, TaskAssignment)
    assert second.attempt == 2
    async with database.write_sessions() as session, session.begin():
        status = await tasks.fail(
            session, second, worker_id="w2", now=NOW, error="upstream 503", retry_backoff=timedelta(seconds=5)
        )
    assert status == "failed"
    assert (await row(database, task_id)).error == "failed after 2 attempts: upstream 503"


async def test_claims_from_the_database_queue_never_hand_out_a_task_twice(database: Database) -> None:
    await enqueue(database, [f"bus:{n}" for n in (20, 21, 22, 24, 26, 27, 28, 29, 30, 31)])

    async def claim(worker: str) -> TaskAssignment | None:
        async with database.write_sessions() as session, session.begin():
            return await tasks.claim_next(session, worker_id=worker, now=NOW, lease=LEASE)

    claims = await asyncio.gather(*(claim(f"w{n}") for n in range(14)))
    taken = [c.task_id for c in claims if c is not None]
    assert len(taken) == len(set(taken)) == 10


async def reap(database: Database, now: datetime, *, kafka: bool = True) -> tasks.ReapOutcome:
    async with database.write_sessions() as session, session.begin():
        return await tasks.reap(
            session,
            now=now,
            lost_after=LOST_AFTER,
            queued_expiry=timedelta(minutes=6),
            expiry_counts_from_publication=kafka,
        )


async def publish(database: Database, task_ids: list[str], now: datetime = NOW, attempt: int = 0) -> None:
    async with database.write_sessions() as session, session.begin():
        await tasks.mark_published(session, dict.fromkeys(task_ids, attempt), now=now)


async def test_the_reaper_requeues_a_dead_workers_task_and_expires_a_published_one_nobody_started(
    database: Database,
) -> None:
    lost_id, stale_id = (await enqueue(database, ["metro:1", "metro:2"])).task_ids
    await publish(database, [lost_id, stale_id])
    await heartbeat(database, "w1", NOW)
    assert isinstance(await start(database, lost_id, "w1"), TaskAssignment)
    outcome = await reap(database, NOW + timedelta(minutes=10))
    assert (outcome.requeued, outcome.failed, outcome.expired) == (1, 0, 1)
    requeued = await row(database, lost_id)
    assert requeued.status == "queued"
    assert requeued.published_at is None
    assert requeued.error == "attempt 1/2 lost: worker w1 stopped heartbeating 600 s ago; requeued"
    expired = await row(database, stale_id)
    assert expired.status == "expired"
    assert expired.error == "published, but no worker started it within 360 s"


async def test_a_task_the_bus_never_accepted_is_not_expired(database: Database) -> None:
    (never_published,) = (await enqueue(database, ["metro:1"])).task_ids
    outcome = await reap(database, NOW + timedelta(hours=2))
    assert outcome.expired == 0
    assert (await row(database, never_published)).status == "queued"
    # On the database queue the row is the message: it is due from `available_at`.
    outcome = await reap(database, NOW + timedelta(hours=2), kafka=False)
    assert outcome.expired == 1
    assert (await row(database, never_published)).error == "due, but no worker took it within 360 s"


async def test_a_live_worker_keeps_its_task_once_leases_are_extended_after_an_outage(database: Database) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    await heartbeat(database, "w1", NOW)
    assert isinstance(await start(database, task_id, "w1"), TaskAssignment)
    # The database was unreachable for a minute: neither heartbeat nor lease renewal could be written.
    back = NOW + timedelta(minutes=1)
    async with database.write_sessions() as session, session.begin():
        assert await tasks.extend_leases(session, until=back + LOST_AFTER) == 1
    assert (await reap(database, back)).requeued == 0
    async with database.write_sessions() as session, session.begin():
        await tasks.renew_leases(session, [task_id], worker_id="w1", now=back + timedelta(seconds=5), lease=LEASE)
    assert (await reap(database, back + timedelta(seconds=12))).requeued == 0
    assert (await row(database, task_id)).status == "running"


async def test_a_redelivered_task_is_not_taken_from_a_worker_whose_heartbeat_is_stale_but_lease_valid(
    database: Database,
) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    await heartbeat(database, "w1", NOW)
    assert isinstance(await start(database, task_id, "w1"), TaskAssignment)
    back = NOW + timedelta(minutes=5)  # after an outage: every heartbeat is stale, the reaper extended the lease
    async with database.write_sessions() as session, session.begin():
        await tasks.extend_leases(session, until=back + LOST_AFTER)
    assert await start(database, task_id, "w2", back) is StartRefusal.OWNED


async def test_a_task_on_its_last_attempt_fails_when_its_worker_stopped_without_finishing_it(
    database: Database,
) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    await heartbeat(database, "w1", NOW, status="stopped")
    for attempt in (1, 2):
        assert isinstance(await start(database, task_id, "w1", NOW + timedelta(minutes=attempt - 1)), TaskAssignment)
        outcome = await reap(database, NOW + timedelta(minutes=attempt))
        assert (outcome.requeued, outcome.failed) == ((1, 0) if attempt == 1 else (0, 1))
    failed = await row(database, task_id)
    assert failed.status == "failed"
    assert failed.error == "last attempt (2/2) lost: worker w1 stopped without finishing it"


async def test_published_at_is_set_even_when_a_worker_started_the_task_first(database: Database) -> None:
    started_first, requeued = (await enqueue(database, ["metro:1", "metro:2"])).task_ids
    assert isinstance(await start(database, started_first, "w1"), TaskAssignment)
    assignment = await start(database, requeued, "w1")
    assert isinstance(assignment, TaskAssignment)
    async with database.write_sessions() as session, session.begin():
        await tasks.fail(session, assignment, worker_id="w1", now=NOW, error="boom", retry_backoff=timedelta(seconds=0))
    await publish(database, [started_first, requeued], attempt=0)
    assert (await row(database, started_first)).published_at is not None
    # Queued again since that message was sent: its retry is still to publish.
    assert (await row(database, requeued)).published_at is None


async def test_a_task_started_from_an_earlier_message_is_marked_published(database: Database) -> None:
    (task_id,) = (await enqueue(database, ["metro:1"])).task_ids
    await publish(database, [task_id])
    await heartbeat(database, "w1", NOW)
    assert isinstance(await start(database, task_id, "w1"), TaskAssignment)
    later = NOW + timedelta(minutes=1)  # w1 died: the reaper queues the task again, to publish anew
    assert (await reap(database, later)).requeued == 1
    assert (await row(database, task_id)).published_at is None
    # The first message, redelivered to another worker, arrives before the relay published the task again.
    assert isinstance(await start(database, task_id, "w2", later), TaskAssignment)
    assert (await row(database, task_id)).published_at is not None


async def test_published_tasks_leave_the_outbox(database: Database) -> None:
    ids = (await enqueue(database, ["metro:1", "metro:2"])).task_ids
    async with database.write_sessions() as session, session.begin():
        assert {t.id for t in await tasks.unpublished(session, now=NOW, limit=10)} == set(ids)
        await tasks.mark_published(session, {ids[0]: 0}, now=NOW)
    async with database.sessions() as session:
        assert [t.id for t in await tasks.unpublished(session, now=NOW, limit=10)] == ids[1:]


async def test_starts_asked_together_share_one_statement_and_start_each_task_once(
    database: Database, settings: Settings
) -> None:
    queued = await enqueue(database, ["metro:1", "metro:2", "metro:3", "metro:4"])
    await heartbeat(database, "w1", datetime.now(UTC))
    executor = TaskExecutor(settings, database, WorkerState(id="w1", bus="kafka"), fetcher=None)
    updates: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE TASK_RUNS"):
            updates.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        outcomes = await asyncio.gather(*(executor.start_delivered(task_id) for task_id in queued.task_ids))
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert len(updates) == 1
    assert all(isinstance(outcome, TaskAssignment) and outcome.attempt == 1 for outcome in outcomes)
    assert sorted(o.task_id for o in outcomes if isinstance(o, TaskAssignment)) == sorted(queued.task_ids)
    for task_id in queued.task_ids:
        started = await row(database, task_id)
        assert (started.status, started.worker_id, started.attempt) == ("running", "w1", 1)
    # The same message delivered again (a redelivery) starts nothing: the task is this live worker's.
    assert await executor.start_delivered(queued.task_ids[0]) is StartRefusal.OWNED
