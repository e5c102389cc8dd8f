"""Getting past the stub's Cloudflare challenge: Playwright seeding with the system Chromium, the saved session,
the operator's script, and cookies set by hand."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend.catalogue import Catalogue
from backend.config import REPO_DIR, get_settings
from backend.devtools.upstream import StubUpstream
from backend.services.live_data import LiveDataService
from backend.services.records import LineFetchResult, SourceAttempt
from backend.tests.services.conftest import SettingsFactory

CHROMIUM = os.environ.get("CHROMIUM_EXECUTABLE_PATH") or get_settings().chromium_executable_path
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (install it with `apt-get install -y chromium` or set CHROMIUM_EXECUTABLE_PATH)",
)


def attempt(result: LineFetchResult, source: str) -> SourceAttempt:
    return next(a for a in result.attempts if a.source == source)


def script_env(stub: StubUpstream, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_DIR),
        "SETTINGS_ENV_FILES": "false",
        "RATP_BASE_URL": stub.base_url,
        "DATA_DIR": str(tmp_path),
        "RATP_COOKIE_FILE": str(tmp_path / "ratp_cookies.json"),
        "CHROMIUM_EXECUTABLE_PATH": CHROMIUM,
    }


@needs_chromium
async def test_challenge_is_passed_by_seeding_a_browser_session_then_reused(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream, tmp_path: Path
) -> None:
    stub.set_faults("ratp:challenge")
    settings = live_settings(
        prim_api_key="",
        playwright_seeding_enabled=True,
        chromium_executable_path=CHROMIUM,
        upstream_fetch_budget_seconds=40.0,
    )

    async with LiveDataService(settings) as service:
        first = await service.fetch_line(catalogue.get("metro:1"))
        second = await service.fetch_line(catalogue.get("metro:2"))
        seedings = service.ratp.seedings

    assert first.status == "ok", first.error
    assert second.status == "ok", second.error
    assert {d.source for d in first.departures} == {"ratp_http"}
    assert seedings == 1
    saved = json.loads((tmp_path / "ratp_cookies.json").read_text())
    assert "cf_clearance" in {cookie["name"] for cookie in saved["cookies"]}
    assert "HeadlessChrome" not in saved["user_agent"]
    assert stub.stats()["faults_applied"]["ratp.page:challenge"] >= 1

    # A new process finds the saved session and needs no browser.
    async with LiveDataService(settings) as later:
        third = await later.fetch_line(catalogue.get("metro:3"))
        assert later.ratp.seedings == 0
    assert third.status == "ok", third.error


async def test_failed_seeding_is_reported_and_not_retried_at_once(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream, tmp_path: Path
) -> None:
    stub.set_faults("ratp:challenge")
    settings = live_settings(
        prim_api_key="", playwright_seeding_enabled=True, chromium_executable_path=str(tmp_path / "no-chromium")
    )

    async with LiveDataService(settings) as service:
        first = await service.fetch_line(catalogue.get("tram:T5"))
        second = await service.fetch_line(catalogue.get("tram:T5"))

    assert "seeding a browser session failed: no Chromium at" in (attempt(first, "ratp_http").error or "")
    assert "the last seeding failed" in (attempt(second, "ratp_http").error or "")
    assert first.departures == second.departures == ()
    # Trains still come from the vehicle socket, but without ratp.fr's stop list they cannot be placed on stations.
    assert first.status == "failed"  # no departures: trains alone do not make the line refreshed
    assert "no stop ids known to place the trains" in (first.error or "")


def test_operator_script_refreshes_shows_and_checks_the_session(stub: StubUpstream, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    stub.set_faults("ratp:challenge")
    env = script_env(stub, tmp_path)

    refreshed = subprocess.run(
        [sys.executable, "-m", "backend.services.scrapers.ratp_session", "--refresh-cookies"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    checked = subprocess.run(
        [sys.executable, "-m", "backend.services.scrapers.ratp_session", "--show", "--check"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert refreshed.returncode == 0, refreshed.stderr
    assert "seeded" in refreshed.stdout
    assert str(tmp_path / "ratp_cookies.json") in refreshed.stdout
    assert "cf_clearance" in refreshed.stdout
    assert "valid until" in refreshed.stdout
    assert checked.returncode == 0, checked.stderr
    assert "-> HTTP 200" in checked.stdout


def test_cookies_copied_from_a_browser_can_be_set_by_hand(
    stub: StubUpstream, catalogue: Catalogue, tmp_path: Path, live_settings: SettingsFactory
) -> None:
    stub.set_faults("ratp:challenge")
    user_agent = "Mozilla/5.0 (X11; Linux x86_64) Operator's browser"
    # What a person's browser does: run the challenge script, which turns the page's nonce into the clearance.
    page = httpx.get(f"{stub.base_url}/horaires", headers={"User-Agent": user_agent}).text
    nonce = re.search(r"cH: '([0-9a-f]+)'", page)
    issued = re.search(r"cITimeS: '(\d+)'", page)
    assert nonce
    assert issued
    clearance = f"{nonce.group(1)[::-1]}.{issued.group(1)}"

    stored = subprocess.run(
        [
            sys.executable,
            "-m",
            "backend.services.scrapers.ratp_session",
            "--cookie",
            f"cf_clearance={clearance}",
            "--user-agent",
            user_agent,
            "--check",
        ],
        cwd=REPO_DIR,
        env=script_env(stub, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert stored.returncode == 0, stored.stderr
    assert "stored 1 cookie(s) (cf_clearance)" in stored.stdout
    assert "-> HTTP 200" in stored.stdout


async def test_hand_set_session_is_used_by_the_service(
    stub: StubUpstream, catalogue: Catalogue, tmp_path: Path, live_settings: SettingsFactory
) -> None:
    stub.set_faults("ratp:challenge")
    user_agent = "Mozilla/5.0 (X11; Linux x86_64) Operator's browser"
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"{stub.base_url}/horaires", headers={"User-Agent": user_agent})).text
    nonce = re.search(r"cH: '([0-9a-f]+)'", page)
    assert nonce
    (tmp_path / "ratp_cookies.json").write_text(
        json.dumps(
            {
                "base_url": stub.base_url,
                "user_agent": user_agent,
                "cookies": [{"name": "cf_clearance", "value": f"{nonce.group(1)[::-1]}.1", "domain": "127.0.0.1"}],
                "seeded_at": 0,
                "how": "test",
            }
        )
    )

    async with LiveDataService(live_settings(prim_api_key="")) as service:
        result = await service.fetch_line(catalogue.get("tram:T6"))

    assert result.status == "ok", result.error
    assert service.ratp.seedings == 0
