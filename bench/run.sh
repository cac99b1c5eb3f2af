#!/usr/bin/env bash
# Benchmarks pg_segment against the tools a user would otherwise pick, side by
# side in one run on the same generated data, and prints ratio tables.
#
#   bash bench/run.sh [--customers N] [--seed S] [--suite NAME]... [--repeat R]
#
# Builds and installs the release build, starts a throwaway cluster (or uses
# the one in $PG_SEGMENT_CLUSTER), generates the data once per (N, S) into its
# own database, and runs bench/runner.py in the Python environment of
# scripts/requirements.txt (scikit-learn, pandas, lifetimes, psycopg).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh
python="$(bash scripts/python_env.sh)"
[ "${SKIP_INSTALL:-0}" = 1 ] || bash scripts/install.sh

if [ -n "${PG_SEGMENT_CLUSTER:-}" ] && [ -f "$PG_SEGMENT_CLUSTER/env" ]; then
  source "$PG_SEGMENT_CLUSTER/env"
else
  cluster="$(PG_SEGMENT_SHARED_BUFFERS=${PG_SEGMENT_SHARED_BUFFERS:-2GB} bash scripts/cluster.sh start)"
  trap 'bash scripts/cluster.sh stop "$cluster"' EXIT
  source "$cluster/env"
fi
"$python" bench/runner.py "$@"  # not exec: the EXIT trap must stop the cluster
