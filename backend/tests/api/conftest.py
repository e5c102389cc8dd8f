"""The API in-process (its lifespan run, httpx over ASGI) on a fresh database, with an admin and a read-only key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.api.app import create_app
from backend.config import Settings
from backend.db.engine import Database
from backend.tests.support.asgi import running
from backend.tests.support.databases import settings_for

ADMIN_KEY = "admin-test-key-0001"
READONLY_KEY = "readonly-test-key-0002"
ADMIN = {"X-API-Key": ADMIN_KEY}
READONLY = {"X-API-Key": READONLY_KEY}


def api_settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "system_api_token": ADMIN_KEY,
        "system_api_readonly_token": READONLY_KEY,
        "api_mutation_rate_per_minute": 10_000,
        "worker_scale_backend": "local",
    }
    values.update(overrides)
    return settings_for(database_url, **values)


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(database_url)


@pytest.fixture
async def client(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the test's database (the catalogue synced by its lifespan)."""
    async with running(create_app(api_settings)) as http:
        yield http


@pytest.fixture
async def db(api_settings: Settings) -> AsyncIterator[Database]:
    """The test's database, for seeding and checking rows."""
    database = Database(api_settings, "tests")
    yield database
    await database.dispose()
