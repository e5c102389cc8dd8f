#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft) for tests and local development, without Docker.
#
#   scripts/kafka.sh start   resolve the broker jars with Maven (cached), format storage, start, wait until ready
#   scripts/kafka.sh stop    stop the broker this script started
#   scripts/kafka.sh status  say whether it runs and where
#
# Environment: KAFKA_PORT (default 19092), KAFKA_HOME_DIR (state: logs, data, pid; default .cache/kafka/run),
# KAFKA_CACHE_DIR (jars; default .cache/kafka), KAFKA_HEAP (default 512m).
# Prints `KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:<port>` on success.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache_dir="${KAFKA_CACHE_DIR:-$root/.cache/kafka}"
run_dir="${KAFKA_HOME_DIR:-$cache_dir/run}"
port="${KAFKA_PORT:-19092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
heap="${KAFKA_HEAP:-512m}"
lib_dir="$cache_dir/lib"
pid_file="$run_dir/kafka.pid"
log_file="$run_dir/kafka.log"

say() { printf 'kafka: %s\n' "$*" >&2; }

resolve_jars() {
  local stamp="$lib_dir/.resolved-$(sha256sum "$here/kafka/pom.xml" | cut -c1-16)"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || { say "Maven (mvn) is required to resolve the broker jars"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is required to run the broker"; exit 1; }
  say "resolving broker jars from Maven Central into $lib_dir (first run only)"
  rm -rf "$lib_dir"
  mkdir -p "$lib_dir"
  mvn -B -q -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib_dir" -DincludeScope=runtime >&2
  touch "$stamp"
}

is_running() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

write_config() {
  mkdir -p "$run_dir/data"
  cat >"$run_dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run_dir/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.min.session.timeout.ms=1000
PROPS
  cat >"$run_dir/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $run_dir/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
PROPS
}



java_args() {
  printf '%s\n' -Xms128m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$run_dir/log4j2.properties" -cp "$lib_dir/*"
}

java_cmd() {
  local -a args
  mapfile -t args < <(java_args)
  java "${args[@]}" "$@"
}

wait_ready() {
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  while ((SECONDS < deadline)); do
    is_running || { say "broker exited during startup; last log lines:"; tail -n 40 "$log_file" "$run_dir/server.log" >&2 || true; exit 1; }
    # Ready means the broker answers a metadata request, not merely that the port is open.
    if python3 - "$port" <<'PY' 2>/dev/null
import socket, struct, sys
# ApiVersions v0 request: the broker answers only once its listener is serving requests.
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
client = b"probe"
body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
s.sendall(struct.pack(">i", len(body)) + body)
size = struct.unpack(">i", s.recv(4))[0]
data = s.recv(size)
error = struct.unpack(">h", data[4:6])[0]
sys.exit(0 if error == 0 else 1)
PY
    then
      return 0
    fi
    sleep 0.5
  done
  say "broker did not become ready in time; see $log_file"
  exit 1
}

start() {
  if is_running; then
    say "already running (pid $(cat "$pid_file")) on 127.0.0.1:$port"
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    say "port $port is already in use by another process; set KAFKA_PORT to a free port"
    exit 1
  fi
  resolve_jars
  write_config
  if [[ ! -f "$run_dir/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid)"
    java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$run_dir/server.properties" >/dev/null
  fi
  say "starting broker on 127.0.0.1:$port (logs: $run_dir)"
  local -a args
  mapfile -t args < <(java_args)
  # java itself is the background job, so the pid file names the broker (not a wrapping shell).
  nohup java "${args[@]}" kafka.Kafka "$run_dir/server.properties" >"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  wait_ready
  say "ready"
  echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port"
}

stop() {
  if ! is_running; then
    say "not running"
    rm -f "$pid_file"
    return 0
  fi
  local pid
  pid="$(cat "$pid_file")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; say "stopped"; return 0; }
    sleep 0.5
  done
  say "broker did not stop in 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if is_running; then echo "running pid $(cat "$pid_file") on 127.0.0.1:$port"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
