#!/usr/bin/env bash
# Run the RATP Live Tracker stack.
#
#   ./serve.sh up [--workers N] [--demo] [--local]   start everything (Docker Compose, or local processes)
#   ./serve.sh down                                  stop everything this script started
#   ./serve.sh logs [service]                        follow logs (all services, or one)
#   ./serve.sh status                                what runs, where
#   ./serve.sh restart [service...]                  restart some services (default: all)
#   ./serve.sh scale --workers N                     resize the worker pool
#
# Docker Compose v2 is used when a Docker engine answers; otherwise (or with --local) the same services run as local
# processes on the embedded defaults (SQLite, database-backed queue), with pid files and logs under .run/.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/scripts/lib.sh"
cd "$repo_root"

# RUN_DIR, ENV_FILE and DATA_DIR let a second stack (scripts/run_e2e.sh) run beside the usual one.
run_dir="${RUN_DIR:-$repo_root/.run}"
env_file="${ENV_FILE:-$repo_root/.env}"
data_dir="${DATA_DIR:-$repo_root/.data}"
mode_file="$run_dir/mode"
# A second Compose stack (scripts/docker_stage.sh) runs as its own project, with its own containers and volumes.
compose_project="${COMPOSE_PROJECT_NAME:-ratp}"
demo_env_file="$repo_root/.run/demo.env"
compose_file="$repo_root/docker-compose.yml"
api_port="${API_PORT:-8000}"
frontend_port="${FRONTEND_PORT:-3000}"
stub_port="${STUB_UPSTREAM_PORT:-8765}"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

# --- mode ------------------------------------------------------------------------------------------------------------

docker_engine_up() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

# What docker-compose.yml reads from the engine it runs on: the socket (a `unix://` DOCKER_HOST or the current docker
# context, for rootless Docker or an engine elsewhere), the socket's group (the backend joins it instead of running as
# root; inside rootless Docker the socket belongs to root), and a CA bundle for the image builds.
compose_environment() {
  export COMPOSE_PROJECT_NAME="$compose_project"
  if [[ -z "${DOCKER_SOCKET:-}" ]]; then
    local host="${DOCKER_HOST:-$(docker context inspect -f '{{.Endpoints.docker.Host}}' 2>/dev/null || true)}"
    [[ "$host" == unix://* ]] && export DOCKER_SOCKET="${host#unix://}"
  fi
  local socket="${DOCKER_SOCKET:-/var/run/docker.sock}"
  if [[ -z "${DOCKER_SOCKET_GID:-}" && -S "$socket" ]]; then
    if docker info -f '{{.SecurityOptions}}' 2>/dev/null | grep -q rootless; then export DOCKER_SOCKET_GID=0
    else DOCKER_SOCKET_GID="$(stat -c %g "$socket")"; export DOCKER_SOCKET_GID; fi
  fi
  if [[ -z "${BUILD_CA_BUNDLE:-}" ]]; then
    if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then export BUILD_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
    else export BUILD_CA_BUNDLE=/dev/null; fi
  fi
}

compose() {
  if docker compose version >/dev/null 2>&1; then
    compose_environment
    docker compose -p "$compose_project" -f "$compose_file" "$@"
  elif command -v docker-compose >/dev/null; then
    die "only the legacy docker-compose 1.x was found; it is not supported. Install the Docker Compose v2 plugin
(Debian/Ubuntu: apt-get install docker-compose-plugin, from Docker's official repository), then check with
'docker compose version'. Or run without Docker: ./serve.sh up --local"
  else
    die "'docker compose' not found: install the Docker Compose v2 plugin, or run without Docker: ./serve.sh up --local"
  fi
}

current_mode() {
  if [[ -f "$mode_file" ]]; then cut -d' ' -f1 "$mode_file"; elif docker_engine_up; then echo docker; else echo local; fi
}

# --- configuration ---------------------------------------------------------------------------------------------------

env_value() { # the value of KEY in the env file, or empty
  [[ -f "$env_file" ]] || return 0
  grep -E "^$1=" "$env_file" | tail -n 1 | cut -d= -f2- || true
}

ensure_secret() { # NAME description: generate a value for NAME in .env when it is empty
  [[ -n "$(env_value "$1")" ]] && return 0
  local value
  value="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
  if grep -qE "^$1=" "$env_file"; then
    sed -i "s|^$1=.*|$1=$value|" "$env_file"
  else
    printf '%s=%s\n' "$1" "$value" >>"$env_file"
  fi
  say "generated $2: $1 in $env_file"
}

ensure_env_file() {
  if [[ ! -f "$env_file" ]]; then
    cp "$repo_root/.env.example" "$env_file"
    say "created $env_file from .env.example"
  fi
  ensure_secret SYSTEM_API_TOKEN "a system API key (send it as the X-API-Key header)"
  ensure_secret ADMIN_PASSWORD "a password for the dashboard's admin pages"
  ensure_secret ADMIN_SESSION_SECRET "the dashboard's session signing key"
  ensure_secret POSTGRES_PASSWORD "the Compose database's password"
}

# --- local processes -------------------------------------------------------------------------------------------------

pid_file() { echo "$run_dir/pids/$1.pid"; }
log_file() { echo "$run_dir/logs/$1.log"; }

# A pid file holds "pid start-time"; a process only counts as ours when both still match (no pid reuse).
proc_start_time() { ps -o lstart= -p "$1" 2>/dev/null | tr -s ' ' || true; }

service_pid() {
  local file
  file="$(pid_file "$1")"
  [[ -f "$file" ]] || return 1
  local pid started
  read -r pid started <"$file" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(proc_start_time "$pid" | base64 -w0)" == "$started" ]] || return 1
  echo "$pid"
}

start_process() { # name command...
  local name="$1"; shift
  if service_pid "$name" >/dev/null; then
    say "  $name already running (pid $(service_pid "$name"))"
    return 0
  fi
  mkdir -p "$run_dir/pids" "$run_dir/logs"
  # setsid: the service gets its own process group, so stopping it also stops its children.
  setsid "$@" >>"$(log_file "$name")" 2>&1 </dev/null &
  local pid=$!
  sleep 0.2
  echo "$pid $(proc_start_time "$pid" | base64 -w0)" >"$(pid_file "$name")"
  say "  started $name (pid $pid, log .run/logs/$name.log)"
}

stop_process() {
  local name="$1" pid
  if ! pid="$(service_pid "$name")"; then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  # The worker supervisor lets its workers finish in-flight tasks (TASK_TIMEOUT_SECONDS + 10 s): give it the time.
  local tenths=300
  [[ "$name" == worker ]] && tenths=900
  if [[ "$name" == worker ]]; then kill -TERM "$pid" 2>/dev/null || true
  else kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; fi
  for _ in $(seq 1 "$tenths"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "  $name did not stop in time; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  say "  stopped $name"
}

wait_http() { # url seconds name
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  say "$3 did not answer at $1 within $2 s; last log lines:"
  tail -n 30 "$(log_file "$3")" >&2 || true
  return 1
}

local_services() { # in start order; names match the Docker Compose services
  local demo="$1"
  [[ "$demo" == demo ]] && echo stub-upstream
  echo backend
  echo scheduler
  echo worker
  [[ -f "$repo_root/frontend/package.json" ]] && echo frontend
  return 0
}

local_env() { # environment for every local service: the env file's settings, then what serve.sh decides
  local demo="$1"
  grep -E '^[A-Z][A-Z0-9_]*=.' "$env_file" || true
  echo "SETTINGS_ENV_FILES=false"
  echo "DATA_DIR=$data_dir"
  echo "PYTHONPATH=$repo_root"
  echo "PYTHONUNBUFFERED=1"
  # Local processes are scaled by the local supervisor, even on a machine where a Docker engine also answers.
  echo "WORKER_SCALE_BACKEND=local"
  if [[ "$demo" == demo ]]; then
    echo "DEMO_MODE=true"
    echo "PRIM_API_KEY=demo-replay"
    echo "PRIM_BASE_URL=http://127.0.0.1:$stub_port/marketplace"
    echo "RATP_BASE_URL=http://127.0.0.1:$stub_port"
    echo "VMTR_SOCKET_URL=ws://127.0.0.1:$stub_port/socket.io/"
    echo "PLAYWRIGHT_SEEDING_ENABLED=false"
  fi
}

start_local_service() {
  local name="$1" demo="$2" workers="${3:-}"
  local -a env_args
  mapfile -t env_args < <(local_env "$demo")
  case "$name" in
    stub-upstream)
      start_process "$name" env "${env_args[@]}" "$python_bin" -m backend.devtools.upstream --host 127.0.0.1 --port "$stub_port"
      wait_http "http://127.0.0.1:$stub_port/__stub/stats" 30 "$name" ;;
    backend)
      start_process "$name" env "${env_args[@]}" "$python_bin" -m uvicorn backend.main:app --host 127.0.0.1 --port "$api_port"
      wait_http "http://127.0.0.1:$api_port/health" 60 "$name" ;;
    scheduler)
      start_process "$name" env "${env_args[@]}" "$python_bin" -m backend.scheduler ;;
    worker)
      # The supervisor owns the worker processes and keeps their number at the desired count (scale endpoint).
      local -a count_args=()
      [[ -n "$workers" ]] && count_args=(--workers "$workers")
      start_process "$name" env "${env_args[@]}" "$python_bin" -m backend.scaling.supervisor "${count_args[@]}" ;;
    frontend)
      ensure_frontend_build
      start_process "$name" env "BACKEND_URL=http://127.0.0.1:$api_port" "SYSTEM_API_KEY=$(env_value SYSTEM_API_TOKEN)" \
        "ADMIN_PASSWORD=$(env_value ADMIN_PASSWORD)" "ADMIN_SESSION_SECRET=$(env_value ADMIN_SESSION_SECRET)" \
        NODE_ENV=production bash -c "cd '$repo_root/frontend' && exec npx next start --hostname 127.0.0.1 --port $frontend_port"
      wait_http "http://127.0.0.1:$frontend_port/" 120 "$name" ;;
    *) die "unknown service '$name' (local services: $(local_services "$demo" | tr '\n' ' '))" ;;
  esac
}

# npm packages and a production build of the dashboard, made again only when its sources changed.
ensure_frontend_build() {
  command -v npm >/dev/null || die "npm (Node.js 20+) is needed for the dashboard"
  local frontend="$repo_root/frontend"
  if [[ ! -d "$frontend/node_modules" || "$frontend/package-lock.json" -nt "$frontend/node_modules/.package-lock.json" ]]; then
    say "installing the dashboard's npm packages"
    (cd "$frontend" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
  fi
  local stamp
  stamp="$(cd "$frontend" && { find app components lib public middleware.ts next.config.* package.json package-lock.json \
    -type f 2>/dev/null || true; } | sort | xargs cat 2>/dev/null | sha256sum | cut -c1-16)"
  if [[ ! -f "$frontend/.next/BUILD_ID" || "$(cat "$frontend/.next/.source-stamp" 2>/dev/null)" != "$stamp" ]]; then
    say "building the dashboard (first run, or its sources changed)"
    (cd "$frontend" && NEXT_TELEMETRY_DISABLED=1 npm run build >"$run_dir/logs/frontend-build.log" 2>&1) \
      || { tail -n 30 "$run_dir/logs/frontend-build.log" >&2; die "dashboard build failed (.run/logs/frontend-build.log)"; }
    echo "$stamp" >"$frontend/.next/.source-stamp"
  fi
}

check_ports_free() {
  local demo="$1" name port
  for name in $(local_services "$demo"); do
    case "$name" in
      backend) port="$api_port" ;;
      frontend) port="$frontend_port" ;;
      stub-upstream) port="$stub_port" ;;
      *) continue ;;
    esac
    if ! service_pid "$name" >/dev/null && port_in_use "$port"; then
      die "port $port (for $name) is already in use by another program; stop it or set ${name^^}_PORT"
    fi
  done
}

local_up() {
  local workers="$1" demo="$2"
  ensure_venv
  ensure_env_file
  mkdir -p "$run_dir/logs" "$run_dir/pids"
  echo "local $demo $workers" >"$mode_file"
  check_ports_free "$demo"
  say "applying database migrations and the line catalogue (the migrate step)"
  local -a env_args
  mapfile -t env_args < <(local_env "$demo")
  env "${env_args[@]}" "$python_bin" -m backend.migrate >>"$run_dir/logs/migrate.log" 2>&1 \
    || { tail -n 20 "$run_dir/logs/migrate.log" >&2; die "the migrate step failed (log: .run/logs/migrate.log)"; }
  say "starting local services"
  local name
  for name in $(local_services "$demo"); do start_local_service "$name" "$demo" "$workers"; done
  say ""
  say "RATP Live Tracker is up (local processes, $workers workers$([[ "$demo" == demo ]] && echo ', demo: replayed data')):"
  if service_pid frontend >/dev/null; then
    say "  dashboard:     http://127.0.0.1:$frontend_port"
    say "  orchestrator:  http://127.0.0.1:$frontend_port/admin/orchestrator (password: ADMIN_PASSWORD in .env)"
  fi
  say "  API docs:      http://127.0.0.1:$api_port/docs"
  say "  health:        http://127.0.0.1:$api_port/health"
  say "  system API key: SYSTEM_API_TOKEN in .env (X-API-Key header)"
  say "  logs: ./serve.sh logs [service]   status: ./serve.sh status   stop: ./serve.sh down"
}

local_down() {
  local name demo=live
  [[ -f "$mode_file" ]] && read -r _ demo _ <"$mode_file"
  # Reverse start order (dashboard and workers before what they depend on), then anything else we started.
  for name in $(local_services "$demo" | tac); do stop_process "$name"; done
  for file in "$run_dir"/pids/*.pid; do
    [[ -e "$file" ]] || continue
    stop_process "$(basename "$file" .pid)"
  done
  rm -f "$mode_file"
}

local_status() {
  local name pid
  [[ -f "$mode_file" ]] || { say "not running"; return 0; }
  read -r _ demo workers <"$mode_file"
  printf '%-16s %-8s %s\n' SERVICE PID STATE
  for name in $(local_services "$demo"); do
    if pid="$(service_pid "$name")"; then printf '%-16s %-8s %s\n' "$name" "$pid" running
    else printf '%-16s %-8s %s\n' "$name" - stopped; fi
  done
}

local_logs() {
  mkdir -p "$run_dir/logs"
  if [[ -n "${1:-}" ]]; then
    [[ -f "$(log_file "$1")" ]] || die "no log for '$1' (have: $(ls "$run_dir/logs" | sed 's/\.log$//' | tr '\n' ' '))"
    tail -n 100 -F "$(log_file "$1")"
  else
    tail -n 20 -F "$run_dir"/logs/*.log
  fi
}

# The sources of every backend container in demo mode: the stub-upstream service (docker-compose.yml, profile demo).
compose_demo_env() {
  echo "DEMO_MODE=true"
  echo "PRIM_API_KEY=demo-replay"
  echo "PRIM_BASE_URL=http://stub-upstream:8765/marketplace"
  echo "RATP_BASE_URL=http://stub-upstream:8765"
  echo "VMTR_SOCKET_URL=ws://stub-upstream:8765/socket.io/"
  echo "PLAYWRIGHT_SEEDING_ENABLED=false"
}

# Stop and remove the containers with their anonymous volumes (`rm -v`: the images declare VOLUMEs), then the
# network; the named volumes (db-data, kafka-data) stay. --profile demo: the stub upstream goes too.
compose_down() {
  compose --profile demo rm --stop --force -v
  compose --profile demo down --remove-orphans
  rm -f "$mode_file" "$demo_env_file"
}

# --- commands --------------------------------------------------------------------------------------------------------

cmd_up() {
  local workers="" demo="" force_local=""
  while (($#)); do
    case "$1" in
      --workers) workers="${2:-}"; shift 2 ;;
      --workers=*) workers="${1#*=}"; shift ;;
      --demo) demo=demo; shift ;;
      --local) force_local=1; shift ;;
      -h|--help) usage ;;
      *) die "unknown option '$1' for up (see ./serve.sh --help)" ;;
    esac
  done
  workers="${workers:-$(env_value DEFAULT_WORKER_COUNT)}"
  workers="${workers:-16}"
  [[ "$workers" =~ ^[0-9]+$ ]] || die "--workers takes a whole number, not '$workers'"
  if [[ -z "$force_local" ]] && docker_engine_up; then
    ensure_env_file
    mkdir -p "$run_dir"
    echo "docker ${demo:-live} $workers" >"$mode_file"
    local -a profile=()
    if [[ "$demo" == demo ]]; then
      mkdir -p "$(dirname "$demo_env_file")"
      compose_demo_env >"$demo_env_file"
      profile=(--profile demo)
    else
      rm -f "$demo_env_file"
    fi
    compose "${profile[@]}" up -d --build --scale "worker=$workers"
  else
    [[ -z "$force_local" ]] && say "no Docker engine reachable: running the services as local processes"
    local_up "$workers" "${demo:-live}"
  fi
}

cmd_scale() {
  local workers=""
  while (($#)); do
    case "$1" in
      --workers) workers="${2:-}"; shift 2 ;;
      --workers=*) workers="${1#*=}"; shift ;;
      *) die "unknown option '$1' for scale (usage: ./serve.sh scale --workers N)" ;;
    esac
  done
  [[ "$workers" =~ ^[0-9]+$ ]] || die "usage: ./serve.sh scale --workers N (a whole number)"
  if [[ "$(current_mode)" == docker ]]; then
    # --no-deps: only the workers change (the migrate step and the rest stay as they are).
    compose up -d --no-deps --no-build --no-recreate --scale "worker=$workers" worker
    sed -i "s/^\(docker [a-z]*\) [0-9]*$/\1 $workers/" "$mode_file"
    return
  fi
  service_pid backend >/dev/null || die "the stack is not running: ./serve.sh up first"
  local answer
  answer="$(curl -sS -X POST "http://127.0.0.1:$api_port/api/system/workers/scale" \
    -H "X-API-Key: $(env_value SYSTEM_API_TOKEN)" -H 'Content-Type: application/json' \
    -d "{\"count\": $workers}" -w '\n%{http_code}')" || die "the API did not answer"
  local code="${answer##*$'\n'}" body="${answer%$'\n'*}"
  [[ "$code" == 2* ]] || die "scaling failed (HTTP $code): $body"
  say "$body"
  sed -i "s/^\(local [a-z]*\) [0-9]*$/\1 $workers/" "$mode_file"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  up) cmd_up "$@" ;;
  down) if [[ "$(current_mode)" == docker ]]; then compose_down; else local_down; fi ;;
  logs) if [[ "$(current_mode)" == docker ]]; then compose logs -f "$@"; else local_logs "$@"; fi ;;
  status) if [[ "$(current_mode)" == docker ]]; then compose ps; else local_status; fi ;;
  restart)
    if [[ "$(current_mode)" == docker ]]; then compose restart "$@"
    else
      [[ -f "$mode_file" ]] || die "not running: ./serve.sh up first"
      read -r _ demo _ <"$mode_file"
      services=("$@"); ((${#services[@]})) || mapfile -t services < <(local_services "$demo")
      for name in "${services[@]}"; do stop_process "$name"; start_local_service "$name" "$demo"; done
    fi ;;
  scale) cmd_scale "$@" ;;
  -h|--help|help|"") usage ;;
  *) say "unknown command '$cmd'"; usage 2 ;;
esac
