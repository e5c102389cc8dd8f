"""Stop ids looked up at run time are the fleet's, not one process's: real worker processes, the stub upstream's
request counters, the database queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from backend.db.models import LineStopLookup, LineStopRef
from backend.tasks.cycle import run_cycle
from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.databases import settings_for
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import eventually, service_env, services

# tram:T3a's Balard has no stop area in the catalogue: PRIM's Navitia is asked for the line's. Every line's stop
# places (for the vehicle socket's trains) come from ratp.fr's stop list.
LINES = ["tram:T3a", "metro:1"]
LOOK_UPS = ("prim.navitia", "ratp.stop-points")


async def stub_requests(port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        requests: dict[str, Any] = (await client.get("/__stub/stats")).json()["requests"]
        return requests


async def reset_stub(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        (await client.post("/__stub/stats/reset")).raise_for_status()


async def test_a_second_worker_does_not_look_up_again_the_stop_ids_the_first_resolved(
    database_url: str, tmp_path: Path
) -> None:
    probe = PipelineProbe(database_url)
    settings = settings_for(database_url, scheduler_lines=",".join(LINES))
    try:
        with services(tmp_path, service_env(database_url=database_url)) as stack:
            port = await start_stub(stack, latency_ms=0)
            configure(stack, **{**stub_env(port), "source_order": "prim,ratp_http,vmtr", "vmtr_socket_enabled": "true"})

            first = stack.start("worker")
            await run_cycle(probe.database, settings, trigger="manual", requested_by="test")
            await eventually(lambda: probe.all_succeeded(2), timeout=120, message="the first worker's 2 tasks")
            first.stop()
            asked = await stub_requests(port)
            assert all(asked.get(route, 0) >= 1 for route in LOOK_UPS), asked

            async with probe.database.sessions() as session:
                refs = list((await session.execute(select(LineStopRef))).scalars())
                lookups = {
                    (row.line_id, row.source) for row in (await session.execute(select(LineStopLookup))).scalars()
                }
            assert any(r.line_id == "tram:T3a" and r.station_id == "balard" and r.stop_area_id for r in refs)
            assert {r.line_id for r in refs if r.stop_place_ref} == set(LINES)
            assert ("tram:T3a", "prim:stop_areas") in lookups

            await reset_stub(port)
            second = stack.start("worker")
            await run_cycle(probe.database, settings, trigger="manual", requested_by="test")
            await eventually(lambda: probe.all_succeeded(4), timeout=120, message="the second worker's 2 tasks")

            asked = await stub_requests(port)
            assert {route: asked.get(route, 0) for route in LOOK_UPS} == dict.fromkeys(LOOK_UPS, 0), asked
            assert asked.get("prim.stop-monitoring", 0) >= 25  # the second worker did fetch both lines
            second_tasks = [t for t in await probe.tasks() if t.worker_id and str(second.pid) in t.worker_id]
            assert sorted(t.line_id for t in second_tasks) == sorted(LINES)
            for task in second_tasks:
                positions = next(a for a in (task.result or {})["attempts"] if a["source"] == "vmtr")
                assert positions["ok"], task.result
            assert all("stations without" not in (t.error or "") for t in second_tasks)
    finally:
        await probe.close()
