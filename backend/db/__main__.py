"""`python -m backend.db upgrade|downgrade REV|current|head`: manage the schema of the configured database."""

from __future__ import annotations

import argparse
import asyncio
import sys

from backend.config import get_settings
from backend.db.engine import create_engine
from backend.db.migrate import current_revision, downgrade_database, head_revision, upgrade_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.db", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="apply migrations (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="revert migrations to REVISION (`base` for an empty database)")
    down.add_argument("revision")
    sub.add_parser("current", help="print the database's revision")
    sub.add_parser("head", help="print the code's head revision")
    args = parser.parse_args(argv)

    settings = get_settings()
    if args.action == "upgrade":
        asyncio.run(upgrade_database(settings, args.revision))
        print(f"database at {args.revision} ({_safe_url(settings.resolved_database_url)})")
    elif args.action == "downgrade":
        asyncio.run(downgrade_database(settings, args.revision))
        print(f"database at {args.revision}")
    elif args.action == "current":

        async def _show() -> str | None:
            engine = create_engine(settings, "migrate")
            try:
                return await current_revision(engine)
            finally:
                await engine.dispose()

        print(asyncio.run(_show()) or "none")
    else:
        print(head_revision())
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
