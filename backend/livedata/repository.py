"""Writing a line's live data: the board, the trains, the traffic status and the freshness snapshot.

Called by a worker inside the same transaction that writes the task's final state, so a line's data and its
task run never disagree. A successful fetch replaces the line's board as a whole; a failed one keeps the previous
board and records the failure in the snapshot (the dashboard says "source X failed at HH:MM").
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue import normalise_name
from backend.db.engine import dialect_insert
from backend.db.models import Departure, LineSnapshot, LineStation, Station, TrafficStatus, VehiclePosition
from backend.services.records import LineFetchResult


def departures_source(result: LineFetchResult) -> str | None:
    return result.departures[0].source if result.departures else None


async def store_line_result(session: AsyncSession, result: LineFetchResult, *, task_id: str, now: datetime) -> None:
    """Replace the line's board and trains with this fetch's, upsert its traffic status and snapshot."""
    line_id = result.line_id
    if result.stations:
        await _store_fetched_stations(session, result)
    if result.departures or result.status != "no_data":
        await session.execute(delete(Departure).where(Departure.line_id == line_id))
        if result.departures:
            await session.execute(
                insert(Departure),
                [
                    {
                        "line_id": d.line_id,
                        "station_id": d.station_id,
                        "direction": d.direction,
                        "destination": d.destination,
                        "expected_at": d.expected_at,
                        "aimed_at": d.aimed_at,
                        "status": d.status,
                        "is_realtime": d.is_realtime,
                        "vehicle_at_stop": d.vehicle_at_stop,
                        "source": d.source,
                        "fetched_at": d.fetched_at,
                        "task_run_id": task_id,
                    }
                    for d in result.departures
                ],
            )
    if result.positions or any(a.source == "vmtr" and a.ok for a in result.attempts):
        await session.execute(delete(VehiclePosition).where(VehiclePosition.line_id == line_id))
        if result.positions:
            await session.execute(
                insert(VehiclePosition),
                [
                    {
                        "line_id": p.line_id,
                        "vehicle_id": p.vehicle_id,
                        "direction": p.direction,
                        "previous_station_id": p.previous_station_id,
                        "next_station_id": p.next_station_id,
                        "progress": p.progress,
                        "stop_status": p.stop_status,
                        "recorded_at": p.recorded_at,
                        "source": p.source,
                        "fetched_at": now,
                    }
                    for p in result.positions
                ],
            )
    if result.traffic is not None:
        traffic = result.traffic
        statement = dialect_insert(session)(TrafficStatus).values(
            line_id=line_id,
            level=traffic.level,
            message=traffic.message,
            source=traffic.source,
            updated_at=traffic.updated_at,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["line_id"],
                set_={
                    "level": statement.excluded.level,
                    "message": statement.excluded.message,
                    "source": statement.excluded.source,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )
    await _upsert_snapshot(
        session,
        line_id=line_id,
        status=result.status,
        source=departures_source(result),
        now=now,
        success=result.status != "no_data",
        departures=len(result.departures),
        positions=len(result.positions),
        error=result.error,
        attempts=[asdict(a) for a in result.attempts],
        task_id=task_id,
    )


async def record_failed_fetch(
    session: AsyncSession,
    line_id: str,
    *,
    error: str,
    attempts: list[dict[str, Any]],
    task_id: str,
    now: datetime,
) -> None:
    """Keep the previous board; say in the snapshot that (and why) this fetch failed."""
    await _upsert_snapshot(
        session,
        line_id=line_id,
        status="failed",
        source=None,
        now=now,
        success=False,
        departures=None,
        positions=None,
        error=error,
        attempts=attempts,
        task_id=task_id,
    )


async def _upsert_snapshot(
    session: AsyncSession,
    *,
    line_id: str,
    status: str,
    source: str | None,
    now: datetime,
    success: bool,
    departures: int | None,
    positions: int | None,
    error: str | None,
    attempts: list[dict[str, Any]],
    task_id: str,
) -> None:
    values: dict[str, Any] = {
        "line_id": line_id,
        "status": status,
        "source": source,
        "fetched_at": now,
        "last_success_at": now if success else None,
        "departures_count": departures or 0,
        "positions_count": positions or 0,
        "error": error,
        "attempts": attempts,
        "task_run_id": task_id,
    }
    statement = dialect_insert(session)(LineSnapshot).values(**values)
    updates: dict[str, Any] = {
        "status": statement.excluded.status,
        "fetched_at": statement.excluded.fetched_at,
        "error": statement.excluded.error,
        "attempts": statement.excluded.attempts,
        "task_run_id": statement.excluded.task_run_id,
    }
    if success:
        # A failure keeps the last success's time, source and counts: they still describe the board on screen.
        updates.update(
            source=statement.excluded.source,
            last_success_at=statement.excluded.last_success_at,
            departures_count=statement.excluded.departures_count,
            positions_count=statement.excluded.positions_count,
        )
    await session.execute(statement.on_conflict_do_update(index_elements=["line_id"], set_=updates))


async def _store_fetched_stations(session: AsyncSession, result: LineFetchResult) -> None:
    """Cache the stations a source fetched for a line without shipped station data (buses)."""
    insert_ = dialect_insert(session)
    stations = {s.station_id: s for s in result.stations}
    statement = insert_(Station).values(
        [
            {"id": s.station_id, "name": s.name, "search_name": normalise_name(s.name), "town": None}
            for s in stations.values()
        ]
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["id"]))
    await session.execute(
        delete(LineStation).where(LineStation.line_id == result.line_id, LineStation.source != "catalogue")
    )
    source = result.attempts[0].source if result.attempts else "upstream"
    await session.execute(
        insert(LineStation),
        [
            {
                "line_id": s.line_id,
                "direction": s.direction,
                "branch": s.branch,
                "position": s.position,
                "station_id": s.station_id,
                "upstream_ref": s.upstream_ref,
                "source": source.split(":")[0],
            }
            for s in result.stations
        ],
    )
