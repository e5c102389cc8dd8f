"""Settings: every one is documented in both .env.example files, defaults work, bad values are clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.config import BACKEND_DIR, REPO_DIR, Settings


def _documented(path: str) -> set[str]:
    text = (REPO_DIR / path).read_text()
    return {match.group(1).lower() for match in re.finditer(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)}


# Read by docker-compose.yml, serve.sh and the dashboard; documented in the repository's .env.example only.
STACK_KEYS = {
    "postgres_user",
    "postgres_password",
    "postgres_db",
    "admin_password",
    "admin_session_secret",
    "dashboard_max_body_bytes",
    "api_port",
    "frontend_port",
}


@pytest.mark.parametrize("path", [".env.example", "backend/.env.example"])
def test_every_setting_has_a_commented_line_in_env_example(path: str) -> None:
    stack = STACK_KEYS if path == ".env.example" else set()
    assert set(Settings.model_fields) - _documented(path) == set()
    assert _documented(path) - set(Settings.model_fields) == stack
    lines = (REPO_DIR / path).read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?\s?[A-Z][A-Z0-9_]+=", line):
            previous = lines[index - 1]
            assert previous.startswith("#"), line
            assert not re.match(r"^#\s?[A-Z][A-Z0-9_]+=", previous), line


def test_defaults_work_without_any_configuration(tmp_path: object) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert not settings.uses_kafka
    assert settings.scheduler_interval_seconds == 120
    assert settings.default_worker_count == 16
    assert settings.vmtr_socket_enabled is True
    assert settings.centralized_logging_enabled is True
    assert settings.centralized_log_level == "INFO"
    assert settings.centralized_log_queue_size == 1000
    assert "{count}" in settings.worker_scale_command


def test_demo_mode_has_a_database_file_of_its_own(tmp_path: Path) -> None:
    live = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    demo = Settings(_env_file=None, data_dir=tmp_path, demo_mode=True)  # type: ignore[call-arg]
    assert live.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'ratp.sqlite3'}"
    assert demo.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'ratp-demo.sqlite3'}"
    shared = "postgresql+asyncpg://u:p@127.0.0.1:5432/ratp"
    assert Settings(_env_file=None, database_url=shared, demo_mode=True).resolved_database_url == shared  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("True", True), ("1", True), ("false", False), ("0", False)]
)
def test_booleans_accept_the_usual_spellings(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("VMTR_SOCKET_ENABLED", raw)
    assert Settings(_env_file=None).vmtr_socket_enabled is expected  # type: ignore[call-arg]


def test_bad_values_are_rejected_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTRALIZED_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError, match="centralized_log_level"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.delenv("CENTRALIZED_LOG_LEVEL")
    monkeypatch.setenv("WORKER_SCALE_COMMAND", "docker compose up")
    with pytest.raises(ValidationError, match="count"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_public_alias_of_the_system_key_is_refused_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXT_PUBLIC_SYSTEM_API_KEY", "a-secret")
    with pytest.raises(ValidationError, match=r"NEXT_PUBLIC_SYSTEM_API_KEY is refused.*Rename it to SYSTEM_API_TOKEN"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("NEXT_PUBLIC_SYSTEM_API_KEY", "")
    assert Settings(_env_file=None).effective_api_token == ""  # type: ignore[call-arg]


def test_backend_env_file_overrides_the_repository_one() -> None:
    files = Settings.model_config["env_file"]
    assert isinstance(files, tuple)
    assert files == (REPO_DIR / ".env", BACKEND_DIR / ".env")
