"""Writing a line's live data: the boards, the trains, the traffic status and the freshness snapshot.

Called by a worker inside the same transaction that writes the task's final state, so a line's data and its
task run never disagree. Boards are written stop by stop: a stop that answered replaces its own departures (an
answer with no visits empties them), a stop that failed keeps its last good board and is marked failed in
`stop_boards`, dated by its own last success; no failure deletes another stop's data. The line's snapshot says
what the latest fetch achieved (ok, partial, no_data, failed) and why.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue import normalise_name
from backend.db.engine import dialect_insert, upsert
from backend.db.models import (
    Departure,
    LineSnapshot,
    LineStation,
    LineStopList,
    LineStopLookup,
    LineStopRef,
    Station,
    StopBoard,
    TrafficStatus,
    VehiclePosition,
)
from backend.services.records import LineFetchResult, StationRecord, StopList, StopOutcome
from backend.services.stop_refs import LineStopRefs, StopRef


def departures_source(result: LineFetchResult) -> str | None:
    return result.departures[0].source if result.departures else None


async def store_line_result(session: AsyncSession, result: LineFetchResult, *, task_id: str, now: datetime) -> None:
    """Replace the line's board and trains with this fetch's, upsert its traffic status and snapshot."""
    line_id = result.line_id
    if result.stations:
        await _store_fetched_stations(session, result, now)
    if result.stop_refs is not None:
        await store_stop_refs(session, result.stop_refs, now=now)
    await _replace_departures(session, result, task_id=task_id)
    if result.stops:
        await _upsert_stop_boards(session, line_id, result.stops, task_id=task_id, now=now)
    else:
        await _mark_boards_failed(session, line_id, reason=result.reason, error=result.error, task_id=task_id, now=now)
    await _replace_positions(session, result, now=now)
    if result.traffic is not None:
        traffic = result.traffic
        await upsert_traffic(
            session,
            [
                {
                    "line_id": line_id,
                    "level": traffic.level,
                    "message": traffic.message,
                    "source": traffic.source,
                    "updated_at": traffic.updated_at,
                }
            ],
        )
    await _upsert_snapshot(
        session,
        line_id=line_id,
        status=result.status,
        reason=result.reason,
        source=departures_source(result) or next((s.source for s in result.stops if s.answered), None),
        now=now,
        success=result.status != "failed",
        departures=len(result.departures),
        positions=len(result.positions),
        stops_total=len(result.stops) or None,
        stops_failed=len(result.failed_stops) if result.stops else None,
        error=result.error,
        attempts=[asdict(a) for a in result.attempts],
        task_id=task_id,
    )


# Their tables, for Core's executemany: a line's hundreds of rows without the ORM's bulk bookkeeping for each.
_DEPARTURES = cast(Table, Departure.__table__)
_POSITIONS = cast(Table, VehiclePosition.__table__)
_STOP_BOARDS = cast(Table, StopBoard.__table__)
_TRAFFIC = cast(Table, TrafficStatus.__table__)
_SNAPSHOTS = cast(Table, LineSnapshot.__table__)
# What a fetch replaces of the line's snapshot; a failure keeps the last success's time, source and counts: they
# still describe the boards on screen.
_SNAPSHOT_FAILED = ("status", "reason", "stops_total", "stops_failed", "fetched_at", "error", "attempts", "task_run_id")
_SNAPSHOT_SUCCEEDED = (*_SNAPSHOT_FAILED, "source", "last_success_at", "departures_count", "positions_count")


async def _replace_departures(session: AsyncSession, result: LineFetchResult, *, task_id: str) -> None:
    """The departures of the stops this fetch got an answer for replace theirs; other stops keep what they had."""
    line_id = result.line_id
    answered = {stop.station_id for stop in result.stops if stop.answered}
    if answered:
        await session.execute(
            delete(Departure).where(Departure.line_id == line_id, Departure.station_id.in_(sorted(answered)))
        )
        fresh = [d for d in result.departures if d.station_id in answered]
        if fresh:
            await session.execute(
                insert(_DEPARTURES),
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
                    for d in fresh
                ],
            )


async def _replace_positions(session: AsyncSession, result: LineFetchResult, *, now: datetime) -> None:
    """The line's trains, replaced when the vehicle socket answered (an empty answer clears them)."""
    line_id = result.line_id
    if result.positions or any(a.source == "vmtr" and a.ok for a in result.attempts):
        await session.execute(delete(VehiclePosition).where(VehiclePosition.line_id == line_id))
        if result.positions:
            await session.execute(
                insert(_POSITIONS),
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


async def upsert_traffic(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Lines' traffic statuses (`line_id`, `level`, `message`, `source`, `updated_at`), replacing what was there."""
    if rows:
        replace = ("level", "message", "source", "updated_at")
        await session.execute(upsert(session, _TRAFFIC, key=("line_id",), replace=replace), rows)


async def record_failed_fetch(
    session: AsyncSession,
    line_id: str,
    *,
    error: str,
    reason: str | None,
    attempts: list[dict[str, Any]],
    task_id: str,
    now: datetime,
) -> None:
    """A fetch that produced nothing (timed out, crashed): keep every board, mark them and the line failed."""
    await _mark_boards_failed(session, line_id, reason=reason, error=error, task_id=task_id, now=now)
    await _upsert_snapshot(
        session,
        line_id=line_id,
        status="failed",
        reason=reason,
        source=None,
        now=now,
        success=False,
        departures=None,
        positions=None,
        stops_total=None,
        stops_failed=None,
        error=error,
        attempts=attempts,
        task_id=task_id,
    )


# What a stop's new row replaces of its board: an answer everything, a failure all but the last success's source,
# time and count (they still describe the departures on screen).
_BOARD_FAILED = ("status", "reason", "fetched_at", "error", "task_run_id")
_BOARD_ANSWERED = (*_BOARD_FAILED, "source", "last_success_at", "departures_count")


async def _upsert_stop_boards(
    session: AsyncSession, line_id: str, stops: tuple[StopOutcome, ...], *, task_id: str, now: datetime
) -> None:
    """One row per stop: an answer dates the board anew; a failure keeps the board's source and last success."""
    for answered in (True, False):
        rows = [
            {
                "line_id": line_id,
                "station_id": stop.station_id,
                "status": ("ok" if stop.departures else "no_data") if answered else "failed",
                "reason": stop.reason,
                "source": stop.source,
                "fetched_at": now,
                "last_success_at": now if answered else None,
                "departures_count": stop.departures,
                "error": stop.error,
                "task_run_id": task_id,
            }
            for stop in stops
            if stop.answered is answered
        ]
        if rows:
            replace = _BOARD_ANSWERED if answered else _BOARD_FAILED
            await session.execute(upsert(session, _STOP_BOARDS, key=("line_id", "station_id"), replace=replace), rows)


async def _mark_boards_failed(
    session: AsyncSession, line_id: str, *, reason: str | None, error: str | None, task_id: str, now: datetime
) -> None:
    await session.execute(
        update(StopBoard)
        .where(StopBoard.line_id == line_id)
        .values(status="failed", reason=reason, error=error, fetched_at=now, task_run_id=task_id)
    )


async def _upsert_snapshot(
    session: AsyncSession,
    *,
    line_id: str,
    status: str,
    reason: str | None,
    source: str | None,
    now: datetime,
    success: bool,
    departures: int | None,
    positions: int | None,
    stops_total: int | None,
    stops_failed: int | None,
    error: str | None,
    attempts: list[dict[str, Any]],
    task_id: str,
) -> None:
    values: dict[str, Any] = {
        "line_id": line_id,
        "status": status,
        "reason": reason,
        "stops_total": stops_total,
        "stops_failed": stops_failed,
        "source": source,
        "fetched_at": now,
        "last_success_at": now if success else None,
        "departures_count": departures or 0,
        "positions_count": positions or 0,
        "error": error,
        "attempts": attempts,
        "task_run_id": task_id,
    }
    await session.execute(
        upsert(session, _SNAPSHOTS, key=("line_id",), replace=_SNAPSHOT_SUCCEEDED if success else _SNAPSHOT_FAILED),
        values,
    )


async def _store_fetched_stations(session: AsyncSession, result: LineFetchResult, now: datetime) -> None:
    """Keep the stops a source gave for a line without catalogue stations (a bus line): new stations (a catalogue
    station of the same id is left as it is), the line's order per direction, and when and where they came from."""
    insert_ = dialect_insert(session)
    stations = {s.station_id: s for s in result.stations}
    statement = insert_(Station).values(
        [
            {
                "id": s.station_id,
                "name": s.name,
                "search_name": normalise_name(s.name),
                "town": s.town,
                "lat": s.lat,
                "lon": s.lon,
            }
            for s in stations.values()
        ]
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["id"]))
    await session.execute(
        delete(LineStation).where(LineStation.line_id == result.line_id, LineStation.source != "catalogue")
    )
    source = result.stations_source or "upstream"
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
                "source": source,
            }
            for s in result.stations
        ],
    )
    values = {"source": source, "fetched_at": now, "stations_count": len(stations)}
    listed = insert_(LineStopList).values(line_id=result.line_id, **values)
    await session.execute(listed.on_conflict_do_update(index_elements=["line_id"], set_=values))


async def stop_list(session: AsyncSession, line_id: str) -> StopList | None:
    """The stops kept for a line without catalogue stations, with when they were fetched; None if never fetched."""
    listed = await session.get(LineStopList, line_id)
    if listed is None:
        return None
    rows = await session.execute(
        select(LineStation, Station)
        .join(Station, Station.id == LineStation.station_id)
        .where(LineStation.line_id == line_id, LineStation.source == listed.source)
        .order_by(LineStation.direction, LineStation.branch, LineStation.position)
    )
    return StopList(
        line_id=line_id,
        source=listed.source,
        fetched_at=listed.fetched_at,
        stations=tuple(
            StationRecord(
                line_id=line_id,
                direction=place.direction,
                branch=place.branch,
                position=place.position,
                station_id=place.station_id,
                name=station.name,
                upstream_ref=place.upstream_ref,
                town=station.town,
                lat=station.lat,
                lon=station.lon,
            )
            for place, station in rows.tuples()
        ),
    )


async def store_stop_refs(session: AsyncSession, known: LineStopRefs, *, now: datetime) -> None:
    """Replaces what the database knows of a line's run-time stop ids with what the fetch knows (learnt, or
    corrected after an upstream said an id was unknown)."""
    await session.execute(delete(LineStopRef).where(LineStopRef.line_id == known.line_id))
    await session.execute(delete(LineStopLookup).where(LineStopLookup.line_id == known.line_id))
    if known.refs:
        await session.execute(
            insert(LineStopRef),
            [
                {
                    "line_id": known.line_id,
                    "station_id": ref.station_id,
                    "upstream_name": ref.upstream_name[:200],
                    "stop_area_id": ref.stop_area_id,
                    "stop_place_ref": ref.stop_place_ref,
                    "ratp_line_ref": ref.ratp_line_ref,
                    "source": ref.source,
                    "resolved_at": now,
                }
                for ref in known.refs
            ],
        )
    if known.looked_up:
        await session.execute(
            insert(LineStopLookup),
            [
                {"line_id": known.line_id, "source": look_up, "looked_up_at": at}
                for look_up, at in known.looked_up.items()
            ],
        )


async def stored_stop_refs(session: AsyncSession, line_id: str, *, since: datetime) -> LineStopRefs:
    """The line's run-time stop ids and look-ups recorded since `since` (older ones are looked up again)."""
    refs = (
        await session.execute(
            select(LineStopRef).where(LineStopRef.line_id == line_id, LineStopRef.resolved_at >= since)
        )
    ).scalars()
    lookups = (
        await session.execute(
            select(LineStopLookup).where(LineStopLookup.line_id == line_id, LineStopLookup.looked_up_at >= since)
        )
    ).scalars()
    return LineStopRefs(
        line_id,
        tuple(
            StopRef(
                station_id=row.station_id,
                upstream_name=row.upstream_name,
                stop_place_ref=row.stop_place_ref,
                stop_area_id=row.stop_area_id,
                ratp_line_ref=row.ratp_line_ref,
                source=row.source,
            )
            for row in refs
        ),
        {row.source: row.looked_up_at for row in lookups},
    )
