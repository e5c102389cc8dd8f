"""`GET /health` tells the truth about the database and the broker, and answers even when they are down."""

from __future__ import annotations

import pytest

from backend.api.app import create_app
from backend.config import Settings
from backend.migrate import migrate_database
from backend.tests.support.asgi import running
from backend.tests.support.databases import settings_for
from backend.tests.support.services import KafkaBroker, PostgresServer, free_port


async def test_health_is_ok_on_a_migrated_database_without_broker(settings: Settings) -> None:
    async with running(create_app(settings)) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "not_configured"
    assert body["bus"] == "database"


async def test_health_reports_an_unmigrated_database_as_outdated(sqlite_databases: object, tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3"
    async with running(create_app(settings_for(url))) as client:
        body = (await client.get("/health", headers={"X-API-Key": "test-key"})).json()
        anonymous = (await client.get("/health")).json()
    assert body["status"] == anonymous["status"] == "degraded"
    assert body["database"]["status"] == anonymous["database"]["status"] == "outdated"
    assert "python -m backend.migrate" in body["database"]["detail"]
    assert anonymous["database"]["detail"] == "schema older than the code (send X-API-Key for details)"


@pytest.mark.postgres
async def test_health_stays_up_and_degraded_while_postgres_is_stopped(own_postgres: PostgresServer) -> None:
    settings = settings_for(own_postgres.url)
    await migrate_database(settings, url=own_postgres.url)
    async with running(create_app(settings)) as client:
        assert (await client.get("/health")).json()["database"]["status"] == "ok"
        own_postgres.stop()
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["database"]["status"] == "down"
        own_postgres.start()
        assert (await client.get("/health")).json()["status"] == "ok"


@pytest.mark.kafka
async def test_health_reports_the_broker_truthfully(sqlite_url: str, kafka: KafkaBroker) -> None:
    async with running(create_app(settings_for(sqlite_url, kafka_bootstrap_servers=kafka.bootstrap))) as client:
        body = (await client.get("/health")).json()
    assert body["broker"]["status"] == "ok"
    assert body["status"] == "ok"
    dead = f"127.0.0.1:{free_port()}"
    async with running(create_app(settings_for(sqlite_url, kafka_bootstrap_servers=dead))) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["broker"]["status"] == "down"
    assert response.json()["status"] == "degraded"


async def test_openapi_docs_are_served(settings: Settings) -> None:
    async with running(create_app(settings)) as client:
        assert (await client.get("/docs")).status_code == 200
        assert "/health" in (await client.get("/openapi.json")).json()["paths"]
