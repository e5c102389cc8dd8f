"""The fleet's PRIM budget in the database: several workers' handles on one row, PRIM's headers, the key's state."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.budget import ledger
from backend.budget.ledger import FleetBudget
from backend.db.engine import Database
from backend.db.models import UpstreamBudget
from backend.services.resilience import UpstreamError
from backend.tests.support.databases import settings_for

NOW = datetime(2026, 12, 6, 14, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, at: float = NOW) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(settings_for(database_url, prim_api_key="key-one"), "test-budget")
    yield database
    await database.dispose()


def prim_answer(status: int = 200, **headers: int) -> httpx.Response:
    names = {
        "per_second": "ratelimit-limit",
        "reset": "ratelimit-reset",
        "day_limit": "x-ratelimit-limit-day",
        "day_remaining": "x-ratelimit-remaining-day",
    }
    body = b'{"message":"Unauthorized"}' if status == 401 else b"{}"
    return httpx.Response(status, headers={names[key]: str(value) for key, value in headers.items()}, content=body)


async def row(database: Database, api: str = "departures") -> UpstreamBudget:
    async with database.sessions() as session:
        found = await session.get(UpstreamBudget, api)
    assert found is not None
    return found


async def test_two_workers_share_one_pacing_at_the_keys_per_second_limit(database: Database) -> None:
    clock = Clock()
    settings = settings_for("sqlite://", prim_api_key="key-one", prim_rate_limit_per_second=5)
    workers = [FleetBudget(database, settings, clock=clock) for _ in range(2)]
    slots = [await workers[i % 2].take("departures", max_wait=60) for i in range(10)]
    spacing = 1 / (0.5 * 5)
    assert slots == pytest.approx([NOW + i * spacing for i in range(10)])
    # No more than 3 (one every 0.4 s: half of PRIM's 5, rounded up) in any second, whoever took them.
    assert all(sum(1 for s in slots if start <= s < start + 1 - 1e-6) <= 3 for start in slots)
    # A slot further off than the caller can wait is refused, not taken.
    with pytest.raises(UpstreamError) as refused:
        await workers[0].take("departures", max_wait=3.0)
    assert refused.value.not_attempted
    assert (await row(database)).used_today == 10


async def test_prims_headers_replace_the_configured_quota_and_lower_what_remains(database: Database) -> None:
    clock = Clock()
    budget = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-one"), clock=clock)
    await budget.take("departures", max_wait=60)
    assert (await row(database)).daily_limit == 1_000_000  # the configured quota, until PRIM says
    await budget.observe("departures", prim_answer(per_second=5, reset=3600, day_limit=1000, day_remaining=900))
    seen = await row(database)
    assert (seen.daily_limit, seen.daily_limit_source, seen.per_second_limit) == (1000, "prim", 5)
    assert seen.remaining == 900  # PRIM counted more than we did (another user of the key)
    assert seen.reset_at == datetime.fromtimestamp(NOW + 3600 + 1, UTC)
    # PRIM's count never raises ours within a day (our requests in flight are not in its count yet).
    await budget.take("departures", max_wait=60)
    await budget.observe("departures", prim_answer(reset=3599, day_limit=1000, day_remaining=900))
    assert (await row(database)).remaining == 899


async def test_a_spent_day_holds_requests_back_until_the_reset(database: Database) -> None:
    clock = Clock()
    budget = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-one"), clock=clock)
    await budget.take("departures", max_wait=60)
    await budget.observe("departures", prim_answer(per_second=5, reset=600, day_limit=1000, day_remaining=2))
    for _ in range(2):
        await budget.take("departures", max_wait=60)
    with pytest.raises(UpstreamError, match="requests of the day are spent") as held:
        await budget.take("departures", max_wait=60)
    assert held.value.kind == "quota"
    assert held.value.not_attempted
    assert (await row(database)).held_back_today == 1
    # Past PRIM's reset the whole allowance is there again, and the next day is guessed as long as this one.
    clock.at = NOW + 601 + 1
    await budget.take("departures", max_wait=60)
    after = await row(database)
    assert (after.remaining, after.used_today, after.held_back_today) == (999, 1, 0)
    assert after.reset_at - datetime.fromtimestamp(clock.at, UTC) == pytest.approx(
        timedelta(seconds=601), abs=timedelta(seconds=2)
    )


async def test_a_new_day_announced_by_prim_resets_the_count(database: Database) -> None:
    clock = Clock()
    budget = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-one"), clock=clock)
    await budget.take("departures", max_wait=60)
    await budget.observe("departures", prim_answer(reset=10, day_limit=1000, day_remaining=0))
    clock.at += 5  # PRIM's day ended before ours (its clock, our margin)
    await budget.observe("departures", prim_answer(reset=300, day_limit=1000, day_remaining=999))
    assert (await row(database)).remaining == 999


async def test_a_rejected_key_stops_every_worker_until_the_key_changes_or_an_operator_retries(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    settings = settings_for("sqlite://", prim_api_key="key-one")
    first, second = FleetBudget(database, settings, clock=clock), FleetBudget(database, settings, clock=clock)
    await first.take("departures", max_wait=60)
    await second.take("departures", max_wait=60)
    await first.observe("departures", prim_answer(401))
    assert "PRIM rejected the API key: Unauthorized" in caplog.text
    assert "key-one" not in caplog.text
    clock.at += 5  # the second worker reads the key's state again
    for worker in (first, second):
        with pytest.raises(UpstreamError, match="PRIM rejected the API key: Unauthorized") as stopped:
            await worker.take("traffic", max_wait=60)
        assert stopped.value.kind == "key_rejected"
        assert stopped.value.not_attempted
    # A worker with another key asks PRIM, and its first good answer clears the old key's mark.
    replaced = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-two"), clock=clock)
    await replaced.take("departures", max_wait=60)
    await replaced.observe("departures", prim_answer(200, reset=100))
    async with database.sessions() as session:
        assert await ledger.key_status(session) is None
    # The old key rejected again; an operator's retry lets it be tried.
    await first.observe("departures", prim_answer(401))
    async with database.write_sessions() as session, session.begin():
        assert await ledger.retry_key(session)
    clock.at += 5
    await first.take("departures", max_wait=60)


async def test_viewing_leases_are_renewed_and_lapse(database: Database) -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    lease = timedelta(seconds=60)
    for at, lines in zip(itertools.count(), (["metro:1"], ["metro:1", "rer:A"], ["metro:1"]), strict=False):
        async with database.write_sessions() as session, session.begin():
            await ledger.record_views(session, lines, now=now + timedelta(seconds=30 * at), lease=lease)
    async with database.sessions() as session:
        viewed = await ledger.viewed_lines(session, now=now + timedelta(seconds=61))
        later = await ledger.viewed_lines(session, now=now + timedelta(seconds=91))
    assert [(view.line_id, view.views) for view in viewed] == [("metro:1", 3), ("rer:A", 1)]
    assert [view.line_id for view in later] == ["metro:1"]


async def test_requests_waiting_together_each_get_their_own_unit_and_slot(database: Database) -> None:
    clock = Clock()
    settings = settings_for("sqlite://", prim_api_key="key-one", prim_rate_limit_per_second=5)
    budget = FleetBudget(database, settings, clock=clock)
    # One process's burst (a line's stops asked at once) is served together, as if one at a time.
    slots = await asyncio.gather(*(budget.take("departures", max_wait=60) for _ in range(12)))
    spacing = 1 / (0.5 * 5)
    assert sorted(slots) == pytest.approx([NOW + i * spacing for i in range(12)])
    # Those that cannot wait for their slot are refused, not counted; the others go.
    outcomes = await asyncio.gather(
        *(budget.take("departures", max_wait=wait) for wait in (60, 1.0, 60)), return_exceptions=True
    )
    assert [isinstance(outcome, UpstreamError) for outcome in outcomes] == [False, True, False]
    assert (await row(database)).used_today == 14


async def test_answers_observed_together_are_all_counted(database: Database) -> None:
    clock = Clock()
    budget = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-one"), clock=clock)
    await budget.take("departures", max_wait=60)
    answers = [prim_answer(per_second=5, reset=3600, day_limit=1000, day_remaining=990 - n) for n in range(4)]
    answers += [prim_answer(429, per_second=5, reset=3600, day_limit=1000, day_remaining=980)] * 2
    await asyncio.gather(*(budget.observe("departures", answer) for answer in answers))
    seen = await row(database)
    assert (seen.daily_limit, seen.per_second_limit, seen.refused_today) == (1000, 5, 2)
    assert seen.remaining == 980


async def test_routine_answers_are_written_together_later_and_what_changes_the_plan_at_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "ROUTINE_HEADERS_SECONDS", 0.3)
    clock = Clock()
    budget = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-one"), clock=clock)
    await budget.take("departures", max_wait=60)
    routine = {"per_second": 5, "reset": 3600, "day_limit": 1000}
    await budget.observe("departures", prim_answer(**routine, day_remaining=900))  # the first: written at once
    assert (await row(database)).remaining == 900
    # Same limits, same day, requests left: each observer goes on at once; the headers are kept for a while...
    for remaining in (800, 700):
        await asyncio.wait_for(budget.observe("departures", prim_answer(**routine, day_remaining=remaining)), 0.1)
    assert (await row(database)).remaining == 900
    # ...then written together, the latest answer's.
    await asyncio.sleep(0.6)
    assert (await row(database)).remaining == 700
    # A 429 changes the plan: its observer returns once it is written, with the routine answers kept meanwhile.
    await budget.observe("departures", prim_answer(**routine, day_remaining=600))
    await budget.observe("departures", prim_answer(429, **routine, day_remaining=590))
    seen = await row(database)
    assert (seen.remaining, seen.refused_today) == (590, 1)
    # So do new limits, and a spent day.
    await budget.observe("departures", prim_answer(per_second=2, reset=3600, day_limit=1000, day_remaining=580))
    assert (await row(database)).per_second_limit == 2
    await budget.observe("departures", prim_answer(per_second=2, reset=3600, day_limit=1000, day_remaining=0))
    assert (await row(database)).remaining == 0


async def test_a_stopping_worker_writes_the_answers_it_kept(database: Database) -> None:
    clock = Clock()
    budget = FleetBudget(database, settings_for("sqlite://", prim_api_key="key-one"), clock=clock)
    await budget.take("departures", max_wait=60)
    routine = {"per_second": 5, "reset": 3600, "day_limit": 1000}
    await budget.observe("departures", prim_answer(**routine, day_remaining=900))
    await budget.observe("departures", prim_answer(**routine, day_remaining=850))
    assert (await row(database)).remaining == 900
    await budget.aclose()
    assert (await row(database)).remaining == 850
