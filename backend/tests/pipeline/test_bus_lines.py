"""A bus line works like a rail line, on real processes: a queued task -> a worker asks PRIM's Navitia (the stub
upstream) for the line's stops, keeps them in the database, fetches every stop's departures -> the public API (a
uvicorn process) shows the stops, their departures and a truthful freshness, on the line page and the station page."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from backend.db.models import Departure, LineSnapshot, LineStation, LineStopList, StopBoard
from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import eventually, service_env, services
from backend.tests.support.services import free_port

BUS_LINES = ["bus:38", "bus:N01"]


async def test_a_bus_line_task_gets_stops_and_departures_that_the_public_api_shows(
    database_url: str, tmp_path: Path
) -> None:
    probe = PipelineProbe(database_url)
    try:
        with services(tmp_path, service_env(database_url=database_url, scheduler_interval_seconds=3600)) as stack:
            stub_port = await start_stub(stack, latency_ms=0)
            configure(stack, **stub_env(stub_port), scheduler_lines=",".join(BUS_LINES))
            stack.start("worker")
            stack.start("scheduler")  # one cycle at start-up queues a task per bus line named in SCHEDULER_LINES
            assert await eventually(lambda: probe.all_succeeded(2), timeout=120, message="2 bus tasks succeeded")

            async with probe.database.sessions() as session:
                for line_id in BUS_LINES:
                    kept = await session.get(LineStopList, line_id)
                    assert kept is not None, line_id
                    assert kept.source == "prim", line_id
                    places = (
                        await session.execute(
                            select(LineStation)
                            .where(LineStation.line_id == line_id)
                            .order_by(LineStation.direction, LineStation.position)
                        )
                    ).scalars()
                    by_direction: dict[str, list[str]] = {}
                    for place in places:
                        assert place.source == "prim"
                        assert (place.upstream_ref or "").startswith("stop_area:IDFM:")
                        by_direction.setdefault(place.direction, []).append(place.station_id)
                    assert kept.stations_count == len(set(by_direction["A"])) >= 2
                    assert by_direction["R"] == by_direction["A"][::-1]

                    departures = list(
                        (await session.execute(select(Departure).where(Departure.line_id == line_id))).scalars()
                    )
                    assert departures, line_id
                    assert {d.station_id for d in departures} <= set(by_direction["A"])
                    assert {d.source for d in departures} == {"prim"}
                    boards = list(
                        (await session.execute(select(StopBoard).where(StopBoard.line_id == line_id))).scalars()
                    )
                    assert {board.station_id for board in boards} == set(by_direction["A"])
                    assert all(board.status in ("ok", "no_data") for board in boards)
                    snapshot = await session.get(LineSnapshot, line_id)
                    assert snapshot is not None
                    assert snapshot.status == "ok"

            async with httpx.AsyncClient() as client:
                stats = (await client.get(f"http://127.0.0.1:{stub_port}/__stub/stats")).json()["requests"]
            assert stats["prim.navitia"] == 2 * len(BUS_LINES)  # routes + route schedules, once per line

            api_port = free_port()
            stack.start("api", "--host", "127.0.0.1", "--port", str(api_port))
            base = f"http://127.0.0.1:{api_port}"

            async def answering() -> bool:
                try:
                    async with httpx.AsyncClient() as client:
                        return (await client.get(f"{base}/health")).status_code == 200
                except httpx.HTTPError:
                    return False

            assert await eventually(answering, timeout=60, message="the API answers")
            async with httpx.AsyncClient(base_url=base) as client:
                line = (await client.get("/api/lines/bus/38")).json()
                assert line["line"]["colour"] == "#0055C8"  # the line's own IDFM colour
                assert line["line"]["freshness"]["status"] == "ok"
                assert [direction["direction"] for direction in line["directions"]] == ["A", "R"]
                stations = [s for d in line["directions"] for b in d["branches"] for s in b["stations"]]
                with_departures = [s for s in stations if s["departures"]]
                assert with_departures
                assert all(s["freshness"]["status"] in ("ok", "no_data") for s in stations)

                station_id = with_departures[0]["station_id"]
                station = (await client.get(f"/api/stations/{station_id}")).json()
                assert "bus:38" in {ref["id"] for ref in station["lines"]}
                assert any(d["line_id"] == "bus:38" for d in station["departures"])
    finally:
        await probe.close()
