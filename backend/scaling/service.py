"""Choosing the scaling backend and running a scale request through it."""

from __future__ import annotations

import asyncio

from backend.config import Settings
from backend.db.engine import Database
from backend.scaling.base import InvalidScaleRequestError, ScaleOutcome, ScalingUnavailableError, WorkerScaler
from backend.scaling.docker import DockerScaler, docker_engine_answers
from backend.scaling.local import LocalScaler

# One resize at a time per process: two `docker compose up --scale` runs must not race each other.
_scale_lock = asyncio.Lock()


async def scaler_for(settings: Settings, database: Database) -> WorkerScaler:
    """The backend WORKER_SCALE_BACKEND names; `auto` is Docker when an engine answers on DOCKER_SOCKET_PATH."""
    backend = settings.worker_scale_backend
    if backend == "auto":
        backend = "docker" if await docker_engine_answers(settings.docker_socket_path) else "local"
    if backend == "docker":
        return DockerScaler(settings, database)
    return LocalScaler(settings, database)


async def scale_workers(
    scaler: WorkerScaler,
    *,
    count: int | None = None,
    delta: int | None = None,
    max_count: int,
    requested_by: str,
) -> ScaleOutcome:
    """Resize the pool to `count`, or by `delta` from its current size, within 0..max_count."""
    if (count is None) == (delta is None):
        raise InvalidScaleRequestError('give exactly one of "count" or "delta"')
    async with _scale_lock:
        if delta is not None:
            current = await scaler.current_count()
            if current is None:
                raise ScalingUnavailableError(
                    'the current worker count is unknown, so a delta cannot be applied; send {"count": N} instead',
                    backend=scaler.name,
                )
            count = current + delta
            if not 0 <= count <= max_count:
                raise InvalidScaleRequestError(
                    f"delta {delta:+d} from {current} workers gives {count}, outside 0..{max_count} (WORKER_MAX_COUNT)"
                )
        assert count is not None
        if not 0 <= count <= max_count:
            raise InvalidScaleRequestError(f"count {count} is outside 0..{max_count} (WORKER_MAX_COUNT)")
        return await scaler.scale_to(count, requested_by=requested_by)
