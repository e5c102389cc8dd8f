"""`GET /health`: the truth about this API's dependencies, answered even when they are down.

Anyone may ask whether the API is healthy; the detail (driver errors, the broker's address) goes only to a caller
with a system key (`X-API-Key`, admin or read-only), since it helps an attacker more than a visitor."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from backend.api.security import require_read_key
from backend.budget import ledger
from backend.bus.probe import kafka_reachable
from backend.config import Settings
from backend.db.engine import DATABASE_ERRORS, Database
from backend.db.migrate import current_revision, head_revision
from backend.livedata.catalogue_sync import MIGRATE_COMMAND, catalogue_problem

router = APIRouter(tags=["health"])


class DependencyStatus(BaseModel):
    status: Literal["ok", "down", "not_configured", "outdated"]
    detail: str = Field(description="What was found; the reason and addresses only with a system key (X-API-Key).")
    latency_ms: float | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    database: DependencyStatus
    broker: DependencyStatus
    prim: DependencyStatus  # `down` when PRIM rejected the API key ("PRIM rejected the API key: Unauthorized")
    bus: Literal["kafka", "database"]
    demo_mode: bool
    version: str


async def _database_status(database: Database, timeout: float) -> tuple[DependencyStatus, str | None]:
    """The database's status, and what an anonymous caller may read of it when it is not the usual public detail."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            revision = await current_revision(database.engine)
            head = head_revision()
            # The lines the code serves must be in the database too: the migrate step copies them after the schema.
            catalogue = await catalogue_problem(database) if revision == head else None
    except Exception as exc:  # noqa: BLE001 - every failure means "down", reported with its reason
        return DependencyStatus(status="down", detail=f"{type(exc).__name__}: {exc}"[:300]), None
    latency = round((time.perf_counter() - started) * 1000, 1)
    if revision != head:
        detail = f"schema at {revision or 'none'}, code needs {head}: run the migrate step, `{MIGRATE_COMMAND}`"
        return DependencyStatus(status="outdated", detail=detail, latency_ms=latency), None
    if catalogue is not None:
        return (
            DependencyStatus(status="outdated", detail=f"schema at {revision}, but {catalogue}", latency_ms=latency),
            "line catalogue not loaded by the migrate step (send X-API-Key for details)",
        )
    dialect = database.engine.dialect.name
    return DependencyStatus(status="ok", detail=f"{dialect} reachable, schema at {revision}", latency_ms=latency), None


async def _broker_status(settings: Settings, timeout: float) -> DependencyStatus:
    if not settings.uses_kafka:
        return DependencyStatus(status="not_configured", detail="no KAFKA_BOOTSTRAP_SERVERS: database-backed queue")
    started = time.perf_counter()
    ok, detail = await kafka_reachable(settings.kafka_bootstrap_servers, timeout)
    latency = round((time.perf_counter() - started) * 1000, 1)
    return DependencyStatus(status="ok" if ok else "down", detail=detail[:300], latency_ms=latency if ok else None)


async def _prim_status(settings: Settings, database: Database, timeout: float) -> DependencyStatus:
    if not settings.prim_api_key.strip():
        return DependencyStatus(status="not_configured", detail="no PRIM_API_KEY: PRIM is not used")
    try:
        async with asyncio.timeout(timeout), database.sessions() as session:
            status = await ledger.key_status(session)
    except DATABASE_ERRORS:  # TimeoutError among them
        return DependencyStatus(status="ok", detail="key state unknown (database unavailable)")
    if status is not None and status.state == "rejected" and status.key_id == ledger.key_digest(settings.prim_api_key):
        return DependencyStatus(
            status="down",
            detail=f"{status.message}; PRIM is not asked until the key changes or POST /api/system/prim/key/retry",
        )
    return DependencyStatus(status="ok", detail="PRIM key not rejected")


_PUBLIC_DETAIL = {
    "ok": "reachable",
    "down": "unreachable (send X-API-Key for the reason)",
    "not_configured": "not configured",
    "outdated": "schema older than the code (send X-API-Key for details)",
}


def _public(dependency: DependencyStatus, *, down: str | None = None, detail: str | None = None) -> DependencyStatus:
    if detail is None:
        detail = down if down is not None and dependency.status == "down" else _PUBLIC_DETAIL[dependency.status]
    return dependency.model_copy(update={"detail": detail})


async def _has_key(
    request: Request,
    # Not a security scheme in the schema: the key is optional here, it only adds the detail.
    key: Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)] = None,
) -> bool:
    """Whether the caller sent a valid system key; a wrong one is still refused (403), a missing one is anonymous."""
    if not key:
        return False
    await require_read_key(request, key)
    return True


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Health of the API and its dependencies",
    description="Status of the database, the broker and the PRIM key. Their `detail` names the reason and the "
    "address only for a caller with a system key (`X-API-Key`); anonymous callers get the status alone.",
)
async def health(request: Request, detailed: Annotated[bool, Depends(_has_key)]) -> HealthResponse:
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    (db_status, db_public), broker_status, prim_status = await asyncio.gather(
        _database_status(database, timeout=3.0),
        _broker_status(settings, timeout=2.0),
        _prim_status(settings, database, timeout=2.0),
    )
    healthy = (
        db_status.status == "ok"
        and broker_status.status in ("ok", "not_configured")
        and prim_status.status in ("ok", "not_configured")
    )
    if not detailed:
        prim_status = _public(prim_status, down="not usable (send X-API-Key for the reason)")
        db_status, broker_status = _public(db_status, detail=db_public), _public(broker_status)
    return HealthResponse(
        status="ok" if healthy else "degraded",
        database=db_status,
        broker=broker_status,
        prim=prim_status,
        bus=settings.bus,
        demo_mode=settings.demo_mode,
        version=request.app.version,
    )
