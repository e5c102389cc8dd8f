"""The words every process shares: one `StrEnum` per vocabulary, stored as these same strings.

The database columns, the raw SQL, the API schemas (and so the OpenAPI schema and the dashboard's generated types)
all take their values from here. Imports nothing of the project, so any module may import it.
"""

from __future__ import annotations

from enum import StrEnum


class DepartureStatus(StrEnum):
    ON_TIME = "on_time"
    DELAYED = "delayed"
    CANCELLED = "cancelled"
    AT_PLATFORM = "at_platform"
    UNKNOWN = "unknown"


class TrafficLevel(StrEnum):
    NORMAL = "normal"
    DISRUPTED = "disrupted"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class TaskStatus(StrEnum):
    """A task run's state; `queued` and `running` are active (at most one active task per line)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some of the line's stops were refreshed, others failed: final, not retried
    FAILED = "failed"
    EXPIRED = "expired"

    @classmethod
    def active(cls) -> tuple[TaskStatus, ...]:
        return (cls.QUEUED, cls.RUNNING)

    @classmethod
    def final(cls) -> tuple[TaskStatus, ...]:
        return (cls.SUCCEEDED, cls.PARTIAL, cls.FAILED, cls.EXPIRED)


class WorkerStatus(StrEnum):
    """A worker's state: written by the worker itself, except `lost`, derived when read from a stale heartbeat."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"
    STOPPED = "stopped"
    LOST = "lost"


class CircuitState(StrEnum):
    """A source's circuit breaker in one worker (`services/resilience.py`), as its heartbeat reports it."""

    CLOSED = "closed"
    OPEN = "open"  # paused after failures or a 429's Retry-After: nothing is sent until it ends
    HALF_OPEN = "half_open"  # the pause is over: one probe request may go out


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def number(self) -> int:
        """The `logging` module's number for the level (`level_no` in `system_logs`)."""
        return _LEVEL_NUMBERS[self]


_LEVEL_NUMBERS = {
    LogLevel.DEBUG: 10,
    LogLevel.INFO: 20,
    LogLevel.WARNING: 30,
    LogLevel.ERROR: 40,
    LogLevel.CRITICAL: 50,
}


class Service(StrEnum):
    """The processes that write to the central log (`system_logs.service`)."""

    API = "api"
    SCHEDULER = "scheduler"
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    MIGRATE = "migrate"


class BusKind(StrEnum):
    """The task bus: Kafka, or the database-backed queue (`tasks/` and `workers/database_loop.py`)."""

    KAFKA = "kafka"
    DATABASE = "database"
