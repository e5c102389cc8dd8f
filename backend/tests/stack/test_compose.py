"""docker-compose.yml is kept true to the code: parsed and checked against the settings and entry points it runs.

These tests read the file; scripts/docker_stage.sh (the last stage of ./scripts/test.sh) runs it on a real engine.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from backend.config import DEFAULT_SCALE_COMMAND, REPO_DIR, Settings

COMPOSE = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
BACKEND_SERVICES = ("migrate", "backend", "scheduler", "worker")


def test_the_stack_has_every_service_of_the_guide() -> None:
    assert set(SERVICES) == {"kafka", "db", "migrate", "backend", "scheduler", "worker", "frontend", "stub-upstream"}
    assert COMPOSE["name"] == "ratp"
    assert SERVICES["stub-upstream"]["profiles"] == ["demo"]
    assert "ports" not in SERVICES["stub-upstream"]


@pytest.mark.parametrize("name", BACKEND_SERVICES)
def test_backend_commands_run_real_entry_points(name: str) -> None:
    command = SERVICES[name]["command"]
    if command[:2] == ["python", "-m"]:
        module = command[2]
        assert importlib.util.find_spec(module) is not None, module
        assert module in {"backend.migrate", "backend.scheduler", "backend.workers.worker"}
    else:
        assert command[0] == "uvicorn"
        assert command[1] == "backend.main:app"


@pytest.mark.parametrize("name", BACKEND_SERVICES)
def test_backend_environment_names_only_settings_the_code_reads(name: str) -> None:
    environment = SERVICES[name]["environment"]
    unknown = {key for key in environment if key.lower() not in Settings.model_fields}
    assert unknown == set()
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@db:5432/" in environment["DATABASE_URL"]


def test_secrets_have_no_unsafe_defaults() -> None:
    text = (REPO_DIR / "docker-compose.yml").read_text()
    for variable in ("SYSTEM_API_TOKEN", "POSTGRES_PASSWORD", "ADMIN_PASSWORD"):
        uses = re.findall(r"\$\{" + variable + r"([^}]*)\}", text)
        assert uses, variable
        assert all(use.startswith(":?") for use in uses), (variable, uses)


def test_the_worker_service_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "WORKER_ID" not in worker["environment"]
    assert "ports" not in worker
    assert worker["stop_grace_period"]


@pytest.mark.parametrize("source", ["default", "compose"])
def test_the_scale_command_targets_this_project_and_the_mounted_file(source: str) -> None:
    environment = SERVICES["backend"]["environment"]
    template = DEFAULT_SCALE_COMMAND if source == "default" else environment["WORKER_SCALE_COMMAND"]
    argv = shlex.split(template)
    assert argv[:2] == ["docker", "compose"]
    project = argv[argv.index("-p") + 1]
    assert project == (COMPOSE["name"] if source == "default" else "${COMPOSE_PROJECT_NAME:-ratp}")
    compose_path = argv[argv.index("-f") + 1]
    mounts = SERVICES["backend"]["volumes"]
    mounted_repo = next(m.split(":")[1] for m in mounts if m.startswith("./:"))
    assert compose_path == f"{mounted_repo}/docker-compose.yml"
    assert "${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock" in mounts
    # Only the workers change: no rebuild, no recreation of the running ones, no dependency (migrate) started again.
    assert {"--no-deps", "--no-build", "--no-recreate"} <= set(argv)
    assert argv[argv.index("--scale") + 1] == "worker={count}"
    assert argv[-1] == "worker"
    assert environment["WORKER_SCALE_BACKEND"] == "docker"


def test_the_backend_reaches_the_socket_through_its_group_not_as_root() -> None:
    backend = SERVICES["backend"]
    assert "user" not in backend
    assert backend["group_add"] == ["${DOCKER_SOCKET_GID:-0}"]
    dockerfile = (REPO_DIR / "backend/Dockerfile").read_text()
    assert re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)[-1] == "ratp"


def test_images_built_here_are_never_pulled() -> None:
    for name in ("migrate", "frontend"):
        assert SERVICES[name]["pull_policy"] == "build", name
    for name in ("backend", "scheduler", "worker", "stub-upstream"):
        assert SERVICES[name]["image"] == SERVICES["migrate"]["image"], name
        assert SERVICES[name]["pull_policy"] == "never", name


def test_kafka_keeps_its_log_in_the_volume() -> None:
    kafka = SERVICES["kafka"]
    data_mount = next(m.split(":")[1] for m in kafka["volumes"] if m.startswith("kafka-data:"))
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == data_mount


def test_published_ports_are_on_loopback_by_default() -> None:
    for name in ("backend", "frontend"):
        for port in SERVICES[name]["ports"]:
            assert port.startswith("${PUBLISH_ADDRESS:-127.0.0.1}:"), (name, port)


def test_healthchecks_gate_the_startup_order() -> None:
    for name in ("db", "kafka", "backend"):
        assert "healthcheck" in SERVICES[name], name
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("backend", "scheduler", "worker"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert SERVICES[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert SERVICES["frontend"]["depends_on"]["backend"]["condition"] == "service_healthy"


def test_postgres_and_kafka_are_not_published_on_the_host() -> None:
    assert "ports" not in SERVICES["db"]
    assert "ports" not in SERVICES["kafka"]


def test_kafka_never_auto_creates_topics_and_advertises_its_service_name() -> None:
    environment = SERVICES["kafka"]["environment"]
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "PLAINTEXT://kafka:9092" in environment["KAFKA_ADVERTISED_LISTENERS"]


def test_the_dashboard_gets_the_key_on_its_server_side_only() -> None:
    environment = SERVICES["frontend"]["environment"]
    assert not any(key.startswith("NEXT_PUBLIC_") for key in environment)
    assert environment["BACKEND_URL"] == "http://backend:8000"


@pytest.mark.parametrize(
    ("dockerfile", "service", "arguments"),
    [
        ("backend/Dockerfile", "migrate", {"PYTHON_IMAGE": "python:3.11-slim", "DOCKER_CLI_IMAGE": "docker:27-cli"}),
        ("frontend/Dockerfile", "frontend", {"NODE_IMAGE": "node:20-bookworm-slim"}),
    ],
)
def test_base_images_are_build_arguments_with_the_official_defaults(
    dockerfile: str, service: str, arguments: dict[str, str]
) -> None:
    text = (REPO_DIR / dockerfile).read_text()
    declared = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.MULTILINE))
    assert declared == arguments
    assert all(line.split()[1].startswith("${") for line in re.findall(r"^FROM .*", text, re.MULTILINE))
    build = SERVICES[service]["build"]
    assert build["args"] == {name: f"${{{name}:-{default}}}" for name, default in arguments.items()}
    assert build["secrets"] == ["build_ca"]
    # The stand-ins of scripts/docker_images.sh are made under these very tags.
    images_script = (REPO_DIR / "scripts/docker_images.sh").read_text()
    assert all(f'"{default}"' in images_script for default in arguments.values())


@pytest.mark.parametrize("dockerfile", ["backend/Dockerfile", "frontend/Dockerfile"])
def test_images_build_from_files_that_exist(dockerfile: str) -> None:
    text = (REPO_DIR / dockerfile).read_text()
    for source in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+)", text, re.MULTILINE):
        assert (REPO_DIR / source).exists(), source
    assert Path(REPO_DIR / dockerfile).is_file()
