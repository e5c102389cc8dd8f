"""Scaling the local worker fleet: record the desired pool size for the supervisor, then watch the registry follow.

The supervisor (`python -m backend.scaling.supervisor`, started by `serve.sh up` in local mode) polls
`fleet_settings.desired_workers` about once a second and starts or stops `python -m backend.workers.worker` processes.
`observed` is the number of workers in the registry that are still there (starting, idle, busy or draining, heartbeat
fresh): a stopping worker finishes its in-flight tasks first, so it counts until it has exited. The answer waits up to
WORKER_SCALE_WAIT_SECONDS for that number to reach the new count, and otherwise says the resize is pending.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from backend.config import Settings
from backend.db.engine import Database
from backend.registry import worker_counts
from backend.scaling.base import ScaleOutcome, ScalingUnavailableError
from backend.scaling.fleet import read_desired_workers, read_supervisor_beat, write_desired_workers


class LocalScaler:
    """Resizes the pool run by the local supervisor."""

    name: Literal["docker", "local"] = "local"

    def __init__(self, settings: Settings, database: Database, *, wait_seconds: float | None = None) -> None:
        self.settings = settings
        self.database = database
        self.wait_seconds = settings.worker_scale_wait_seconds if wait_seconds is None else wait_seconds

    async def live_workers(self) -> int:
        async with self.database.sessions() as session:
            counts = await worker_counts(session, lost_after_seconds=self.settings.worker_lost_after_seconds)
        return counts.live

    async def present_workers(self) -> int:
        """Workers not gone yet: the live ones and those draining their last tasks before they exit."""
        async with self.database.sessions() as session:
            counts = await worker_counts(session, lost_after_seconds=self.settings.worker_lost_after_seconds)
        return counts.live + counts.draining

    async def current_count(self) -> int | None:
        """The desired pool size (what a delta applies to), or the live workers when none was ever set."""
        async with self.database.sessions() as session:
            desired = await read_desired_workers(session)
        return desired if desired is not None else await self.live_workers()

    async def scale_to(self, count: int, *, requested_by: str) -> ScaleOutcome:
        previous = await self.current_count()
        async with self.database.sessions() as session:
            beat = await read_supervisor_beat(session)
        if beat is None or not beat.alive(self.settings.worker_lost_after_seconds):
            # Refused, and nothing recorded: a supervisor started later must not act on a request answered 503.
            seen = f"last seen {beat.beat_at.isoformat()} ({beat.name})" if beat else "never seen"
            raise ScalingUnavailableError(
                f"cannot scale to {count}: no local supervisor is running ({seen}) to start or stop workers; "
                "nothing was changed. Run `./serve.sh up --local` or `python -m backend.scaling.supervisor`",
                backend="local",
            )
        await write_desired_workers(self.database, count, updated_by=requested_by)
        observed = await self._wait_for(count)
        if observed == count:
            message = f"{count} local workers running"
        else:
            message = (
                f"pending: the supervisor is resizing the pool to {count} local workers; {observed} still in the "
                f"registry (running or draining) after {self.wait_seconds:g} s"
            )
        return ScaleOutcome(backend="local", previous=previous, requested=count, observed=observed, message=message)

    async def _wait_for(self, count: int) -> int:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            observed = await self.present_workers()
            if observed == count or time.monotonic() >= deadline:
                return observed
            await asyncio.sleep(0.25)
