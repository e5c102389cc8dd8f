#!/usr/bin/env bash
# Full-stack verification: start the stack, run the dashboard's Playwright specs against it, tear it down.
#
# With a Docker engine: `serve.sh up --demo` on Docker Compose. Without one (as on CI machines): the same services as
# local processes on a throwaway SQLite database and ports of their own, fed by the stub upstream (replayed data),
# beside any stack already running. On failure the services' logs are kept in artifacts/e2e-logs and their tails
# printed. Screenshots (desktop and phone widths) go to artifacts/screenshots.
# E2E_STACK=running: run the specs against a stack already up (API_PORT, FRONTEND_PORT, ENV_FILE say where), which is
# neither started nor stopped here (scripts/docker_stage.sh, on Docker Compose).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/ratp-e2e.XXXXXX)"
artifacts="$repo_root/artifacts"
mkdir -p "$artifacts"
if [[ "${E2E_STACK:-}" == running ]]; then
  mode=running
elif export RUN_DIR="$work/run" ENV_FILE="$work/env" DATA_DIR="$work/data"; [[ "${E2E_DOCKER:-auto}" != never ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  mode=docker
  export ENV_FILE="$repo_root/.env" API_PORT=8000 FRONTEND_PORT=3000
else
  mode=local
  export API_PORT="$(free_port)" FRONTEND_PORT="$(free_port)" STUB_UPSTREAM_PORT="$(free_port)"
  # The stub's fault API, for the spec that makes every source fail (truth-under-failure.spec.ts).
  export E2E_STUB_URL="http://127.0.0.1:$STUB_UPSTREAM_PORT"
  cp .env.example "$ENV_FILE"
  # Quick cycles, heartbeats and traffic-feed reads so the specs see the fleet, fresh boards and a line's
  # disruptions within seconds.
  sed -i -e 's/^SCHEDULER_INTERVAL_SECONDS=.*/SCHEDULER_INTERVAL_SECONDS=30/' \
    -e 's/^WORKER_HEARTBEAT_SECONDS=.*/WORKER_HEARTBEAT_SECONDS=1/' \
    -e 's/^WORKER_CONCURRENCY=.*/WORKER_CONCURRENCY=2/' \
    -e 's/^PRIM_TRAFFIC_FEED_SECONDS=.*/PRIM_TRAFFIC_FEED_SECONDS=30/' \
    -e 's/^PRIM_DAILY_QUOTA_DISRUPTIONS=.*/PRIM_DAILY_QUOTA_DISRUPTIONS=100000/' "$ENV_FILE"
fi

status=1
finish() {
  if ((status != 0)); then
    rm -rf "$artifacts/e2e-logs"
    cp -r "$RUN_DIR/logs" "$artifacts/e2e-logs" 2>/dev/null || true
    say "e2e failed; service logs kept in artifacts/e2e-logs. Their last lines:"
    for log in "$artifacts"/e2e-logs/*.log; do
      [[ -f "$log" ]] || continue
      printf '\n--- %s ---\n' "$(basename "$log")" >&2
      tail -n 25 "$log" >&2
    done
  fi
  [[ "$mode" == running ]] || ./serve.sh down >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

say "== starting the stack ($mode)"
case "$mode" in
  docker) ./serve.sh up --demo --workers 2 ;;
  local) ./serve.sh up --local --demo --workers 2 ;;
  running) say "(already running: API on $API_PORT, dashboard on $FRONTEND_PORT)" ;;
esac
api="http://127.0.0.1:$API_PORT"

say "== waiting for live (replayed) departures"
deadline=$((SECONDS + 240))
until curl -fsS "$api/api/lines/metro/1" 2>/dev/null | grep -q '"expected_at"'; do
  ((SECONDS < deadline)) || { say "no departures for metro 1 after 240 s"; exit 1; }
  sleep 2
done

say "== Playwright specs"
admin_password="$(grep -E '^ADMIN_PASSWORD=' "$ENV_FILE" | tail -n 1 | cut -d= -f2-)"
(
  cd frontend
  [[ -d node_modules ]] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  E2E_BASE_URL="http://127.0.0.1:$FRONTEND_PORT" E2E_ADMIN_PASSWORD="$admin_password" \
    E2E_ARTIFACTS_DIR="$artifacts/screenshots" npx playwright test ${E2E_PLAYWRIGHT_ARGS:-}
)
status=0
say "e2e passed; screenshots in artifacts/screenshots"
