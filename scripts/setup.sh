#!/usr/bin/env bash
# Prepares a Debian 12 machine to build, install and test pg_segment.
# Idempotent: every step checks first and skips what is already there, so a
# second run takes seconds. Works as root, or as a user with sudo.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PGRX_VERSION=0.18.0
DEBIAN_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron clang libclang-dev sudo)
# Python runs the sample-data loader, the reference tests and the benchmarks.
python3 -m venv --help >/dev/null 2>&1 || DEBIAN_PACKAGES+=(python3 python3-venv python3-pip)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    die "need root or sudo to install ${missing[*]}"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# The Debian package starts a cluster on port 5432; we never use it, and it
# would only compete for memory with the throwaway clusters.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  log "stopping the Debian default cluster (pg_segment uses throwaway clusters)"
  as_root pg_ctlcluster 15 main stop || true
fi

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"

if [ "$(cargo pgrx --version 2>/dev/null || true)" != "cargo-pgrx $PGRX_VERSION" ]; then
  log "installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes on 2 cores)"
  cargo install --locked cargo-pgrx --version "$PGRX_VERSION"
else
  log "cargo-pgrx $PGRX_VERSION present"
fi

PGRX_HOME="${PGRX_HOME:-$HOME/.pgrx}"
if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml"; then
  log "cargo pgrx init --pg15 $PG_CONFIG"
  cargo pgrx init --pg15 "$PG_CONFIG"
else
  log "pgrx is initialised for $PG_CONFIG"
fi

log "setup complete"
