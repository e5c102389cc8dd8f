#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and local development, from Debian's installed server package.
#
#   scripts/postgres.sh start    initdb (first run) + pg_ctl start on a free loopback port; prints DATABASE_URL
#   scripts/postgres.sh stop     stop it (the data directory is kept for the next start)
#   scripts/postgres.sh destroy  stop it and delete its data
#   scripts/postgres.sh status
#
# Environment: PG_PORT (default 15432), PG_DIR (default .cache/postgres), PG_BIN (default: newest
# /usr/lib/postgresql/*/bin). Runs the server as the `postgres` system user when invoked as root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
pg_dir="${PG_DIR:-$root/.cache/postgres}"
data_dir="$pg_dir/data"
port="${PG_PORT:-15432}"
say() { printf 'postgres: %s\n' "$*" >&2; }

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [[ -z "$bin" ]]; then
    if command -v pg_ctl >/dev/null; then dirname "$(command -v pg_ctl)"; return; fi
    say "no PostgreSQL server found: install it (Debian: apt-get install postgresql) or set PG_BIN"
    exit 1
  fi
  echo "$bin"
}

bin="$(find_bin)"

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() { echo "postgresql+asyncpg://ratp:ratp@127.0.0.1:$port/ratp"; }

is_running() { [[ -f "$data_dir/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; }

start() {
  if is_running; then
    say "already running on 127.0.0.1:$port"
    echo "DATABASE_URL=$(url)"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    say "port $port is already in use by another process; set PG_PORT to a free port"
    exit 1
  fi
  mkdir -p "$pg_dir"
  if [[ "$(id -u)" == 0 ]]; then chown postgres "$pg_dir"; fi
  if [[ ! -f "$data_dir/PG_VERSION" ]]; then
    say "initialising a cluster in $data_dir"
    local pwfile="$pg_dir/.pw"
    echo "ratp" >"$pwfile"
    [[ "$(id -u)" == 0 ]] && chown postgres "$pwfile"
    as_owner "$bin/initdb" -D "$data_dir" -U ratp --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >>"$data_dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir'
max_connections = 300
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  as_owner "$bin/pg_ctl" -D "$data_dir" -o "-p $port" -l "$pg_dir/server.log" -w -t 60 start >/dev/null
  if ! PGPASSWORD=ratp "$bin/psql" -h 127.0.0.1 -p "$port" -U ratp -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='ratp'" | grep -q 1; then
    PGPASSWORD=ratp "$bin/psql" -h 127.0.0.1 -p "$port" -U ratp -d postgres -qc "CREATE DATABASE ratp" >/dev/null
  fi
  say "ready on 127.0.0.1:$port (data: $data_dir)"
  echo "DATABASE_URL=$(url)"
}

stop() {
  if is_running; then
    as_owner "$bin/pg_ctl" -D "$data_dir" -m fast -w stop >/dev/null
    say "stopped"
  else
    say "not running"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  destroy) stop; rm -rf "$pg_dir"; say "destroyed $pg_dir" ;;
  status) if is_running; then echo "running on 127.0.0.1:$port"; else echo "stopped"; exit 1; fi ;;
  url) url ;;
  *) echo "usage: $0 start|stop|destroy|status|url" >&2; exit 2 ;;
esac
