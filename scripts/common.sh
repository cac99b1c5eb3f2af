# Shared helpers for the scripts in this folder. Source it; do not run it.
#   as_root CMD...       run CMD as root (directly when root, else through sudo)
#   as_postgres CMD...   run CMD as the postgres OS user
#   log MSG              print a progress line to stderr
#   pg_bin               the PostgreSQL 15 bin directory

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
PG_SEGMENT_CACHE="${PG_SEGMENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg_segment}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m[pg_segment]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[pg_segment] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else as_root sudo -u postgres -- "$@"; fi
}

pg_bin() { "$PG_CONFIG" --bindir; }

# A TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
