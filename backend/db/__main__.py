"""`python -m backend.db downgrade REV|current|head`: inspect or revert the schema of the configured database.

Upgrading is the migrate step's (`python -m backend.migrate`), which also copies the line catalogue in."""

from __future__ import annotations

import argparse
import asyncio
import sys

from backend.config import get_settings
from backend.db.engine import create_engine
from backend.db.migrate import current_revision, downgrade_database, head_revision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.db", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    down = sub.add_parser("downgrade", help="revert migrations to REVISION (`base` for an empty database)")
    down.add_argument("revision")
    sub.add_parser("current", help="print the database's revision")
    sub.add_parser("head", help="print the code's head revision")
    args = parser.parse_args(argv)

    settings = get_settings()
    if args.action == "downgrade":
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


if __name__ == "__main__":
    sys.exit(main())
