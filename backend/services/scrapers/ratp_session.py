"""The operator's tool for the ratp.fr browser session (Cloudflare cookies) that the workers reuse.

python -m backend.services.scrapers.ratp_session --refresh-cookies
python -m backend.services.scrapers.ratp_session --show --check
python -m backend.services.scrapers.ratp_session --cookie cf_clearance=... --user-agent "Mozilla/5.0 ..."
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

from backend.config import Settings, get_settings
from backend.services.scrapers.cloudflare import (
    DEFAULT_USER_AGENT,
    BrowserSession,
    BrowserSessionStore,
    SeedingError,
    is_challenge,
    seed_session,
)
from backend.services.scrapers.ratp_http import default_cookie_file


def _describe(session: BrowserSession | None) -> str:
    if session is None:
        return "no session stored"
    names = ", ".join(sorted({str(cookie.get("name")) for cookie in session.live_cookies()})) or "none live"
    expires = session.expires_at()
    until = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(expires)) if expires else "end of browser session"
    seeded = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(session.seeded_at)) if session.seeded_at else "?"
    return (
        f"session for {session.base_url}: cookies {names}; clearance "
        f"{'valid until ' + until if session.has_clearance() else 'missing or expired'}; seeded {seeded} "
        f"({session.how or 'unknown way'}); user agent {session.user_agent!r}"
    )


async def _check(settings: Settings, store: BrowserSessionStore) -> str:
    session = store.current()
    headers = {"User-Agent": session.user_agent if session else DEFAULT_USER_AGENT, "Accept": "application/json"}
    cookie = session.cookie_header() if session else None
    if cookie:
        headers["Cookie"] = cookie
    url = f"{store.base_url}/horaires/api/getStopPoints/metro/1"
    async with httpx.AsyncClient(timeout=settings.upstream_timeout_seconds) as client:
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            return f"check: GET {url} failed: {exc!r}"
    verdict = "Cloudflare challenge" if is_challenge(response) else f"{len(response.content)} bytes"
    return f"check: GET {url} -> HTTP {response.status_code} ({verdict})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.services.scrapers.ratp_session",
        description="Inspect, refresh or set the ratp.fr browser session (Cloudflare cookies) the workers reuse.",
    )
    parser.add_argument("--refresh-cookies", action="store_true", help="seed a new session with headless Chromium")
    parser.add_argument(
        "--cookie", action="append", default=[], metavar="NAME=VALUE", help="store a cookie from a browser (repeatable)"
    )
    parser.add_argument("--user-agent", help="the user agent of the browser the --cookie values come from")
    parser.add_argument("--show", action="store_true", help="print the stored session")
    parser.add_argument("--check", action="store_true", help="try one ratp.fr request with the stored session")
    parser.add_argument("--base-url", help="site to seed (default RATP_BASE_URL)")
    parser.add_argument(
        "--cookie-file", type=Path, help="session file (default RATP_COOKIE_FILE or DATA_DIR/ratp_cookies.json)"
    )
    args = parser.parse_args(argv)

    settings = get_settings()
    base_url = (args.base_url or settings.ratp_base_url).rstrip("/")
    path = args.cookie_file or default_cookie_file(settings)
    store = BrowserSessionStore(path, base_url)
    if not (args.refresh_cookies or args.cookie or args.show or args.check):
        parser.print_help()
        return 2

    status = 0
    if args.cookie:
        pairs = [entry.partition("=") for entry in args.cookie]
        if any(not name or not separator for name, separator, _ in pairs):
            parser.error("--cookie takes NAME=VALUE")
        host = httpx.URL(base_url).host
        cookies = [
            {"name": name.strip(), "value": value.strip(), "domain": host, "path": "/", "expires": -1}
            for name, _, value in pairs
        ]
        store.save(
            BrowserSession(
                base_url=base_url,
                user_agent=args.user_agent or DEFAULT_USER_AGENT,
                cookies=cookies,
                seeded_at=time.time(),
                how="set by hand with --cookie",
            )
        )
        print(f"stored {len(cookies)} cookie(s) ({', '.join(c['name'] for c in cookies)}) for {base_url} in {path}")
    if args.refresh_cookies:
        print(f"seeding a browser session for {base_url} with {settings.chromium_executable_path} ...", flush=True)
        try:
            session = asyncio.run(
                seed_session(
                    base_url=base_url,
                    executable_path=settings.chromium_executable_path,
                    timeout_seconds=settings.playwright_seed_timeout_seconds,
                )
            )
        except SeedingError as exc:
            print(f"seeding failed: {exc}", file=sys.stderr)
            status = 1
        else:
            store.save(session)
            print(f"seeded {len(session.cookies)} cookie(s) with {session.how}; saved to {path}")
    if args.show or args.refresh_cookies or args.cookie:
        print(f"{path}: {_describe(store.current())}")
    if args.check:
        print(asyncio.run(_check(settings, store)))
    return status


if __name__ == "__main__":
    sys.exit(main())
