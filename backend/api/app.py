"""The app factory: `create_app()` builds the FastAPI app; its lifespan owns the database engine."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api import health
from backend.api.docs import install_docs
from backend.api.protection import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from backend.api.routers import budget as budget_router
from backend.api.routers import logs as logs_router
from backend.api.routers import public as public_router
from backend.api.routers import system as system_router
from backend.api.security import resolve_system_keys
from backend.api.snapshot_hits import SnapshotHitMiddleware
from backend.api.snapshots import RiderSnapshots, read_line_versions
from backend.api.views import RefreshPlans, ViewLeases
from backend.config import Settings, get_settings
from backend.db.engine import Database
from backend.lifecycle import freeze_startup_heap
from backend.livedata.catalogue_sync import catalogue_watched
from backend.logs.context import RequestIdMiddleware
from backend.logs.setup import configure_logging

VERSION = "0.1.0"
logger = logging.getLogger("backend.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.logging = configure_logging(settings, "api")
        database = Database(settings, "api")
        app.state.database = database
        app.state.view_leases = view_leases = ViewLeases(database, settings)
        app.state.refresh_plans = RefreshPlans(database, settings)
        snapshots: RiderSnapshots | None = None
        try:
            # Lines and stations for the public API, copied in by the migrate step: until they are there (a database
            # down, unmigrated or never seeded), the log and GET /health say so and the rider routes answer 503.
            async with catalogue_watched(database) as catalogue:
                app.state.catalogue = catalogue
                app.state.rider_snapshots = snapshots = RiderSnapshots(
                    check_seconds=settings.api_snapshot_check_seconds,
                    read_versions=lambda: read_line_versions(database),
                    synced_at=lambda: catalogue.found_at,
                )
                # The collector's passes stop every request: they no longer walk what the process holds once started.
                freeze_startup_heap()
                yield
        finally:
            gc.unfreeze()
            if snapshots is not None:
                await snapshots.close()
            await view_leases.close()
            await database.dispose()
            await asyncio.to_thread(app.state.logging.close)

    app = FastAPI(
        title="RATP Live Tracker API",
        version=VERSION,
        description="Live next departures for Paris RATP lines, and the operations API of the worker fleet.",
        lifespan=lifespan,
        # Swagger UI is served from this app's own files (`docs.py`), never from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs_enabled else None,
    )
    app.state.settings = settings
    # Refuses to build an app without a real key outside development (InsecureConfigurationError).
    app.state.system_keys = resolve_system_keys(settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["X-API-Key", "Content-Type"],
    )
    # Inside the request id, body limit and security headers, outside CORS (a request with an Origin passes on).
    app.add_middleware(SnapshotHitMiddleware, cache_max_age_seconds=settings.api_cache_max_age_seconds)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    _install_error_handlers(app)
    if settings.api_docs_enabled:
        install_docs(app)
    app.include_router(health.router)
    app.include_router(logs_router.router)
    app.include_router(public_router.router)
    app.include_router(system_router.router)
    app.include_router(budget_router.router)
    return app


def _finite(value: object) -> object:
    """JSON cannot carry inf/nan: a request that sent them gets them back as text in the error."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _finite(jsonable_encoder(exc.errors(), custom_encoder={BaseException: str}))
        assert isinstance(errors, list)
        messages = [f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in errors]
        return JSONResponse(
            status_code=422, content={"detail": errors, "message": "; ".join(messages) or "invalid request"}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Every refusal carries a readable `message`, whatever shape its `detail` has.
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail, "message": message}, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the logs, never to the client.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error", "message": type(exc).__name__})
