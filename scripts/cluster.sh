#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the demo, the tests and the benchmarks.
#
#   scripts/cluster.sh start   -> prints the cluster directory; "$dir/env" exports
#                                 PGHOST, PGPORT, PGUSER for psql, pg_regress, psycopg
#   scripts/cluster.sh stop DIR   stops it and deletes DIR
#
# The cluster runs as the postgres OS user on a free port, listens only on a
# Unix socket inside DIR, trusts local connections (it holds nothing but test
# data), trades durability for speed, and preloads pg_cron.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

start() {
  local dir port bin
  bin="$(pg_bin)"
  dir="$(mktemp -d /tmp/pg_segment-cluster.XXXXXX)"
  chmod 755 "$dir"
  as_root chown postgres "$dir"
  port="$(free_port)"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
# pg_segment throwaway cluster
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_preload_libraries = 'pg_cron'
cron.database_name = '${PG_SEGMENT_CRON_DB:-postgres}'
# pg_cron connects to run jobs: over the socket, as the cluster does not listen on TCP
cron.host = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '${PG_SEGMENT_SHARED_BUFFERS:-1GB}'
work_mem = '64MB'
maintenance_work_mem = '512MB'
max_wal_size = '8GB'
max_worker_processes = 16
max_parallel_workers = 8
log_min_messages = warning
CONF
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; die "the test cluster did not start"; }
  cat >"$dir/env" <<ENV
export PGHOST='$dir' PGPORT='$port' PGUSER=postgres PGDATABASE=postgres
export PG_SEGMENT_CLUSTER='$dir'
ENV
  log "PostgreSQL cluster running on port $port (socket in $dir)"
  echo "$dir"
}

stop() {
  local dir="${1:?usage: cluster.sh stop DIR}"
  [ -d "$dir/data" ] || return 0
  as_postgres "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  as_root rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) die "usage: $0 start | stop DIR" ;;
esac
