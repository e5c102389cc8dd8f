"""What every scaling backend provides, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ScaleOutcome:
    backend: Literal["docker", "local"]
    previous: int | None  # workers before, when known
    requested: int
    observed: int | None  # workers seen afterwards, when known
    message: str


class ScalingError(Exception):
    """The scaling backend failed (a 502 by default: it answered, with an error)."""

    status_code = 502

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend


class ScalingUnavailableError(ScalingError):
    """The scaling backend cannot be reached or did not answer in time (a 503)."""

    status_code = 503


class InvalidScaleRequestError(ValueError):
    """The request itself is wrong (out of range): a 422."""


class WorkerScaler(Protocol):
    name: Literal["docker", "local"]

    async def current_count(self) -> int | None:
        """The pool size now, when it can be known."""
        ...

    async def scale_to(self, count: int, *, requested_by: str) -> ScaleOutcome:
        """Resize the pool to `count` (already validated: 0..WORKER_MAX_COUNT)."""
        ...
