#!/usr/bin/env bash
# Builds pg_segment (release) and installs it into the PostgreSQL of $PG_CONFIG.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

args=(install --release --pg-config "$PG_CONFIG")
[ "$(id -u)" -eq 0 ] || args+=(--sudo)
log "building and installing pg_segment (cargo pgrx ${args[*]})"
cd "$REPO_ROOT"
cargo pgrx "${args[@]}" >&2
