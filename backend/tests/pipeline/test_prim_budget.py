"""A fresh PRIM key (1,000 requests a day, 5 a second) lives through a simulated day, on real processes.

The stub upstream plays PRIM's gateway: a 1,000/day and 5/s allowance per API, PRIM's rate-limit headers on every
answer, and a day sped up to `DAY_SECONDS`. The scheduler, the workers (scaled 1 -> 8 -> 2 during the day) and the
API run on one Postgres database with the configured quotas left at their defaults (1,000,000/day): what the key
really allows comes from PRIM's headers. A rider keeps metro 1 open (the dashboard's polling of the public API) while
the periodic cycle covers five other metro lines. Over the day and past its reset, PRIM must refuse nothing (no
429), the fleet must stay within the day's 1,000 requests whatever its size, spend the day's budget until the reset
rather than at its start, keep the viewed line refreshed at the planned interval, and start again after the reset.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from backend.api.app import create_app
from backend.budget import ledger
from backend.db.models import TaskRun
from backend.tests.api.conftest import ADMIN, READONLY, api_settings_for
from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.asgi import running
from backend.tests.support.pipeline import configure, start_stub, stub_env
from backend.tests.support.processes import eventually, service_env, services

DAY_SECONDS = 360
DAILY_LIMIT = 1000
PER_SECOND = 5
VIEWED = "metro:1"
PERIODIC = ["metro:2", "metro:3", "metro:4", "metro:5", "metro:6"]
VIEWER_POLL_SECONDS = 5.0

SETTINGS: dict[str, Any] = {
    "scheduler_interval_seconds": 30,
    "scheduler_tick_seconds": 2,
    "demand_refresh_seconds": 20,
    "view_lease_seconds": 30,
    "scheduler_queued_expiry_cycles": 10,
    "prim_stop_cache_seconds": 5,
    "source_order": "prim",
    "scheduler_lines": ",".join(PERIODIC),
}


async def test_a_fresh_key_lives_through_a_simulated_day_without_a_refusal(postgres_url: str, tmp_path: Path) -> None:
    probe = PipelineProbe(postgres_url)
    env = service_env(database_url=postgres_url, **SETTINGS)
    reports: list[dict[str, Any]] = []
    try:
        with services(tmp_path, env) as stack:
            port = await start_stub(
                stack,
                "--daily-limit",
                str(DAILY_LIMIT),
                "--per-second",
                str(PER_SECOND),
                "--day-seconds",
                str(DAY_SECONDS),
            )
            configure(stack, **{**stub_env(port), **SETTINGS})
            settings = api_settings_for(postgres_url, **{**stub_env(port), **SETTINGS})
            async with (
                running(create_app(settings)) as api,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as stub,
            ):
                limits = (await stub.get("/__stub/limits")).json()
                assert limits["day"] == 0
                day_ends = time.monotonic() + limits["reset_in_seconds"]
                workers = [stack.start("worker")]
                stack.start("scheduler")
                started = time.monotonic()
                scaled_up = scaled_down = False
                # The day, and 40 s of the next one, with a rider looking at metro 1 all along.
                while time.monotonic() < day_ends + 40:
                    response = await api.get(f"/api/lines/{VIEWED.replace(':', '/')}")
                    assert response.status_code == 200, response.text
                    elapsed = time.monotonic() - started
                    if not scaled_up and elapsed > 60:
                        workers += [stack.start("worker") for _ in range(7)]
                        scaled_up = True
                    if not scaled_down and elapsed > 150:
                        for worker in workers[2:]:
                            worker.stop()
                        scaled_down = True
                    report = (await api.get("/api/system/budget", headers=READONLY)).json()
                    reports.append({"at": round(elapsed), **report})
                    await asyncio.sleep(VIEWER_POLL_SECONDS)
                stats = (await stub.get("/__stub/stats")).json()
                final = (await api.get("/api/system/budget", headers=READONLY)).json()
            async with probe.database.sessions() as session:
                tasks = list((await session.execute(select(TaskRun).order_by(TaskRun.scheduled_at))).scalars())
            day_end_at = datetime.now(UTC).timestamp() - (time.monotonic() - day_ends)
            peak = len(await probe.workers())
    finally:
        await probe.close()

    limits = stats["rate_limits"]
    departures_per_day = limits["per_day"].get("departures", {})
    viewed = [t for t in tasks if t.line_id == VIEWED and t.status == "succeeded" and t.finished_at is not None]
    viewed_done = [t.finished_at.timestamp() for t in viewed if t.finished_at is not None]
    gaps = [b - a for a, b in itertools.pairwise(viewed_done) if b <= day_end_at]
    demand_intervals = [r["demand_interval_seconds"] for r in reports if r.get("demand_interval_seconds")]
    periodic_intervals = [r["periodic_interval_seconds"] for r in reports if r.get("periodic_interval_seconds")]
    print(
        f"simulated day of {DAY_SECONDS} s, key {DAILY_LIMIT}/day and {PER_SECOND}/s, {peak} workers at the peak\n"
        f"  PRIM requests let through per day: {limits['per_day']}\n"
        f"  PRIM refusals: {limits['refused']} (total {limits['refused_total']})\n"
        f"  tasks: {len(tasks)} ({sum(t.trigger == 'demand' for t in tasks)} on demand); statuses "
        f"{sorted({t.status for t in tasks})}\n"
        f"  viewed {VIEWED}: {len(viewed)} fetches, planned every {min(demand_intervals, default=0):.0f}-"
        f"{max(demand_intervals, default=0):.0f} s, gaps {min(gaps, default=0):.0f}-{max(gaps, default=0):.0f} s\n"
        f"  periodic lines planned every {min(periodic_intervals, default=0):.0f}-"
        f"{max(periodic_intervals, default=0):.0f} s (wanted {SETTINGS['scheduler_interval_seconds']} s)\n"
        f"  budget at the end: {[(a['api'], a['used_today'], a['remaining'], a['daily_limit']) for a in final['apis']]}"
    )

    # PRIM refused nothing, and the fleet kept within the day's allowance whatever its size.
    assert limits["refused_total"] == 0, limits["refused"]
    assert peak >= 8
    assert 0 < departures_per_day["0"] <= DAILY_LIMIT
    for api_days in limits["per_day"].values():
        assert all(count <= DAILY_LIMIT for count in api_days.values())
    # The day's budget was spent until the reset, not at its start: most of it used, some in its last tenth...
    assert departures_per_day["0"] >= 0.7 * DAILY_LIMIT
    assert any(day_end_at - 0.1 * DAY_SECONDS <= at <= day_end_at for at in viewed_done)
    # ...and the fleet went on after the reset.
    assert departures_per_day.get("1", 0) > 0
    # The key's allowance came from PRIM's headers, the configured quota being only an upper bound.
    departures = next(api for api in final["apis"] if api["api"] == "departures")
    assert departures["daily_limit"] == DAILY_LIMIT
    assert departures["daily_limit_source"] == "prim"
    assert departures["per_second_limit"] == PER_SECOND
    # The viewed line was fetched on demand, at its planned interval (a tick and a fetch of slack).
    assert all(t.trigger == "demand" and t.priority > 0 for t in viewed)
    assert len(gaps) >= 5
    assert max(gaps) <= max(demand_intervals) + 30
    # Every periodic line was refreshed during the day.
    assert {t.line_id for t in tasks if t.status == "succeeded"} >= set(PERIODIC)


async def test_a_rejected_key_is_named_and_stops_prim_until_an_operator_retries(
    postgres_url: str, tmp_path: Path
) -> None:
    settings_values = {
        "scheduler_interval_seconds": 3600,
        "scheduler_lines": "metro:1,metro:2",
        "source_order": "prim,ratp_http",
        "centralized_logging_enabled": "true",
    }
    env = service_env(database_url=postgres_url, **settings_values)
    probe = PipelineProbe(postgres_url)
    try:
        with services(tmp_path, env) as stack:
            port = await start_stub(stack, "--api-key", "the-right-key")
            configure(stack, **{**stub_env(port), **settings_values, "prim_api_key": "a-wrong-key"})
            settings = api_settings_for(
                postgres_url, **{**stub_env(port), **settings_values, "prim_api_key": "a-wrong-key"}
            )
            worker = stack.start("worker")
            stack.start("scheduler")
            async with (
                running(create_app(settings)) as api,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as stub,
            ):

                async def rejected() -> dict[str, Any] | None:
                    report = (await api.get("/api/system/budget", headers=READONLY)).json()
                    return report if report["key"]["state"] == "rejected" else None

                report = await eventually(rejected, timeout=60, message="the key marked rejected")
                assert report["key"]["message"] == "PRIM rejected the API key: Unauthorized"
                # Both lines still served, from ratp.fr, and no more PRIM requests once the key is known bad.
                await eventually(lambda: probe.all_succeeded(2), timeout=90, message="both lines from ratp.fr")
                refused = (await stub.get("/__stub/limits")).json()["refused"]["key:rejected"]
                before = datetime.now(UTC)
                assert (await api.post("/api/system/scheduler/trigger", headers=ADMIN)).status_code == 200
                await eventually(
                    lambda: probe_finished_after(probe, before, 2), timeout=90, message="a second cycle to finish"
                )
                assert (await stub.get("/__stub/limits")).json()["refused"]["key:rejected"] == refused
                # Anyone learns that PRIM is down; key holders learn why.
                anonymous = (await api.get("/health")).json()
                assert anonymous["prim"]["status"] == "down"
                assert "Unauthorized" not in anonymous["prim"]["detail"]
                health = (await api.get("/health", headers=ADMIN)).json()
                assert health["prim"]["status"] == "down"
                assert "PRIM rejected the API key: Unauthorized" in health["prim"]["detail"]
                # An operator's retry: PRIM is asked again (and rejects the key again).
                retried = await api.post("/api/system/prim/key/retry", headers=ADMIN)
                assert retried.status_code == 200
                assert retried.json() == {"cleared": True}
                # A worker reads the key's state at most every KEY_STATE_TTL_SECONDS: the retry is seen after that.
                await asyncio.sleep(ledger.KEY_STATE_TTL_SECONDS + 0.5)
                before = datetime.now(UTC)
                assert (await api.post("/api/system/scheduler/trigger", headers=ADMIN)).status_code == 200
                await eventually(rejected, timeout=60, message="the key rejected again after the retry")
                assert (await stub.get("/__stub/limits")).json()["refused"]["key:rejected"] > refused
            assert "PRIM rejected the API key: Unauthorized" in worker.output()
            assert "a-wrong-key" not in worker.output()
    finally:
        await probe.close()


async def probe_finished_after(probe: PipelineProbe, after: datetime, count: int) -> bool:
    finished = [t for t in await probe.tasks() if t.scheduled_at > after and t.status in ("succeeded", "partial")]
    return len(finished) >= count
