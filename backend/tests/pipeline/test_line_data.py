"""A worker turns "fetch line X" into that line's data in the database: stub upstream -> worker -> database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from backend.catalogue import get_catalogue
from backend.db.models import Departure, LineSnapshot, LineStation, TrafficStatus, VehiclePosition
from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import eventually, service_env, services

LINES = ["metro:1", "rer:A", "tram:T3a"]


async def test_a_metro_a_rer_and_a_tram_line_get_stations_departures_trains_and_traffic(
    database_url: str, tmp_path: Path
) -> None:
    probe = PipelineProbe(database_url)
    try:
        with services(tmp_path, service_env(database_url=database_url, scheduler_interval_seconds=3600)) as stack:
            port = await start_stub(stack, latency_ms=0)
            configure(
                stack,
                **{**stub_env(port), "source_order": "prim,ratp_http,vmtr"},
                scheduler_lines=",".join(LINES),
                vmtr_socket_enabled="true",
            )
            stack.start("worker")
            stack.start("scheduler")
            assert await eventually(lambda: probe.all_succeeded(3), timeout=120, message="3 succeeded")
            started = datetime.now(UTC)

        catalogue = get_catalogue()
        async with probe.database.sessions() as session:
            for line_id in LINES:
                # Ordered stations per direction, as shipped: direction R is direction A reversed.
                stations = (
                    await session.execute(
                        select(LineStation.direction, LineStation.position, LineStation.station_id)
                        .where(LineStation.line_id == line_id, LineStation.branch == 0)
                        .order_by(LineStation.direction, LineStation.position)
                    )
                ).all()
                forward = [s.station_id for s in stations if s.direction == "A"]
                backward = [s.station_id for s in stations if s.direction == "R"]
                expected = [
                    s.station.id for s in catalogue.stations_for(line_id) if s.direction == "A" and s.branch == 0
                ]
                assert forward == expected
                assert backward == list(reversed(forward))

                departures = list(
                    (await session.execute(select(Departure).where(Departure.line_id == line_id))).scalars()
                )
                assert departures, line_id
                assert {d.direction for d in departures} == {"A", "R"}
                on_the_line = {s.station.id for s in catalogue.stations_for(line_id)}  # every branch
                assert {d.station_id for d in departures} <= on_the_line
                for departure in departures:
                    # Replayed times are shifted to now: the board is about the next hour, not another day.
                    assert started - timedelta(minutes=5) <= departure.expected_at <= started + timedelta(hours=2)
                    assert departure.source in ("prim", "ratp_http")
                    assert departure.destination

                positions = list(
                    (await session.execute(select(VehiclePosition).where(VehiclePosition.line_id == line_id))).scalars()
                )
                assert positions, line_id
                assert all(p.next_station_id in on_the_line or p.previous_station_id in on_the_line for p in positions)
                assert all(p.progress is None or 0 <= p.progress <= 1 for p in positions)

                traffic = await session.get(TrafficStatus, line_id)
                assert traffic is not None
                assert traffic.level in ("normal", "disrupted", "closed", "unknown")

                snapshot = await session.get(LineSnapshot, line_id)
                assert snapshot is not None
                assert snapshot.status in ("ok", "partial")
                assert snapshot.departures_count == len(departures)
            total = (await session.execute(select(func.count()).select_from(Departure))).scalar_one()
            assert total >= 3
    finally:
        await probe.close()
