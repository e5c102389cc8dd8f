"""Helpers for the centralized logging tests: an isolated logging setup per test, rows inserted directly, the API
over ASGI, Python subprocesses that log as a given service, and polling until something shows up."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, insert, select

from backend.config import BACKEND_DIR, REPO_DIR
from backend.db.engine import WRITE_OPTIONS, Database
from backend.db.models import SystemLog
from backend.logs import setup as logs_setup

API_KEY = {"X-API-Key": "test-key"}
T = TypeVar("T")


@pytest.fixture(autouse=True)
def isolated_logging() -> Iterator[None]:
    """Each test starts without our handlers and leaves the root logger and library levels as it found them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ["sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg", "asyncio", "uvicorn"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    if logs_setup._active is not None:
        logs_setup._active.close(timeout=2.0)
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


async def count_logs(database: Database, **where: Any) -> int:
    query = select(func.count()).select_from(SystemLog)
    for column, value in where.items():
        query = query.where(getattr(SystemLog, column) == value)
    async with database.sessions() as session:
        return int(await session.scalar(query) or 0)


async def all_logs(database: Database) -> list[SystemLog]:
    async with database.sessions() as session:
        return list((await session.scalars(select(SystemLog).order_by(SystemLog.id))).all())


def log_row(
    message: str,
    *,
    created_at: dt.datetime,
    service: str = "worker",
    level: str = "INFO",
    logger: str = "backend.tests",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "created_at": created_at,
        "service": service,
        "level": level,
        "level_no": logging.getLevelName(level),
        "logger": logger,
        "message": message,
        "extra": extra or {},
        "host": "test-host",
        "pid": 1,
    }


async def insert_logs(database: Database, rows: list[dict[str, Any]]) -> None:
    async with database.engine.execution_options(**WRITE_OPTIONS).begin() as connection:
        await connection.execute(insert(SystemLog), rows)


def python_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a backend subprocess: this repository on the path, the given database, no .env surprises."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO_DIR),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "SYSTEM_API_TOKEN": "test-key",
        "CENTRALIZED_LOGGING_ENABLED": "true",
        **extra,
    }


def run_python(code: str, env: dict[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def start_python(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=BACKEND_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
