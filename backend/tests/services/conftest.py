"""Fixtures for the source tests: one stub upstream per session (faults cleared around each test), settings
pointing at it with short timeouts, and a fresh `LiveDataService` per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.catalogue import Catalogue, get_catalogue
from backend.config import Settings
from backend.devtools.upstream import StubUpstream
from backend.services.live_data import LiveDataService

SettingsFactory = Callable[..., Settings]


def timeout_for_fault(kind: str) -> dict[str, Any]:
    """`live_settings` overrides for a test injecting the fault `kind`: a short request timeout when the stub hangs
    (`timeout`; its `hang_seconds` is longer), none otherwise."""
    return {"upstream_timeout_seconds": 1.0} if kind == "timeout" else {}


@pytest.fixture(scope="session")
def stub_upstream() -> Iterator[StubUpstream]:
    with StubUpstream(hang_seconds=4.0) as stub:
        yield stub


@pytest.fixture
def stub(stub_upstream: StubUpstream) -> Iterator[StubUpstream]:
    """The session's stub, with no faults, no latency and zeroed counters for this test."""
    stub_upstream.state.clear_faults()
    stub_upstream.state.reset_stats()
    stub_upstream.state.latency_ms = 0.0
    yield stub_upstream
    stub_upstream.state.clear_faults()
    stub_upstream.state.latency_ms = 0.0


@pytest.fixture
def catalogue() -> Catalogue:
    return get_catalogue()


@pytest.fixture
def live_settings(stub: StubUpstream, tmp_path: Path) -> SettingsFactory:
    """Settings pointing every source at the stub; keyword arguments override them.

    The request timeout is generous: a test that makes the stub hang sets a short one (`timeout_for_fault`), and the
    others do not fail when a loaded machine (a CI runner, the session's garbage collection) stalls this process for
    a second. The stub answers from a thread of this process, so such a stall is on both sides of every request."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "data_dir": tmp_path,
            "centralized_logging_enabled": False,
            **stub.settings_overrides(),
            "source_order": "prim,ratp_http,vmtr",
            "vmtr_socket_enabled": True,
            "playwright_seeding_enabled": False,
            "upstream_timeout_seconds": 5.0,
            "upstream_fetch_budget_seconds": 8.0,
            "vmtr_listen_seconds": 2.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
async def service(live_settings: SettingsFactory) -> AsyncIterator[LiveDataService]:
    async with LiveDataService(live_settings()) as live:
        yield live
