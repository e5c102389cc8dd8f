"""Getting past ratp.fr's Cloudflare challenge: recognising it, seeding a browser session, keeping that session.

A challenged request gets HTTP 403 (or 503) with Cloudflare's "Just a moment..." page. A headless Chromium
(Playwright, the system's Chromium at CHROMIUM_EXECUTABLE_PATH) opens the site, lets the challenge script run and
hands back its cookies (`cf_clearance`, bound to the browser's user agent) and that user agent; plain HTTP
requests then send both until the cookies expire. `BrowserSessionStore` keeps them in RATP_COOKIE_FILE so every
process and restart reuses them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
CLEARANCE_COOKIE = "cf_clearance"
CHALLENGE_TITLE = "Just a moment..."
# Used until a browser session gives its own; a current desktop Chrome, as Cloudflare expects.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
_CHALLENGE_MARKERS = ("_cf_chl_opt", "challenge-platform", "<title>just a moment...</title>", "cf-browser-verification")


def is_challenge(response: httpx.Response) -> bool:
    """True when the answer is Cloudflare's challenge page rather than ratp.fr's."""
    if response.status_code not in (403, 429, 503):
        return False
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    head = response.text[:4000].lower()
    return any(marker in head for marker in _CHALLENGE_MARKERS)


class SeedingError(Exception):
    """The browser could not get a session past the challenge; the message says why."""


@dataclass
class BrowserSession:
    """Cookies and user agent of a browser that passed the challenge."""

    base_url: str
    user_agent: str
    cookies: list[dict[str, Any]] = field(default_factory=list)  # Playwright's shape: name, value, domain, expires
    seeded_at: float = 0.0
    how: str = ""

    def live_cookies(self, now: float | None = None) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        host = urlsplit(self.base_url).hostname or ""
        live = []
        for cookie in self.cookies:
            expires = cookie.get("expires")
            if isinstance(expires, int | float) and 0 < expires <= now:
                continue
            domain = str(cookie.get("domain") or host).lstrip(".")
            if host == domain or host.endswith("." + domain):
                live.append(cookie)
        return live

    def cookie_header(self, now: float | None = None) -> str | None:
        pairs = [f"{cookie['name']}={cookie['value']}" for cookie in self.live_cookies(now)]
        return "; ".join(pairs) or None

    def has_clearance(self, now: float | None = None) -> bool:
        return any(cookie.get("name") == CLEARANCE_COOKIE for cookie in self.live_cookies(now))

    def expires_at(self) -> float | None:
        times = [
            float(cookie["expires"])
            for cookie in self.cookies
            if cookie.get("name") == CLEARANCE_COOKIE and isinstance(cookie.get("expires"), int | float)
        ]
        return min(times) if times else None


class BrowserSessionStore:
    """The current session for one base URL, in memory and in a JSON file shared with other processes."""

    def __init__(self, path: Path, base_url: str) -> None:
        self.path = path
        self.base_url = base_url.rstrip("/")
        self._session: BrowserSession | None = None
        self._loaded_mtime: float | None = None
        self.generation = 0  # bumped on every change, so waiters can tell a fresh session from the one that failed

    def current(self) -> BrowserSession | None:
        """The session, re-read when another process (or the operator's script) rewrote the file."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return self._session
        if mtime != self._loaded_mtime:
            self._loaded_mtime = mtime
            loaded = self._read()
            if loaded is not None:
                self._session = loaded
                self.generation += 1
        return self._session

    def save(self, session: BrowserSession) -> None:
        self._session = session
        self.generation += 1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(asdict(session), indent=1), encoding="utf-8")
            os.chmod(temporary, 0o600)
            temporary.replace(self.path)
            self._loaded_mtime = self.path.stat().st_mtime
        except OSError as exc:
            logger.warning("could not save ratp.fr cookies to %s: %s", self.path, exc)

    def _read(self) -> BrowserSession | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            session = BrowserSession(**data)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("ignoring unreadable ratp.fr cookie file %s: %s", self.path, exc)
            return None
        if session.base_url.rstrip("/") != self.base_url:
            return None  # cookies of another site (e.g. the stub upstream) are no use here
        return session


def desktop_user_agent(browser_version: str) -> str:
    """A desktop Chrome user agent for this Chromium, without the "HeadlessChrome" token Cloudflare rejects."""
    major = browser_version.split(".", 1)[0] or "131"
    return f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"


async def seed_session(
    *,
    base_url: str,
    executable_path: str,
    timeout_seconds: float,
    start_path: str = "/horaires",
) -> BrowserSession:
    """Opens `base_url + start_path` in headless Chromium until the challenge is passed; raises `SeedingError`."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    if not await asyncio.to_thread(Path(executable_path).exists):
        raise SeedingError(f"no Chromium at {executable_path} (CHROMIUM_EXECUTABLE_PATH); install it or fix the path")
    base_url = base_url.rstrip("/")
    started = time.monotonic()
    timeout_ms = timeout_seconds * 1000.0
    try:
        async with asyncio.timeout(timeout_seconds), async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=executable_path, headless=True, args=list(CHROMIUM_ARGS), timeout=timeout_ms
            )
            try:
                user_agent = desktop_user_agent(browser.version)
                context = await browser.new_context(user_agent=user_agent, locale="fr-FR")
                page = await context.new_page()
                await page.goto(base_url + start_path, wait_until="domcontentloaded", timeout=timeout_ms)
                while True:
                    cookies = await context.cookies(base_url)
                    passed = any(cookie["name"] == CLEARANCE_COOKIE for cookie in cookies)
                    title = await _title(page)
                    on_site = title is not None and CHALLENGE_TITLE.lower() not in title.lower()
                    if on_site and (passed or not await _looks_challenged(page)):
                        break
                    await asyncio.sleep(0.25)
                return BrowserSession(
                    base_url=base_url,
                    user_agent=user_agent,
                    cookies=[dict(cookie) for cookie in cookies],
                    seeded_at=time.time(),
                    how=f"Chromium {browser.version} (Playwright) in {time.monotonic() - started:.1f} s",
                )
            finally:
                await browser.close()
    except TimeoutError:
        raise SeedingError(f"challenge not passed within {timeout_seconds:.0f} s") from None
    except PlaywrightError as exc:
        raise SeedingError(f"Chromium failed: {str(exc).splitlines()[0]}") from None


async def _title(page: Any) -> str | None:
    from playwright.async_api import Error as PlaywrightError

    try:
        title = await page.title()
    except PlaywrightError:  # the page is navigating (the challenge reloads it)
        return None
    return str(title)


async def _looks_challenged(page: Any) -> bool:
    from playwright.async_api import Error as PlaywrightError

    try:
        html = str(await page.content())
    except PlaywrightError:
        return True
    return any(marker in html.lower() for marker in _CHALLENGE_MARKERS)
