#!/usr/bin/env bash
# The base images the stack builds on, on a Docker engine that cannot reach an image registry.
#
#   scripts/docker_images.sh   make sure every base image named below is present on the engine
#
# When a registry answers, the official images are pulled. Otherwise each one is made here, under the same tag, from
# Debian packages (a bookworm root filesystem made by mmdebstrap, then `docker import`), the Kafka jars from Maven
# Central and the host's Node.js, with entry points written for this project that honour the official images'
# environment contracts (scripts/docker/postgres, scripts/docker/kafka). A stand-in carries the label
# `ratp.stand-in=<hash of its recipe>` and is made again only when its recipe changes.
#
# Environment: RATP_CACHE_DIR (root filesystems and jars kept between runs; default /var/cache/ratp as root,
# ~/.cache/ratp otherwise), RATP_BASE_IMAGES=official|stand-in (default: official when a pull works).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The tags the Dockerfiles and docker-compose.yml use by default; keep them in step with those files.
python_image="python:3.11-slim"
node_image="node:20-bookworm-slim"
postgres_image="postgres:15"
kafka_image="apache/kafka:4.1.1"
docker_cli_image="docker:27-cli"
all_images=("$python_image" "$node_image" "$postgres_image" "$kafka_image" "$docker_cli_image")

recipes="$repo_root/scripts/docker"
cache_dir="$(ratp_cache_dir)"
debian_sources=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)

image_label() { docker image inspect -f '{{ index .Config.Labels "ratp.stand-in" }}' "$1" 2>/dev/null || true; }

recipe_hash() { # name, then the words its image is made from: its function here and its files in scripts/docker/<name>
  local name="$1"; shift
  { printf '%s\n' "$name" "$@"; declare -f "stand_in_${name//-/_}" make_image rootfs
    if [[ -d "$recipes/$name" ]]; then find "$recipes/$name" -type f | sort | xargs cat; fi; } | sha256sum | cut -c1-16
}

# A Debian bookworm root filesystem with `packages`, as a tarball in the cache (made once per package list).
rootfs() { # name packages... ; prints the tarball's path
  local name="$1"; shift
  local tarball
  tarball="$cache_dir/rootfs/$name-$(printf '%s\n' "$@" | sha256sum | cut -c1-12).tar"
  if [[ ! -s "$tarball" ]]; then
    ensure_mmdebstrap
    mkdir -p "$cache_dir/rootfs"
    say "making a Debian root filesystem for $name (${*:-minbase})"
    local IFS=,
    mmdebstrap --quiet --variant=minbase ${*:+--include="$*"} \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      bookworm "${tarball%.tar}.partial.tar" "${debian_sources[@]}" >&2
    mv "${tarball%.tar}.partial.tar" "$tarball"
  fi
  echo "$tarball"
}

ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null && return 0
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || die "mmdebstrap is needed to make the base images"
  say "installing mmdebstrap"
  apt_install mmdebstrap
}

# `docker import` the root filesystem, then add the image's own files and metadata with a Dockerfile.
make_image() { # tag hash tarball context-dir
  local tag="$1" hash="$2" tarball="$3" context="$4"
  local base="ratp-stand-in-rootfs:${tag//[:\/]/-}"
  docker import "$tarball" "$base" >/dev/null
  sed -i "1i FROM $base" "$context/Dockerfile"
  echo "LABEL ratp.stand-in=$hash" >>"$context/Dockerfile"
  # The legacy builder: these builds need no network, secrets or BuildKit, and it is in every engine.
  DOCKER_BUILDKIT=0 docker build --quiet -t "$tag" "$context" >"$context.log" 2>&1 \
    || { cat "$context.log" >&2; die "could not make $tag"; }
  rm -f "$context.log"
  docker image rm "$base" >/dev/null
  say "made $tag (a local stand-in; label ratp.stand-in=$hash)"
}

stand_in_python() {
  local packages=(python3 python3-pip python3-venv ca-certificates)
  local hash; hash="$(recipe_hash python "${packages[@]}")"
  [[ "$(image_label "$python_image")" == "$hash" ]] && return 0
  local context; context="$(mktemp -d)"
  cat >"$context/Dockerfile" <<'EOF'
# Debian's Python 3.11 where the official image has its own build: `python` and `pip` on PATH, pip installing
# into the system site-packages as it does there.
RUN ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["python3"]
EOF
  make_image "$python_image" "$hash" "$(rootfs python "${packages[@]}")" "$context"
  rm -rf "$context"
}

stand_in_node() {
  local node_bin node_modules
  node_bin="$(command -v node || true)"
  [[ -n "$node_bin" ]] || die "Node.js is needed on the host to make the stand-in for $node_image"
  node_bin="$(readlink -f "$node_bin")"
  node_modules="$(dirname "$(dirname "$node_bin")")/lib/node_modules"
  [[ -d "$node_modules/npm" ]] || die "npm not found next to $node_bin (looked in $node_modules)"
  local packages=(ca-certificates libstdc++6)
  local hash; hash="$(recipe_hash node "${packages[@]}" "$("$node_bin" --version)")"
  [[ "$(image_label "$node_image")" == "$hash" ]] && return 0
  local context; context="$(mktemp -d)"
  mkdir -p "$context/files/usr/local/bin" "$context/files/usr/local/lib"
  cp "$node_bin" "$context/files/usr/local/bin/node"
  cp -a "$node_modules" "$context/files/usr/local/lib/node_modules"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$context/files/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$context/files/usr/local/bin/npx"
  cat >"$context/Dockerfile" <<'EOF'
# The host's Node.js where the official image has its own build, under /usr/local as there.
COPY files/ /
ENV LANG=C.UTF-8
CMD ["node"]
EOF
  make_image "$node_image" "$hash" "$(rootfs node "${packages[@]}")" "$context"
  rm -rf "$context"
}

stand_in_postgres() {
  local packages=(postgresql-15)
  local hash; hash="$(recipe_hash postgres "${packages[@]}")"
  [[ "$(image_label "$postgres_image")" == "$hash" ]] && return 0
  local context; context="$(mktemp -d)"
  cp "$recipes/postgres/docker-entrypoint.sh" "$context/"
  cat >"$context/Dockerfile" <<'EOF'
# Debian's PostgreSQL 15; the package's own cluster is removed: the entry point makes one in PGDATA on first start.
RUN rm -rf /etc/postgresql/15/main /var/lib/postgresql/15
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
ENV LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
  make_image "$postgres_image" "$hash" "$(rootfs postgres "${packages[@]}")" "$context"
  rm -rf "$context"
}

stand_in_kafka() {
  local packages=(openjdk-17-jre-headless)
  local hash; hash="$(recipe_hash kafka "${packages[@]}")"
  [[ "$(image_label "$kafka_image")" == "$hash" ]] && return 0
  local libs="$cache_dir/kafka-libs"
  local stamp; stamp="$libs/.resolved-$(sha256sum "$recipes/kafka/pom.xml" | cut -c1-16)"
  if [[ ! -f "$stamp" ]]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the Kafka jars for the stand-in $kafka_image"
    say "resolving the Kafka broker and tool jars from Maven Central"
    rm -rf "$libs" && mkdir -p "$libs"
    mvn -B -q -f "$recipes/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" \
      -DincludeScope=runtime >"$cache_dir/kafka-libs.log" 2>&1 \
      || { cat "$cache_dir/kafka-libs.log" >&2; die "could not resolve the Kafka jars"; }
    touch "$stamp"
  fi
  local context; context="$(mktemp -d)"
  mkdir -p "$context/opt/kafka/bin" "$context/opt/kafka/config" "$context/etc/kafka/docker"
  cp -r "$libs" "$context/opt/kafka/libs"
  rm -f "$context"/opt/kafka/libs/.resolved-*
  cp "$recipes/kafka/run" "$context/etc/kafka/docker/run"
  cp "$recipes/kafka/kafka-run-class.sh" "$context/opt/kafka/bin/"
  cp "$recipes/kafka/kraft-defaults.properties" "$recipes"/kafka/*log4j2.properties "$context/opt/kafka/config/"
  # The scripts of the Kafka distribution that operators and healthchecks call, each one class.
  local script class
  while read -r script class; do
    printf '#!/bin/bash\nexec /opt/kafka/bin/kafka-run-class.sh %s "$@"\n' "$class" >"$context/opt/kafka/bin/$script"
  done <<'EOF'
kafka-server-start.sh kafka.Kafka
kafka-storage.sh kafka.tools.StorageTool
kafka-broker-api-versions.sh org.apache.kafka.tools.BrokerApiVersionsCommand
kafka-consumer-groups.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
kafka-topics.sh org.apache.kafka.tools.TopicCommand
EOF
  chmod 755 "$context"/opt/kafka/bin/* "$context/etc/kafka/docker/run"
  cat >"$context/Dockerfile" <<'EOF'
# Debian's OpenJDK 17 and the Kafka jars from Maven Central, laid out as in the official image, run as `appuser`.
COPY opt/ /opt/
COPY etc/ /etc/
RUN useradd --no-create-home --uid 1000 appuser \
    && mkdir -p /var/lib/kafka/data /etc/kafka/secrets /mnt/shared/config \
    && chown -R appuser:appuser /var/lib/kafka /etc/kafka /mnt/shared/config /opt/kafka/config
ENV LANG=C.UTF-8 PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME ["/etc/kafka/secrets", "/var/lib/kafka/data", "/mnt/shared/config"]
USER appuser
EXPOSE 9092
CMD ["/etc/kafka/docker/run"]
EOF
  make_image "$kafka_image" "$hash" "$(rootfs kafka "${packages[@]}")" "$context"
  rm -rf "$context"
}

stand_in_docker_cli() {
  local cli plugin
  cli="$(command -v /usr/bin/docker docker | head -n 1)"
  plugin="$(compose_plugin_path)"
  [[ -x "$plugin" ]] || die "the Compose v2 plugin is needed to make the stand-in for $docker_cli_image"
  local hash; hash="$(recipe_hash docker-cli "$(sha256sum "$cli" "$plugin")")"
  [[ "$(image_label "$docker_cli_image")" == "$hash" ]] && return 0
  local context; context="$(mktemp -d)"
  mkdir -p "$context/usr/local/bin" "$context/usr/local/libexec/docker/cli-plugins"
  cp "$cli" "$context/usr/local/bin/docker"
  cp "$plugin" "$context/usr/local/libexec/docker/cli-plugins/docker-compose"
  tar -C "$context" -cf "$context.tar" usr
  cat >"$context/Dockerfile" <<'EOF'
# The engine's docker CLI and the Compose v2 plugin at the official image's paths (only ever copied from).
ENTRYPOINT ["/usr/local/bin/docker"]
EOF
  make_image "$docker_cli_image" "$hash" "$context.tar" "$context"
  rm -rf "$context" "$context.tar"
}

official_images_reachable() {
  [[ "${RATP_BASE_IMAGES:-}" == stand-in ]] && return 1
  [[ "${RATP_BASE_IMAGES:-}" == official ]] && return 0
  timeout 30 docker pull --quiet "$docker_cli_image" >/dev/null 2>&1
}

if official_images_reachable; then
  for image in "${all_images[@]}"; do docker pull --quiet "$image" >/dev/null; done
  say "pulled the official base images: ${all_images[*]}"
  exit 0
fi

for image in "${all_images[@]}"; do
  label="$(image_label "$image")"
  if docker image inspect "$image" >/dev/null 2>&1 && [[ -z "$label" ]]; then
    say "keeping $image (already on the engine, not a stand-in)"
    continue
  fi
  case "$image" in
    "$python_image") stand_in_python ;;
    "$node_image") stand_in_node ;;
    "$postgres_image") stand_in_postgres ;;
    "$kafka_image") stand_in_kafka ;;
    "$docker_cli_image") stand_in_docker_cli ;;
  esac
done
say "base images ready: ${all_images[*]}"
