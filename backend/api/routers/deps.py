"""Dependencies shared by the routers: the app's settings and database, and a read session.

All async: a plain `def` dependency runs in the threadpool, a thread hop on every request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.views import RefreshPlans, ViewLeases
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.livedata.catalogue_sync import MIGRATE_COMMAND, CatalogueState

logger = logging.getLogger("backend.api")


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def app_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def view_leases(request: Request) -> ViewLeases:
    leases: ViewLeases = request.app.state.view_leases
    return leases


async def refresh_plans(request: Request) -> RefreshPlans:
    plans: RefreshPlans = request.app.state.refresh_plans
    return plans


async def catalogue_loaded(request: Request) -> None:
    """A 503 until the API has found the line catalogue in its database (`catalogue_watched` in the lifespan): a
    database the migrate step never seeded answers no empty lists as if Paris had no lines."""
    catalogue: CatalogueState = request.app.state.catalogue
    if catalogue.found_at is None:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the line catalogue is not loaded: the database is down, not migrated or not seeded by the "
            f"migrate step (`{MIGRATE_COMMAND}`); see GET /health",
        )


CatalogueLoaded = Depends(catalogue_loaded)


def invalid_input(loc: tuple[str, ...], message: str, value: Any = None) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors (`detail` list plus the readable `message`)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message, "input": value}])


def known_query_parameters(*names: str) -> Any:
    """A route dependency refusing query parameters other than `names` (a misspelt filter is a 422, not silently
    ignored)."""
    allowed = frozenset(names)

    async def check(request: Request) -> None:
        unknown = [key for key in request.query_params if key not in allowed]
        if unknown:
            raise invalid_input(
                ("query", unknown[0]),
                f"unknown query parameter {unknown[0]!r}: this endpoint takes {', '.join(sorted(allowed))}",
                request.query_params.get(unknown[0]),
            )

    return Depends(check)


def _sqlstate(exc: BaseException) -> str | None:
    """The Postgres SQLSTATE behind a driver error, when there is one."""
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return None
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            return state
        current = getattr(current, "orig", None) or current.__cause__
    return None


def database_unavailable(exc: BaseException) -> HTTPException:
    """The HTTP error for a failed query: a 503 when the database is down or not migrated, a 422 when Postgres
    refused the input itself (a data exception, SQLSTATE class 22, e.g. a NUL character in a text parameter)."""
    state = _sqlstate(exc)
    if state is not None and state.startswith("22"):
        return HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"the database refused a parameter of this request (SQLSTATE {state}): check for control "
            "characters or out-of-range values",
        )
    logger.warning("database error: %s: %s", type(exc).__name__, exc)
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"the database is unavailable or not migrated ({type(exc).__name__}); see GET /health",
    )


async def read_session(database: Annotated[Database, Depends(app_database)]) -> AsyncIterator[AsyncSession]:
    """A session for reads; a database that is down or unmigrated is a 503, not a 500."""
    async with database.sessions() as session:
        try:
            yield session
        except DATABASE_ERRORS as exc:
            raise database_unavailable(exc) from exc


AppSettings = Annotated[Settings, Depends(app_settings)]
AppDatabase = Annotated[Database, Depends(app_database)]
ReadSession = Annotated[AsyncSession, Depends(read_session)]
Leases = Annotated[ViewLeases, Depends(view_leases)]
Plans = Annotated[RefreshPlans, Depends(refresh_plans)]
