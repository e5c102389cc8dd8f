# Shared shell helpers for serve.sh and scripts/*.sh (sourced, not run).

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
backend_dir="$repo_root/backend"
venv_dir="$backend_dir/venv"
python_bin="$venv_dir/bin/python"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

pick_python() {
  local candidate
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  die "Python 3.11+ is required"
}

# Create backend/venv and install backend/requirements.txt when missing or changed since the last install.
ensure_venv() {
  if [[ ! -x "$python_bin" ]]; then
    say "creating the backend virtualenv in $venv_dir"
    "$(pick_python)" -m venv "$venv_dir"
  fi
  local stamp="$venv_dir/.requirements-$(cat "$backend_dir"/requirements*.txt | sha256sum | cut -c1-16)"
  if [[ ! -f "$stamp" ]]; then
    say "installing backend requirements"
    "$python_bin" -m pip install -q --upgrade pip >/dev/null
    "$python_bin" -m pip install -q -r "$backend_dir/requirements.txt"
    rm -f "$venv_dir"/.requirements-*
    touch "$stamp"
  fi
}

# Debian's Chromium, for Playwright (its own browser download does not work everywhere).
ensure_chromium() {
  if command -v chromium >/dev/null || [[ -x /usr/bin/chromium ]]; then return 0; fi
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing Debian's chromium for Playwright"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "warning: no chromium found; install it (apt-get install chromium) for browser tests and cookie seeding"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Build caches kept between runs, outside the repository (root filesystems, jars, the Go build of the Compose plugin).
ratp_cache_dir() {
  if [[ -n "${RATP_CACHE_DIR:-}" ]]; then echo "$RATP_CACHE_DIR"
  elif [[ "$(id -u)" == 0 ]]; then echo /var/cache/ratp
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/ratp"; fi
}

apt_updated=""
apt_install() { # packages...: Debian packages, as root
  if [[ -z "$apt_updated" ]]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

compose_plugin_path() { echo "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"; }
