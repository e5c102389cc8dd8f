#!/usr/bin/env bash
# The Docker stage of the test command: the Compose stack on a real engine, driven as a user would.
#
#   scripts/docker_stage.sh      (run by ./scripts/test.sh last; RATP_TEST_DOCKER=0 skips it)
#
# 1. An engine: the one that answers; else, as root on Debian, Debian's docker.io installed and dockerd started here
#    (and stopped afterwards); else one line saying why the stage is skipped. The Compose v2 plugin is built with Go
#    (`go install github.com/docker/compose/v2/cmd`) when missing, the base images made by scripts/docker_images.sh.
# 2. `./serve.sh up --demo` as its own Compose project (ratp-stage) on free loopback ports; every healthcheck passes.
# 3. The Playwright specs against it (scripts/run_e2e.sh on the running stack).
# 4. POST /api/system/workers/scale 2 -> 4, then 1 (and `./serve.sh scale --workers 2` and back): the engine's worker
#    containers, the registry (/api/system/workers) and the Kafka consumer group (kafka-consumer-groups.sh in the
#    kafka container) agree at each step.
# 5. A busy worker container's main process is killed: the restart policy restarts the container, the task it held is
#    completed by another worker, and no task of that cycle fails or expires.
# 6. `./serve.sh down` then `up` keeps the Postgres rows and the Kafka committed offsets.
# 7. `./serve.sh down` leaves no container, network or anonymous volume; the stage then removes its named volumes.
#
# It uses the repository's .env (Compose reads it there, also inside the backend container when it scales): an
# existing one is set aside and put back afterwards. Timings of each step are printed at the end.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo_root"

compose_version="v2.29.7"
project="ratp-stage"
cache_dir="$(ratp_cache_dir)"
work="$(mktemp -d /tmp/ratp-docker-stage.XXXXXX)"
timings=()
step_started=$SECONDS

skip() { say "docker stage skipped: $*"; rm -rf "$work"; exit 0; }
section() { printf '\n== docker stage: %s ==\n' "$*" >&2; step_started=$SECONDS; }
timed() { timings+=("$1 $((SECONDS - step_started)) s"); say "-- $1 took $((SECONDS - step_started)) s"; }

[[ "${RATP_TEST_DOCKER:-1}" == 0 ]] && skip "RATP_TEST_DOCKER=0"

# --- 1. engine, plugin, base images ------------------------------------------------------------------------------

started_dockerd=""
engine_answers() { command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; }

start_dockerd() {
  if ! command -v dockerd >/dev/null; then
    say "installing Debian's docker.io"
    apt_install docker.io iptables
  fi
  say "starting dockerd (log: $work/dockerd.log)"
  setsid dockerd --pidfile "$work/dockerd.pid" >"$work/dockerd.log" 2>&1 </dev/null &
  started_dockerd=$!
  local deadline=$((SECONDS + 60))
  until engine_answers; do
    kill -0 "$started_dockerd" 2>/dev/null || { tail -n 20 "$work/dockerd.log" >&2; die "dockerd exited"; }
    ((SECONDS < deadline)) || { tail -n 20 "$work/dockerd.log" >&2; die "dockerd did not answer within 60 s"; }
    sleep 0.5
  done
}

stop_dockerd() {
  [[ -n "$started_dockerd" ]] || return 0
  kill -TERM "$started_dockerd" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$started_dockerd" 2>/dev/null && kill -KILL "$started_dockerd" 2>/dev/null
  say "stopped the dockerd this stage started"
}

ensure_compose_plugin() {
  docker compose version >/dev/null 2>&1 && return 0
  local go_bin
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  [[ -x "$go_bin" ]] || return 1
  say "building the Compose v2 plugin $compose_version with Go (first run only)"
  mkdir -p "$cache_dir/go" "$(dirname "$(compose_plugin_path)")"
  GOPATH="$cache_dir/go" GOBIN="$cache_dir/go/bin" GOCACHE="$cache_dir/go/cache" GOFLAGS=-modcacherw CGO_ENABLED=0 \
    "$go_bin" install -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" \
    "github.com/docker/compose/v2/cmd@$compose_version"
  install -m 755 "$cache_dir/go/bin/cmd" "$(compose_plugin_path)"
  docker compose version >/dev/null
}

# --- the stack ---------------------------------------------------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
env_backup=""
env_written=""
stack_started=""

export COMPOSE_PROJECT_NAME="$project" RUN_DIR="$work/run" ENV_FILE="$repo_root/.env" PUBLISH_ADDRESS=127.0.0.1
compose() { docker compose -p "$project" -f "$repo_root/docker-compose.yml" --profile demo "$@"; }

prepare_env_file() {
  env_written=1
  if [[ -f "$repo_root/.env" ]]; then
    env_backup="$work/env.before-docker-stage"
    mv "$repo_root/.env" "$env_backup"
  fi
  # Quick cycles and heartbeats, so that the specs and the checks below see the fleet within seconds.
  sed -e 's/^SCHEDULER_INTERVAL_SECONDS=.*/SCHEDULER_INTERVAL_SECONDS=30/' \
    -e 's/^WORKER_HEARTBEAT_SECONDS=.*/WORKER_HEARTBEAT_SECONDS=1/' \
    -e 's/^WORKER_CONCURRENCY=.*/WORKER_CONCURRENCY=2/' .env.example >"$repo_root/.env"
}

env_value() { grep -E "^$1=" "$repo_root/.env" | tail -n 1 | cut -d= -f2-; }

cleanup() {
  local status=$?
  set +e
  if [[ -n "$stack_started" ]]; then
    if ((status != 0)); then
      mkdir -p "$repo_root/artifacts"
      compose logs --no-color --tail 200 >"$repo_root/artifacts/docker-stage.log" 2>&1
      say "docker stage failed; the services' last log lines are in artifacts/docker-stage.log"
    fi
    ./serve.sh down >/dev/null 2>&1
    docker volume rm "${project}_db-data" "${project}_kafka-data" >/dev/null 2>&1
  fi
  # Only the stage's own .env goes; one that was there before comes back.
  if [[ -n "$env_written" ]]; then
    if [[ -n "$env_backup" ]]; then mv "$env_backup" "$repo_root/.env"; else rm -f "$repo_root/.env"; fi
  fi
  stop_dockerd
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'say "docker stage failed at line $LINENO: $BASH_COMMAND"' ERR

# Every service of the project running, and healthy where it has a healthcheck; migrate exited 0.
wait_healthy() {
  local deadline=$((SECONDS + $1)) states
  while true; do
    states="$(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.ID}}' \
      | xargs -r docker inspect -f '{{ index .Config.Labels "com.docker.compose.service" }} {{.State.Status}} {{.State.ExitCode}} {{ if .State.Health }}{{.State.Health.Status}}{{ else }}none{{ end }}')"
    if ! grep -vqE '^(migrate exited 0 none|[a-z-]+ running 0 (healthy|none))$' <<<"$states"; then
      say "$(sort <<<"$states" | uniq -c | sed 's/^ */  /')"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      say "not every service became healthy within $1 s:"
      say "$states"
      return 1
    fi
    sleep 2
  done
}

api() { # method path [json]
  local -a body=()
  [[ -n "${3:-}" ]] && body=(-H 'Content-Type: application/json' -d "$3")
  curl -fsS -X "$1" -H "X-API-Key: $(env_value SYSTEM_API_TOKEN)" "${body[@]}" "http://127.0.0.1:$API_PORT$2"
}

json() { python3 -c "import json, sys; data = json.load(sys.stdin); print($1)"; }

running_worker_containers() {
  docker ps --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=worker" \
    --filter status=running --format '{{.ID}}' | cut -c1-12 | sort
}

live_worker_hosts() {
  api GET /api/system/workers \
    | json "'\n'.join(sorted(w['host'] for w in data if w['status'] in ('starting', 'idle', 'busy')))" | sed '/^$/d'
}

consumer_group() { env_value KAFKA_CONSUMER_GROUP || echo live-data-workers; }

group_members() {
  compose exec -T kafka /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 \
    --describe --members --group "$(consumer_group)" 2>/dev/null
}

# The hosts of the group's members: a worker's client id starts with its worker id, which starts with its host name.
group_member_hosts() { group_members | awk -v group="$(consumer_group)" '$1 == group {print substr($4, 1, 12)}' | sort; }

# Waits until the engine's running worker containers, the live workers' hosts in the registry and the hosts of the
# consumer group's members are the same `count` containers; then prints what each of them says.
wait_workers_agree() { # count
  local count="$1" deadline=$((SECONDS + 240)) containers hosts members
  while true; do
    containers="$(running_worker_containers)"
    hosts="$(live_worker_hosts || true)"
    members="$(group_member_hosts || true)"
    if [[ "$(grep -c . <<<"$containers")" == "$count" && "$hosts" == "$containers" && "$members" == "$containers" ]]
    then
      break
    fi
    if ((SECONDS >= deadline)); then
      say "workers did not agree on $count within 240 s: containers [$(echo $containers)]," \
        "registry [$(echo $hosts)], consumer group [$(echo $members)]"
      return 1
    fi
    sleep 2
  done
  say "all agree on $count workers:"
  say "\$ docker compose ps worker"
  compose ps worker >&2
  say "\$ /api/system/workers (live hosts): $(echo $hosts)"
  say "\$ kafka-consumer-groups.sh --describe --members"
  group_members >&2
}

scale_to() { # count
  local answer
  answer="$(api POST /api/system/workers/scale "{\"count\": $1}")"
  say "POST /api/system/workers/scale {\"count\": $1} -> $answer"
  wait_workers_agree "$1"
}

committed_offsets() { # "topic:partition offset" lines of the worker group on the task topic
  compose exec -T kafka /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 \
    --describe --offsets --group "$(consumer_group)" 2>/dev/null \
    | awk 'NF && $1 != "GROUP" && $4 ~ /^[0-9]+$/ {print $2 ":" $3, $4}' | sort
}

psql_stack() { compose exec -T db psql -U "$(env_value POSTGRES_USER || echo ratp)" -d "$(env_value POSTGRES_DB || echo ratp)" -Atc "$1"; }

# --- run ---------------------------------------------------------------------------------------------------------

section "engine"
if ! engine_answers; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null && [[ -f /etc/debian_version ]]; then
    start_dockerd
  else
    skip "no Docker engine answers, and this is not a Debian machine where the stage may install one as root"
  fi
fi
say "engine: $(docker version -f 'server {{.Server.Version}} (API {{.Server.APIVersion}})')"
timed "engine start"

section "Compose v2 plugin"
ensure_compose_plugin || skip "no Compose v2 plugin, and no Go toolchain to build it"
say "$(docker compose version)"
timed "plugin"

section "base images"
scripts/docker_images.sh
timed "base images"

section "stack up (./serve.sh up --demo --workers 2, project $project)"
ensure_venv
prepare_env_file
API_PORT="$(free_port)" FRONTEND_PORT="$(free_port)"
export API_PORT FRONTEND_PORT
volumes_before="$(docker volume ls -q | sort)"
stack_started=1
./serve.sh up --demo --workers 2
wait_healthy 300
timed "stack up (build and healthchecks)"

section "Playwright specs against the Compose stack"
E2E_STACK=running scripts/run_e2e.sh
timed "e2e"

section "scaling through the API: 2 -> 4 -> 1"
wait_workers_agree 2
scale_to 4
timed "scale 2 -> 4"

section "a busy worker's main process killed"
compose exec -T backend curl -fsS -X POST -H 'Content-Type: application/json' -d '{"ms": 1000}' \
  http://stub-upstream:8765/__stub/latency >/dev/null
killed_at="$(date -u +%Y-%m-%dT%H:%M:%S)"
api POST /api/system/scheduler/trigger >/dev/null
deadline=$((SECONDS + 120))
until busy="$(api GET /api/system/workers \
  | json "next(f\"{w['id']} {w['host']} {w['current_task_id']}\" for w in data if w['status'] == 'busy' and w['current_task_id'])" 2>/dev/null)"; do
  ((SECONDS < deadline)) || die "no worker became busy within 120 s of a scheduler trigger"
  sleep 0.5
done
read -r killed_worker container task <<<"$busy"
pid="$(docker inspect -f '{{.State.Pid}}' "$container")"
restarts="$(docker inspect -f '{{.RestartCount}}' "$container")"
[[ -d "/proc/$pid" ]] || die "the engine's processes are not visible here (remote engine?): cannot kill pid $pid"
say "killing the main process (host pid $pid) of worker container $container ($killed_worker, busy with task $task)"
kill -KILL "$pid"
deadline=$((SECONDS + 300))
until [[ "$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "$container")" == "$((restarts + 1)) true" ]]; do
  ((SECONDS < deadline)) || die "container $container was not restarted by its restart policy within 300 s"
  sleep 1
done
say "container $container restarted by its restart policy (restart count $((restarts + 1)))"
until outcome="$(api GET "/api/system/tasks?limit=500" \
  | json "next(f\"{t['status']} {t['worker_id']}\" for t in data['items'] if t['id'] == '$task' and t['status'] in ('succeeded', 'failed', 'expired'))" 2>/dev/null)"; do
  ((SECONDS < deadline)) || die "task $task did not reach a final state within 300 s of the kill"
  sleep 2
done
read -r task_status task_worker <<<"$outcome"
[[ "$task_status" == succeeded && "$task_worker" != "$killed_worker" ]] \
  || die "task $task ended $task_status by $task_worker (the killed worker was $killed_worker)"
say "task $task succeeded, completed by $task_worker (not the killed $killed_worker)"
lost="$(api GET "/api/system/tasks?limit=500" \
  | json "sum(1 for t in data['items'] if t['scheduled_at'] >= '$killed_at' and t['status'] in ('failed', 'expired'))")"
[[ "$lost" == 0 ]] || die "$lost tasks scheduled since the kill failed or expired"
compose exec -T backend curl -fsS -X POST -H 'Content-Type: application/json' -d '{"ms": 0}' \
  http://stub-upstream:8765/__stub/latency >/dev/null
wait_workers_agree 4
timed "worker kill and restart"

section "scaling down to 1, then with ./serve.sh scale"
scale_to 1
./serve.sh scale --workers 2
[[ "$(cut -d' ' -f3 "$RUN_DIR/mode")" == 2 ]] || die "serve.sh scale did not record the new count: $(cat "$RUN_DIR/mode")"
wait_workers_agree 2
scale_to 1
timed "scale 4 -> 1 -> 2 (serve.sh) -> 1"

section "down, then up: Postgres rows and Kafka committed offsets are kept"
rows_before="$(psql_stack "SELECT count(*) FROM task_runs WHERE id = '$task' AND status = 'succeeded'")"
offsets_before="$(committed_offsets)"
[[ "$rows_before" == 1 && -n "$offsets_before" ]] || die "nothing to compare before down (row: $rows_before, offsets: $offsets_before)"
say "committed offsets before down (partition offset):"$'\n'"$offsets_before"
./serve.sh down
./serve.sh up --demo --workers 1
wait_healthy 300
rows_after="$(psql_stack "SELECT count(*) FROM task_runs WHERE id = '$task' AND status = 'succeeded'")"
offsets_after="$(committed_offsets)"
say "committed offsets after up:"$'\n'"$offsets_after"
[[ "$rows_after" == 1 ]] || die "task run $task is gone after down/up"
while read -r partition offset; do
  now="$(awk -v p="$partition" '$1 == p {print $2}' <<<"$offsets_after")"
  [[ -n "$now" && "$now" -ge "$offset" ]] || die "partition $partition: committed offset $offset before down, '${now}' after up"
done <<<"$offsets_before"
timed "down and up"

section "down leaves nothing behind"
./serve.sh down
left="$(docker ps -aq --filter "label=com.docker.compose.project=$project")"
[[ -z "$left" ]] || die "containers left after down: $left"
left="$(docker network ls -q --filter "label=com.docker.compose.project=$project")"
[[ -z "$left" ]] || die "networks left after down: $left"
left="$(comm -13 <(echo "$volumes_before") <(docker volume ls -q | sort) | grep -vxE "${project}_(db-data|kafka-data)" || true)"
[[ -z "$left" ]] || die "anonymous volumes left after down: $left"
docker volume rm "${project}_db-data" "${project}_kafka-data" >/dev/null
stack_started=""
timed "down"

say ""
say "docker stage passed: $(IFS=,; echo "${timings[*]}" | sed 's/,/, /g')"
