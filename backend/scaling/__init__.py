"""Worker scaling: resize the worker pool on Docker Compose or as local processes.

- `service`: `scale_workers` (validates the request, resolves a delta) and `scaler_for` (WORKER_SCALE_BACKEND:
  docker, local, or auto = Docker when its socket answers, else local).
- `docker`: runs WORKER_SCALE_COMMAND (`docker compose ... --scale worker={count} worker`), no shell, with a timeout.
- `local`: records the desired pool size for the supervisor and reports the workers seen in the registry.
- `supervisor`: `python -m backend.scaling.supervisor`, the process that keeps that many local workers running.
- `fleet`: the `fleet_settings` rows shared by `local` and `supervisor`.

May import: backend.config, backend.db, backend.registry (the worker registry), backend.logs (checked by
`lint-imports`).
"""

from backend.scaling.base import (
    InvalidScaleRequestError,
    ScaleOutcome,
    ScalingError,
    ScalingUnavailableError,
    WorkerScaler,
)
from backend.scaling.service import scale_workers, scaler_for

__all__ = [
    "InvalidScaleRequestError",
    "ScaleOutcome",
    "ScalingError",
    "ScalingUnavailableError",
    "WorkerScaler",
    "scale_workers",
    "scaler_for",
]
