"""`python -m backend.migrate`: the migrate step, the one process that prepares the database for this release.

It brings the schema to the code's migration head, then copies the line catalogue into the database
(`livedata.catalogue_sync`); both are idempotent, so running it again, or two at once, changes nothing more. It runs
before the other services start (Compose's `migrate` service, `./serve.sh up`, the tests' template databases) and
again with every release, whose catalogue may differ. The API, scheduler and workers never write the schema or the
catalogue: they wait for them, or report what is missing with this command.

May import: the domains below the processes (backend.db, backend.livedata, backend.lifecycle, ...), as a process.
"""

from __future__ import annotations

import argparse
import logging
import sys

from sqlalchemy.engine import make_url

from backend.config import Settings, get_settings
from backend.db.engine import Database
from backend.db.migrate import head_revision, upgrade_database
from backend.lifecycle import run_process
from backend.livedata.catalogue_sync import CatalogueChanges, sync_catalogue
from backend.logs.setup import CentralizedLogging
from backend.vocabulary import Service

logger = logging.getLogger("backend.migrate")


async def migrate_database(settings: Settings, *, url: str | None = None) -> CatalogueChanges:
    """The schema to head, then the catalogue synced; returns what the sync wrote (nothing on a second run)."""
    await upgrade_database(settings, url=url)
    database = Database(settings, "migrate", url=url)
    try:
        return await sync_catalogue(database)
    finally:
        await database.dispose()


async def _main(settings: Settings) -> int:
    await migrate_database(settings)
    target = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    logger.info("migrate step done: schema at %s, catalogue in sync (%s)", head_revision(), target)
    return 0


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m backend.migrate", description=__doc__.split("\n\n")[0]).parse_args(argv)
    # Stdout only: the central log's table may not exist before the upgrade this step runs.
    settings = get_settings().model_copy(update={"centralized_logging_enabled": False})

    async def run(_logs: CentralizedLogging) -> int:
        return await _main(settings)

    return run_process(Service.MIGRATE, run, settings)


if __name__ == "__main__":
    sys.exit(main())
