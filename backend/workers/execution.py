"""Running one task: fetch the line within the hard timeout, then write its data and its outcome in one transaction.

Shared by both buses: Kafka delivers a task id (`start_delivered`), the database queue hands out assignments
(`claim`). The task's outcome is what happened to the line's departures: `succeeded` when every stop answered,
`partial` when some failed (the error says which and why), `failed` (retried) when no stop answered or the fetch
itself failed. Traffic and train positions never make a departures failure look like a success. The fleet's traffic
task (`TRAFFIC_FEED_TASK_LINE`) reads PRIM's traffic feed once for every line instead: `succeeded` with the counts,
or `failed` (retried) with the reason, line fetches then asking per line meanwhile. Errors of the
database while taking a task propagate as `DatabaseUnavailableError` so the caller keeps the message (and its Kafka
offset) and tries again; once a task ran, its outcome is recorded whenever the database answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from backend.backoff import retries
from backend.catalogue import Line, UnknownLineError, get_catalogue
from backend.clock import utcnow
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.db.models import TRAFFIC_FEED_TASK_LINE
from backend.livedata.repository import (
    departures_source,
    record_failed_fetch,
    stop_list,
    store_line_result,
    stored_stop_refs,
)
from backend.livedata.traffic_feed import record_feed_failure, store_feed
from backend.registry import WorkerState
from backend.services.records import LineFetchResult, SourceAttempt, StopList
from backend.services.resilience import describe_failures
from backend.services.stop_refs import LineStopRefs
from backend.tasks import repository as tasks
from backend.tasks.repository import StartRefusal, TaskAssignment

if TYPE_CHECKING:
    from backend.services.live_data import TrafficFeedRead

logger = logging.getLogger("backend.workers.execution")


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached to record a task; the task stays with this worker to retry."""


class LineFetcher(Protocol):
    async def fetch_line(self, line: Line, stops: StopList | None = None) -> LineFetchResult: ...

    def load_stop_refs(self, stored: LineStopRefs) -> None: ...
    async def read_traffic_feed(self) -> TrafficFeedRead: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class UpstreamReport(Protocol):
    """A fetcher that reports its hold on the upstreams (circuit breakers, quotas) for the worker's heartbeat."""

    def counters(self) -> dict[str, Any]: ...


def lease_for(settings: Settings) -> timedelta:
    """How long a running task stays ours without a heartbeat renewing it."""
    return timedelta(seconds=max(3 * settings.worker_heartbeat_seconds, 5.0))


class GroupStart:
    """`queued -> running` for every task a worker starts at about the same moment, in one statement: the starts
    asked for in one turn of the event loop, and those asked for while the previous statement is in flight (a group
    commit). Slots freed together (a batch of messages, tasks finishing together) start their next tasks together,
    one round trip for all of them. A start whose caller was cancelled meanwhile is handed back (`orphaned`), so
    that no task stays running without anyone running it."""

    def __init__(
        self,
        run: Callable[[list[str]], Awaitable[dict[str, TaskAssignment]]],
        *,
        orphaned: Callable[[TaskAssignment], Awaitable[None]],
    ) -> None:
        self._run = run
        self._orphaned = orphaned
        self._waiting: dict[str, asyncio.Future[TaskAssignment | None]] = {}
        self._flushing: asyncio.Task[None] | None = None

    async def start(self, task_id: str) -> TaskAssignment | None:
        """The task's assignment when it was queued and due, else None (it is in another state)."""
        if task_id in self._waiting:  # the same task delivered twice at once: the first delivery starts it
            return None
        future: asyncio.Future[TaskAssignment | None] = asyncio.get_running_loop().create_future()
        self._waiting[task_id] = future
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # the other starts of this turn of the loop join
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    started = await self._run(list(batch))
                except Exception as exc:  # noqa: BLE001 - raised to every start of the batch, which decides
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except asyncio.CancelledError:
                    for future in [*batch.values(), *self._waiting.values()]:
                        future.cancel()
                    self._waiting = {}
                    raise
                for task_id, future in batch.items():
                    assignment = started.get(task_id)
                    if not future.done():
                        future.set_result(assignment)
                    elif assignment is not None:
                        await self._orphaned(assignment)
        finally:
            self._flushing = None


class TaskExecutor:
    """Runs tasks for one worker replica and keeps its counters in `state`."""

    def __init__(self, settings: Settings, database: Database, state: WorkerState, fetcher: LineFetcher | None) -> None:
        self._settings = settings
        self._database = database
        self._state = state
        # None: pipeline benchmark mode, tasks do no upstream work and write no live data.
        self._fetcher = fetcher
        self._catalogue = get_catalogue()
        self._group_start = GroupStart(self._start_due, orphaned=self.hand_back)
        self._stop_refs_loaded: set[str] = set()  # lines whose stored stop ids this process has read

    async def _start_due(self, task_ids: list[str]) -> dict[str, TaskAssignment]:
        async with self._database.statement_engine.begin() as connection:
            return await tasks.start_due_many(
                connection, task_ids, worker_id=self._state.id, now=utcnow(), lease=lease_for(self._settings)
            )

    async def start_delivered(self, task_id: str) -> TaskAssignment | StartRefusal:
        try:
            # The usual case in one statement shared with the other starts of the moment; any other state through
            # the full decision.
            due = await self._group_start.start(task_id)
            if due is not None:
                return due
            async with self._database.write_sessions() as session, session.begin():
                outcome = await tasks.start(
                    session,
                    task_id,
                    worker_id=self._state.id,
                    now=utcnow(),
                    lease=lease_for(self._settings),
                )
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        if isinstance(outcome, TaskAssignment) and outcome.taken_over_from is not None:
            logger.warning(
                "task %s taken over from worker %s (its lease lapsed or it is gone): attempt %d/%d",
                task_id,
                outcome.taken_over_from,
                outcome.attempt,
                outcome.max_attempts,
                extra={"task_id": task_id, "worker": outcome.taken_over_from, "attempt": outcome.attempt},
            )
        return outcome

    async def claim(self) -> TaskAssignment | None:
        try:
            async with self._database.write_sessions() as session, session.begin():
                return await tasks.claim_next(
                    session, worker_id=self._state.id, now=utcnow(), lease=lease_for(self._settings)
                )
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc

    async def run(self, assignment: TaskAssignment) -> str | None:
        """Run an assignment to its recorded outcome; returns the new task status (None: no longer ours)."""
        if assignment.line_id == TRAFFIC_FEED_TASK_LINE and self._fetcher is not None:
            return await self._run_traffic_feed(assignment, self._fetcher)
        self._state.in_flight[assignment.task_id] = assignment.line_id
        started = time.perf_counter()
        try:
            result, error = await self._fetch(assignment)
            elapsed = time.perf_counter() - started
            return await self._until_recorded(assignment, lambda: self._record(assignment, result, error, elapsed))
        finally:
            self._state.in_flight.pop(assignment.task_id, None)

    async def _until_recorded(
        self, assignment: TaskAssignment, record: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """`record()` retried until the database takes it: the fetched result is kept meanwhile, so an outage costs
        neither the fetch nor the attempt (the heartbeat keeps renewing this task's lease, and renews it again on
        reconnection)."""

        def record_failed(exc: BaseException, delay: float) -> None:
            self._state.last_error = f"database: {exc}"[:300]
            logger.warning(
                "database unavailable to record task %s; retrying in %.1f s",
                assignment.task_id,
                delay,
                extra={"task_id": assignment.task_id},
            )

        async for attempt in retries(retry_on=DatabaseUnavailableError, first=0.5, cap=5.0, on_retry=record_failed):
            with attempt:
                return await record()
        raise AssertionError("unreachable")  # retried until recorded (no `stopping`)

    async def _run_traffic_feed(self, assignment: TaskAssignment, fetcher: LineFetcher) -> str | None:
        """The fleet's traffic task: one read of PRIM's traffic feed, written for every line with the outcome."""
        self._state.in_flight[assignment.task_id] = assignment.line_id
        started = time.perf_counter()
        try:
            read = await fetcher.read_traffic_feed()
            summary: dict[str, Any] = {
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "feed": "disruptions_bulk",
                "disruptions": read.disruptions_count,
                "lines": len(read.line_ids),
                "lines_with_disruptions": len(read.disruptions),
                "attempts": [_attempt(read.attempt)],
            }
            error = None
            if not read.ok:
                error = (
                    f"traffic feed unread: {read.error}; line fetches fall back to one general-message request "
                    "per line until it is read again"
                )
                summary["fallback"] = "per-line general-message"
            return await self._until_recorded(
                assignment, lambda: self._record_traffic_feed(assignment, read, summary, error)
            )
        finally:
            self._state.in_flight.pop(assignment.task_id, None)

    async def _record_traffic_feed(
        self, assignment: TaskAssignment, read: TrafficFeedRead, summary: dict[str, Any], error: str | None
    ) -> str | None:
        now = utcnow()
        log_extra = {"task_id": assignment.task_id, "line_id": assignment.line_id, "attempt": assignment.attempt}
        try:
            async with self._database.write_sessions() as session:
                if error is None:
                    await store_feed(
                        session,
                        read.disruptions,
                        line_ids=read.line_ids,
                        disruptions_count=read.disruptions_count,
                        now=now,
                    )
                    owned = await tasks.succeed(session, assignment, worker_id=self._state.id, now=now, result=summary)
                    status = "succeeded" if owned else None
                else:
                    await record_feed_failure(session, error, now=now)
                    status = await self._fail(session, assignment, now=now, error=error, summary=summary)
                if status is None:
                    await session.rollback()
                    logger.warning("task %s was taken over; dropping this attempt's result", assignment.task_id)
                    return None
                await session.commit()
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        if status == "succeeded":
            self._state.processed += 1
            logger.info(
                "traffic feed read: %d disruptions, %d lines with one",
                read.disruptions_count,
                len(read.disruptions),
                extra={**log_extra, "status": status},
            )
        else:
            self._state.failed += 1
            self._state.last_error = f"{assignment.line_id}: {error}"
            logger.warning("task %s: %s", assignment.task_id, error, extra={**log_extra, "status": status})
        return status

    async def _fail(
        self, session: AsyncSession, assignment: TaskAssignment, *, now: datetime, error: str, summary: dict[str, Any]
    ) -> str | None:
        """A failed attempt: retried after the back-off while attempts are left (None: no longer ours)."""
        return await tasks.fail(
            session,
            assignment,
            worker_id=self._state.id,
            now=now,
            error=error,
            retry_backoff=timedelta(seconds=self._settings.task_retry_backoff_seconds),
            result=summary,
        )

    async def hand_back(self, assignment: TaskAssignment) -> None:
        try:
            async with self._database.write_sessions() as session, session.begin():
                await tasks.hand_back(session, assignment, worker_id=self._state.id, now=utcnow())
        except DATABASE_ERRORS:
            logger.warning("could not hand back task %s; the reaper will requeue it", assignment.task_id)

    async def _fetch(self, assignment: TaskAssignment) -> tuple[LineFetchResult | None, str | None]:
        """The fetch's result, and the error that fails the task (None when the line's data was refreshed, in
        whole or in part)."""
        if self._fetcher is None:
            return None, None
        try:
            line = self._catalogue.get(assignment.line_id)
        except UnknownLineError as exc:
            return None, f"unknown line: {exc}"
        timeout = self._settings.task_timeout_seconds
        stops = None if line.has_station_data else await self._kept_stops(line.id)
        if line.has_station_data and line.id not in self._stop_refs_loaded:
            await self._load_stop_refs(line.id)
        try:
            async with asyncio.timeout(timeout):
                result = await self._fetcher.fetch_line(line, stops)
        except TimeoutError:
            return None, f"timed out after {timeout:g} s"
        except Exception as exc:  # a fetcher bug must fail the task, not the worker
            logger.exception("fetch of %s crashed", assignment.line_id, extra={"task_id": assignment.task_id})
            return None, f"internal error: {type(exc).__name__}: {exc}"
        if result.status == "failed":
            return result, departures_failure(result)
        return result, None

    async def _kept_stops(self, line_id: str) -> StopList | None:
        """The stops kept in the database for a line without catalogue stations (a bus line), if any."""
        try:
            async with self._database.sessions() as session:
                return await stop_list(session, line_id)
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc

    async def _load_stop_refs(self, line_id: str) -> None:
        """What any worker learnt of the line's stop ids, before this process's first fetch of it: a line moving to
        this worker is not looked up again."""
        assert self._fetcher is not None
        since = utcnow() - timedelta(hours=self._settings.stop_refs_refresh_hours)
        try:
            async with self._database.sessions() as session:
                stored = await stored_stop_refs(session, line_id, since=since)
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        self._fetcher.load_stop_refs(stored)
        self._stop_refs_loaded.add(line_id)

    async def _record(
        self, assignment: TaskAssignment, result: LineFetchResult | None, error: str | None, elapsed: float
    ) -> str | None:
        now = utcnow()
        summary = _summary(result, elapsed)
        log_extra = {"task_id": assignment.task_id, "line_id": assignment.line_id, "attempt": assignment.attempt}
        partial_error = departures_failure(result) if result is not None and result.status == "partial" else None
        if result is None and error is None:  # nothing fetched, nothing to write but the outcome (benchmark mode)
            return await self._record_outcome_only(assignment, now, summary)
        try:
            async with self._database.write_sessions() as session:
                if result is not None:
                    await store_line_result(session, result, task_id=assignment.task_id, now=now)
                if error is None:
                    owned = await tasks.succeed(
                        session,
                        assignment,
                        worker_id=self._state.id,
                        now=now,
                        result=summary,
                        partial_error=partial_error,
                    )
                    status = ("partial" if partial_error else "succeeded") if owned else None
                else:
                    if result is None:
                        await record_failed_fetch(
                            session,
                            assignment.line_id,
                            error=error,
                            reason="unreachable" if error.startswith("timed out") else "upstream_error",
                            attempts=summary.get("attempts", []),
                            task_id=assignment.task_id,
                            now=now,
                        )
                    status = await self._fail(session, assignment, now=now, error=error, summary=summary)
                if status is None:
                    # Another worker took this attempt over (our lease lapsed): its outcome wins, ours is dropped.
                    await session.rollback()
                    logger.warning(
                        "task %s was taken over; dropping this attempt's result", assignment.task_id, extra=log_extra
                    )
                    return None
                await session.commit()
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        dropped = dict(result.dropped) if result is not None else {}
        if dropped:
            logger.warning(
                "task %s for %s: upstream entries dropped: %s",
                assignment.task_id,
                assignment.line_id,
                ", ".join(f"{count} {why}" for why, count in sorted(dropped.items())),
                extra={**log_extra, "dropped": dropped},
            )
        if status == "succeeded":
            self._state.processed += 1
            logger.info(
                "task %s succeeded for %s in %.0f ms",
                assignment.task_id,
                assignment.line_id,
                elapsed * 1000,
                extra={**log_extra, "status": status},
            )
        elif status == "partial":
            self._state.processed += 1
            self._state.last_error = f"{assignment.line_id}: {partial_error}"
            logger.warning(
                "task %s for %s refreshed part of the line: %s",
                assignment.task_id,
                assignment.line_id,
                partial_error,
                extra={**log_extra, "status": status, "reason": result.reason if result else None},
            )
        else:
            self._state.failed += 1
            self._state.last_error = f"{assignment.line_id}: {error}"
            logger.warning(
                "task %s for %s %s: %s",
                assignment.task_id,
                assignment.line_id,
                "will be retried" if status == "queued" else "failed",
                error,
                extra={**log_extra, "status": status, "reason": result.reason if result else None},
            )
        return status

    async def _record_outcome_only(
        self, assignment: TaskAssignment, now: datetime, summary: dict[str, Any]
    ) -> str | None:
        try:
            async with self._database.statement_engine.begin() as connection:
                owned = await tasks.succeed(connection, assignment, worker_id=self._state.id, now=now, result=summary)
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailableError(str(exc)) from exc
        if not owned:
            logger.warning("task %s was taken over; dropping this attempt's result", assignment.task_id)
            return None
        self._state.processed += 1
        logger.info(
            "task %s succeeded for %s in %.0f ms",
            assignment.task_id,
            assignment.line_id,
            summary["duration_ms"],
            extra={"task_id": assignment.task_id, "line_id": assignment.line_id, "status": "succeeded"},
        )
        return "succeeded"


def departures_failure(result: LineFetchResult) -> str:
    """What went wrong with a line's departures, in one line: which stops failed and why."""
    failed = result.failed_stops
    if result.stops and failed:
        detail = describe_failures(list(result.stops), unit="stops") or ""
        names = ", ".join(stop.station_id for stop in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return f"{detail} [{names}{more}]"
    return result.error or "no source answered"


def _summary(result: LineFetchResult | None, elapsed: float) -> dict[str, Any]:
    summary: dict[str, Any] = {"duration_ms": round(elapsed * 1000, 1)}
    if result is None:
        return summary
    summary.update(
        fetch_status=result.status,
        source=departures_source(result),
        departures=len(result.departures),
        positions=len(result.positions),
        traffic=result.traffic.level if result.traffic else None,
        reason=result.reason,
        stops_total=len(result.stops),
        stops_failed=[
            {"station_id": stop.station_id, "reason": stop.reason, "error": stop.error} for stop in result.failed_stops
        ],
        dropped=dict(result.dropped),
        attempts=[_attempt(a) for a in result.attempts],
    )
    return summary


def _attempt(attempt: SourceAttempt) -> dict[str, Any]:
    return {
        "source": attempt.source,
        "ok": attempt.ok,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "requests": attempt.requests,
    }
