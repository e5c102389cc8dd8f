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

run_dir="$repo_root/.run"
mode_file="$run_dir/mode"
compose_project="ratp"
compose_file="$repo_root/docker-compose.yml"
api_port="${API_PORT:-8000}"
frontend_port="${FRONTEND_PORT:-3000}"
stub_port="${STUB_UPSTREAM_PORT:-8765}"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

# --- mode ------------------------------------------------------------------------------------------------------------

docker_engine_up() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

compose() {
  if docker compose version >/dev/null 2>&1; then
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

env_value() { # the value of KEY in .env, or empty
  [[ -f "$repo_root/.env" ]] || return 0
  grep -E "^$1=" "$repo_root/.env" | tail -n 1 | cut -d= -f2- || true
}

ensure_env_file() {
  if [[ ! -f "$repo_root/.env" ]]; then
    cp "$repo_root/.env.example" "$repo_root/.env"
    say "created .env from .env.example"
  fi
  if [[ -z "$(env_value SYSTEM_API_TOKEN)" ]]; then
    local token
    token="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    sed -i "s|^SYSTEM_API_TOKEN=.*|SYSTEM_API_TOKEN=$token|" "$repo_root/.env"
    say "generated a system API key: SYSTEM_API_TOKEN in $repo_root/.env (send it as the X-API-Key header)"
  fi
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
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 ${STOP_TIMEOUT_TENTHS:-300}); do
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

local_services() { # in start order
  local demo="$1"
  [[ "$demo" == demo ]] && echo stub-upstream
  echo api
}

local_env() { # environment for every local service
  local demo="$1"
  echo "PYTHONPATH=$repo_root"
  echo "PYTHONUNBUFFERED=1"
  if [[ "$demo" == demo ]]; then
    echo "DEMO_MODE=true"
    echo "PRIM_API_KEY=demo-replay"
    echo "PRIM_BASE_URL=http://127.0.0.1:$stub_port/prim"
    echo "RATP_BASE_URL=http://127.0.0.1:$stub_port/ratp"
    echo "VMTR_SOCKET_URL=ws://127.0.0.1:$stub_port/socket.io/"
  fi
}

start_local_service() {
  local name="$1" demo="$2"
  local -a env_args
  mapfile -t env_args < <(local_env "$demo")
  case "$name" in
    stub-upstream)
      start_process "$name" env "${env_args[@]}" "$python_bin" -m backend.devtools.upstream --host 127.0.0.1 --port "$stub_port"
      wait_http "http://127.0.0.1:$stub_port/__stub/stats" 30 "$name" ;;
    api)
      start_process "$name" env "${env_args[@]}" "$python_bin" -m uvicorn backend.main:app --host 127.0.0.1 --port "$api_port"
      wait_http "http://127.0.0.1:$api_port/health" 60 "$name" ;;
    *) die "unknown service '$name' (local services: $(local_services "$demo" | tr '\n' ' '))" ;;
  esac
}

check_ports_free() {
  local demo="$1" name port
  for name in $(local_services "$demo"); do
    case "$name" in
      api) port="$api_port" ;;
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
  say "applying database migrations"
  env $(local_env "$demo") "$python_bin" -m backend.db upgrade >>"$run_dir/logs/migrate.log" 2>&1 \
    || { tail -n 20 "$run_dir/logs/migrate.log" >&2; die "migrations failed (log: .run/logs/migrate.log)"; }
  say "starting local services"
  local name
  for name in $(local_services "$demo"); do start_local_service "$name" "$demo"; done
  say ""
  say "RATP Live Tracker is up (local processes$([[ "$demo" == demo ]] && echo ', demo: replayed data')):"
  say "  API and docs:  http://127.0.0.1:$api_port/docs"
  say "  health:        http://127.0.0.1:$api_port/health"
  say "  system API key: SYSTEM_API_TOKEN in .env"
}

local_down() {
  local name
  for file in "$run_dir"/pids/*.pid; do
    [[ -e "$file" ]] || continue
    name="$(basename "$file" .pid)"
    stop_process "$name"
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
    echo "docker $demo $workers" >"$mode_file"
    compose up -d --build --scale "worker=$workers"
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
    compose up -d --no-build --no-recreate --scale "worker=$workers" worker
  else
    die "the local worker pool arrives with the task pipeline; nothing to scale yet"
  fi
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  up) cmd_up "$@" ;;
  down) if [[ "$(current_mode)" == docker ]]; then compose down; rm -f "$mode_file"; else local_down; fi ;;
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
