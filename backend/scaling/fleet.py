"""The `fleet_settings` rows of the local worker fleet.

- `desired_workers`: the pool size the supervisor reconciles towards (written by the API and by `--workers`).
- `supervisor_pid`: the running supervisor's heartbeat (its pid; `updated_at` is the beat, `updated_by` names it as
  `host:pid`), so the API can tell that nobody will act on a new desired count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.clock import utcnow
from backend.db.engine import Database, dialect_insert
from backend.db.models import FleetSetting

DESIRED_WORKERS = "desired_workers"
SUPERVISOR_HEARTBEAT = "supervisor_pid"


async def _put(database: Database, name: str, value: int, updated_by: str | None) -> None:
    statement = dialect_insert(database)(FleetSetting).values(
        name=name, value=value, updated_at=utcnow(), updated_by=updated_by
    )
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "value": statement.excluded.value,
            "updated_at": statement.excluded.updated_at,
            "updated_by": statement.excluded.updated_by,
        },
    )
    async with database.write_sessions() as session, session.begin():
        await session.execute(statement)


async def read_desired_workers(session: AsyncSession) -> int | None:
    return (
        await session.execute(select(FleetSetting.value).where(FleetSetting.name == DESIRED_WORKERS))
    ).scalar_one_or_none()


async def write_desired_workers(database: Database, count: int, *, updated_by: str | None) -> None:
    await _put(database, DESIRED_WORKERS, count, updated_by)


@dataclass(frozen=True)
class SupervisorBeat:
    pid: int
    name: str  # host:pid
    beat_at: datetime

    def alive(self, within_seconds: float, now: datetime | None = None) -> bool:
        return (now or utcnow()) - self.beat_at <= timedelta(seconds=within_seconds)


async def read_supervisor_beat(session: AsyncSession) -> SupervisorBeat | None:
    row = await session.get(FleetSetting, SUPERVISOR_HEARTBEAT)
    if row is None:
        return None
    return SupervisorBeat(pid=row.value, name=row.updated_by or "", beat_at=row.updated_at)


async def write_supervisor_beat(database: Database, *, pid: int, name: str) -> None:
    await _put(database, SUPERVISOR_HEARTBEAT, pid, name)


async def clear_supervisor_beat(database: Database, *, name: str) -> None:
    """Remove the heartbeat row, if it is still this supervisor's."""
    async with database.write_sessions() as session, session.begin():
        await session.execute(
            delete(FleetSetting).where(FleetSetting.name == SUPERVISOR_HEARTBEAT, FleetSetting.updated_by == name)
        )
