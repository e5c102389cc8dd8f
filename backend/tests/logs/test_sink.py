"""The logging setup and its database sink, in this process: what a record becomes, levels, idempotence, the stdout
line, values no database would take, and no feedback loop from the writer's own SQL."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from backend.db.engine import Database
from backend.logs import bind_log_context, configure_logging
from backend.logs.records import StdoutHandler
from backend.logs.sink import DatabaseLogHandler
from backend.tests.logs.conftest import all_logs, count_logs
from backend.tests.support.databases import settings_for

logger = logging.getLogger("backend.tests.logs.sink")


def _our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, StdoutHandler | DatabaseLogHandler)]


async def test_a_record_lands_with_its_service_level_extras_and_bound_context(
    database_url: str, database: Database
) -> None:
    handle = configure_logging(settings_for(database_url, centralized_logging_enabled=True), "worker")
    with bind_log_context(worker_id="worker-7", task_id="bound-task"):
        logger.info("fetched %s in %d ms", "metro:1", 42, extra={"task_id": "task-1", "line_id": "metro:1"})
        try:
            raise RuntimeError("upstream said no")
        except RuntimeError:
            logger.exception("fetch failed", extra={"line_id": "rer:A"})
    assert handle.flush(10)

    info, error = await all_logs(database)
    assert (info.service, info.level, info.level_no, info.logger) == ("worker", "INFO", 20, logger.name)
    assert info.message == "fetched metro:1 in 42 ms"
    # The explicit extra wins over the bound field of the same name.
    assert info.extra == {"worker_id": "worker-7", "task_id": "task-1", "line_id": "metro:1"}
    assert info.pid == os.getpid()
    assert info.host
    assert (error.level, error.level_no, error.message) == ("ERROR", 40, "fetch failed")
    assert error.extra["line_id"] == "rer:A"
    assert "RuntimeError: upstream said no" in error.extra["exception"]
    assert "Traceback" in error.extra["exception"]
    assert handle.stats() == {
        "logs_sink": "ok",
        "logs_written": 2,
        "logs_dropped": 0,
        "logs_failed": 0,
        "logs_queue_depth": 0,
        "logs_queue_capacity": 1000,
    }


async def test_configuring_twice_adds_no_second_pair_of_handlers(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(sqlite_url, centralized_logging_enabled=True)
    first = configure_logging(settings, "scheduler")
    second = configure_logging(settings, "scheduler")
    assert first is second
    assert len(_our_handlers()) == 2

    logger.warning("only once")
    assert first.flush(10)
    database = Database(settings, "tests")
    try:
        assert await count_logs(database, message="only once") == 1
    finally:
        await database.dispose()
    assert capsys.readouterr().out.count("only once") == 1

    # Other settings replace the setup, still with one pair of handlers.
    third = configure_logging(
        settings_for(sqlite_url, centralized_logging_enabled=True, log_level="DEBUG"), "scheduler"
    )
    assert third is not first
    assert first.closed
    assert len(_our_handlers()) == 2


def test_a_console_handler_from_basic_config_is_replaced_not_doubled(sqlite_url: str) -> None:
    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # what logging.basicConfig() installs
    root.addHandler(console)
    configure_logging(settings_for(sqlite_url), "scheduler")
    assert console not in root.handlers
    assert len(_our_handlers()) == 1


def test_unknown_service_names_are_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        configure_logging(settings_for(sqlite_url), "wrker")


async def test_stdout_gets_one_line_per_record_with_key_value_extras(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(settings_for(sqlite_url), "worker")
    with bind_log_context(request_id="req-1"):
        try:
            raise KeyError("boom")
        except KeyError:
            logger.exception("line %s failed", "metro:1", extra={"line_id": "metro:1", "note": "two words"})
    lines = [line for line in capsys.readouterr().out.splitlines() if "failed" in line]
    assert len(lines) == 1
    line = lines[0]
    assert " ERROR worker backend.tests.logs.sink: line metro:1 failed " in line
    assert "request_id=req-1" in line
    assert "line_id=metro:1" in line
    assert 'note="two words"' in line
    assert 'exception="Traceback' in line
    assert "KeyError: 'boom'" in json.loads(line.split("exception=", 1)[1])


async def test_disabled_centralized_logging_keeps_stdout_only(
    database_url: str, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = configure_logging(settings_for(database_url, centralized_logging_enabled=False), "api")
    logger.warning("stdout only")
    assert handle.stats()["logs_sink"] == "disabled"
    assert not any(isinstance(h, DatabaseLogHandler) for h in _our_handlers())
    await asyncio.sleep(0.5)
    assert await count_logs(database) == 0
    assert "stdout only" in capsys.readouterr().out


async def test_centralized_log_level_is_the_minimum_persisted(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(
        sqlite_url, centralized_logging_enabled=True, centralized_log_level="WARNING", log_level="DEBUG"
    )
    handle = configure_logging(settings, "worker")
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warning line")
    logger.critical("critical line")
    assert handle.flush(10)
    database = Database(settings, "tests")
    try:
        assert [row.message for row in await all_logs(database)] == ["warning line", "critical line"]
    finally:
        await database.dispose()
    out = capsys.readouterr().out
    assert "debug line" in out
    assert "info line" in out


async def test_sqlalchemy_echo_at_debug_does_not_feed_the_table_with_its_own_inserts(
    database_url: str, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(
        database_url, centralized_logging_enabled=True, centralized_log_level="DEBUG", log_level="DEBUG"
    )
    handle = configure_logging(settings, "worker")
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    for number in range(3):
        logger.debug("application record %d", number)
    assert handle.flush(10)
    # Several writer cycles: any record about its own INSERTs would be written by now, and would beget more.
    await asyncio.sleep(2.0)
    assert handle.flush(10)

    rows = await all_logs(database)
    assert [row.message for row in rows] == [f"application record {n}" for n in range(3)]
    assert handle.written == 3
    # The echo was really on: the writer's statements were printed on stdout.
    assert "INSERT INTO system_logs" in capsys.readouterr().out


async def test_values_no_database_takes_are_stored_in_a_safe_form(database_url: str, database: Database) -> None:
    handle = configure_logging(settings_for(database_url, centralized_logging_enabled=True), "worker")

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    logger.info(
        "nul \x00 inside",
        extra={
            "nan": float("nan"),
            "amount": Decimal("1.50"),
            "when": time.gmtime(0),
            "object": Opaque(),
            "nested": {"a": {"b": {"c": {"d": {"e": "deep"}}}}},
            "raw": b"\x00bytes",
            "text_with_nul": "a\x00b",
        },
    )
    # A broken format string is counted as failed, never raised to the caller.
    (sink,) = [h for h in _our_handlers() if isinstance(h, DatabaseLogHandler)]
    sink.handle(logging.LogRecord(logger.name, logging.INFO, __file__, 1, "%d is not a number", ("x",), None))
    assert handle.flush(10)

    (row,) = await all_logs(database)
    assert row.message == "nul \ufffd inside"
    assert row.extra["nan"] == "nan"
    assert row.extra["amount"] == "1.50"
    assert row.extra["object"] == "<opaque>"
    assert row.extra["text_with_nul"] == "a\ufffdb"
    assert "\x00" not in json.dumps(row.extra)
    assert handle.failed == 1


@pytest.fixture
def stalled_database_url() -> Iterator[str]:
    """A Postgres URL whose server accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(100)
        yield f"postgresql+asyncpg://ratp:ratp@127.0.0.1:{server.getsockname()[1]}/ratp"


def test_a_burst_into_a_tiny_queue_with_a_stalled_database_drops_and_counts_without_blocking(
    stalled_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(
        stalled_database_url, centralized_logging_enabled=True, centralized_log_queue_size=10, log_level="WARNING"
    )
    handle = configure_logging(settings, "worker")
    burst = 100_000
    started = time.perf_counter()
    for number in range(burst):
        logger.info("burst %d", number)
    elapsed = time.perf_counter() - started

    stats = handle.stats()
    assert stats["logs_written"] == 0
    assert stats["logs_queue_depth"] <= 10
    assert stats["logs_dropped"] >= burst - 10
    assert stats["logs_dropped"] + stats["logs_queue_depth"] == burst

    started_close = time.perf_counter()
    handle.close(timeout=1.0)
    close_elapsed = time.perf_counter() - started_close
    assert handle.dropped + handle.failed == burst
    out = capsys.readouterr().out
    assert f"dropped {handle.dropped} log records" in out
    print(f"{burst} calls in {elapsed:.3f} s ({elapsed / burst * 1e9:.0f} ns/call); close took {close_elapsed:.2f} s")
