"""The app factory: `create_app()` builds the FastAPI app; its lifespan owns the database engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from backend.api import health
from backend.api.security import resolve_system_keys
from backend.config import Settings, get_settings
from backend.db.engine import Database

VERSION = "0.1.0"
logger = logging.getLogger("backend.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings, "api")
        app.state.database = database
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="RATP Live Tracker API",
        version=VERSION,
        description="Live next departures for Paris RATP lines, and the operations API of the worker fleet.",
        lifespan=lifespan,
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
    _install_error_handlers(app)
    app.include_router(health.router)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), custom_encoder={BaseException: str})
        messages = [f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in errors]
        return JSONResponse(
            status_code=422, content={"detail": errors, "message": "; ".join(messages) or "invalid request"}
        )

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the logs, never to the client.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error", "message": type(exc).__name__})
