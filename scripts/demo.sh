#!/usr/bin/env bash
# The main job: set up the machine, build and install pg_segment, start a
# throwaway PostgreSQL cluster, load the CDNOW sample data and run every
# segmentation pg_segment has on it, printing the results.
#
#   bash scripts/demo.sh            # KEEP_CLUSTER=1 leaves the cluster running
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "$REPO_ROOT/scripts/setup.sh"
bash "$REPO_ROOT/scripts/install.sh"
csv="$(bash "$REPO_ROOT/scripts/sample_data.sh")"

cluster="$(bash "$REPO_ROOT/scripts/cluster.sh" start)"
if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
  trap 'log "cluster left running: source $cluster/env; stop with: bash scripts/cluster.sh stop $cluster"' EXIT
else
  trap 'bash "$REPO_ROOT/scripts/cluster.sh" stop "$cluster"' EXIT
fi
source "$cluster/env"
export PGDATABASE=pg_segment_demo
PGDATABASE=postgres psql -X -q -c "CREATE DATABASE pg_segment_demo" -c "ALTER DATABASE pg_segment_demo SET timezone = 'UTC'"

log "loading CDNOW from $csv"
psql -X -q -v ON_ERROR_STOP=1 \
  -c "CREATE TABLE cdnow_raw (customer_id text, day text, cds integer, amount numeric(10,2))" \
  -c "\\copy cdnow_raw FROM '$csv' WITH (FORMAT csv)"

for step in "$REPO_ROOT"/scripts/demo/[0-9]*.sql; do
  psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f "$step"
done
log "demo complete"
