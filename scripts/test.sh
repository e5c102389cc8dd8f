#!/usr/bin/env bash
# The one command that runs every test: ./scripts/test.sh
#
# Bootstraps what is missing (backend virtualenv, Chromium, npm packages, Kafka jars), starts a throwaway PostgreSQL
# and a Kafka broker, runs ruff, mypy, the import contracts and pytest, the dashboard's type-check, lint, unit tests and bundle check, then
# the full-stack Playwright run (scripts/run_e2e.sh, local processes), and stops what it started. Last, the Docker
# stage (scripts/docker_stage.sh): the Compose stack on a real engine, started here when none answers and this is a
# Debian machine where we are root; RATP_TEST_DOCKER=0 skips it, and it says so in one line when no engine can be had.
# Extra arguments go to pytest and skip the frontend and e2e stages, e.g. ./scripts/test.sh -k migrations
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

started=()
cleanup() {
  local status=$?
  for service in "${started[@]}"; do
    case "$service" in
      postgres) PG_DIR="$services_dir/postgres" PG_PORT="$pg_port" "$repo_root/scripts/postgres.sh" destroy || true ;;
      kafka) KAFKA_HOME_DIR="$services_dir/kafka" KAFKA_PORT="$kafka_port" "$repo_root/scripts/kafka.sh" stop || true ;;
    esac
  done
  rm -rf "${services_dir:-/nonexistent}"
  exit "$status"
}
trap cleanup EXIT INT TERM

free_port() { "$python_bin" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

section() { printf '\n== %s ==\n' "$*"; }

section "bootstrap"
ensure_venv
ensure_chromium

services_dir="$(mktemp -d /tmp/ratp-test-services.XXXXXX)"
chmod 777 "$services_dir"
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  pg_port="$(free_port)"
  mkdir -p "$services_dir/postgres"
  chmod 777 "$services_dir/postgres"
  out="$(PG_DIR="$services_dir/postgres" PG_PORT="$pg_port" scripts/postgres.sh start)"
  started+=(postgres)
  export TEST_DATABASE_URL="${out#DATABASE_URL=}"
fi
if [[ -z "${TEST_KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  kafka_port="$(free_port)"
  out="$(KAFKA_HOME_DIR="$services_dir/kafka" KAFKA_PORT="$kafka_port" KAFKA_CONTROLLER_PORT="$(free_port)" scripts/kafka.sh start)"
  started+=(kafka)
  export TEST_KAFKA_BOOTSTRAP_SERVERS="${out#KAFKA_BOOTSTRAP_SERVERS=}"
fi
say "PostgreSQL: $TEST_DATABASE_URL"
say "Kafka:      $TEST_KAFKA_BOOTSTRAP_SERVERS"

cd "$backend_dir"
section "ruff"
venv/bin/ruff check . ../scripts
venv/bin/ruff format --check . ../scripts
section "mypy"
venv/bin/mypy .
section "import contracts (lint-imports, backend/pyproject.toml)"
PYTHONPATH=.. venv/bin/lint-imports --no-cache
section "pytest"
venv/bin/pytest "$@"
(($# == 0)) || exit 0

section "frontend: type-check, lint, unit tests, client bundle check"
cd "$repo_root/frontend"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
npm run type-check
npm run lint
npm test
npm run test:bundle

section "end to end: the stack in a browser"
cd "$repo_root"
# Local processes here: the Compose stack gets its own stage below.
E2E_DOCKER=never ./scripts/run_e2e.sh

section "Docker: the Compose stack on a real engine"
./scripts/docker_stage.sh
