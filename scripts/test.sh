#!/usr/bin/env bash
# Sets up the machine and runs every test tier; exits non-zero on any failure.
#
#   1. core     plain #[test] unit tests of the pgrx-free core (cargo test)
#   2. pgrx     in-database #[pg_test] tests (cargo pgrx test, pgrx-tests/)
#   3. regress  pg_regress golden SQL tests (tests/regress/), on the release build
#   4. python   reference tests against peer libraries and multi-session tests
#               (tests/reference/, tests/sessions/), pytest on a real cluster
#
# TIERS="core regress" limits the run to some tiers (default: all).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TIERS="${TIERS:-core pgrx regress python}"
want() { [[ " $TIERS " == *" $1 "* ]]; }
cd "$REPO_ROOT"

bash scripts/setup.sh

if want core; then
  log "tier 1/4: core unit tests"
  cargo test --lib -- --skip pgrx_tests::
fi

if want pgrx; then
  log "tier 2/4: in-database #[pg_test] tests"
  pgdata="/tmp/pg_segment-pgrx-test.$$"
  as_root rm -rf "$pgdata"
  cargo pgrx test pg15 --runas postgres --pgdata="$pgdata"
  as_root rm -rf "$pgdata"
fi

if want regress || want python; then
  bash scripts/install.sh
  cluster="$(bash scripts/cluster.sh start)"
  trap 'bash scripts/cluster.sh stop "$cluster"' EXIT
  source "$cluster/env"
fi

if want regress; then
  log "tier 3/4: pg_regress golden tests"
  out="$(mktemp -d /tmp/pg_segment-regress.XXXXXX)"
  tests=$(cd tests/regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
  # --use-existing makes pg_regress skip database creation, so we do it here.
  psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS pg_segment_regress" \
    -c "CREATE DATABASE pg_segment_regress" -c "ALTER DATABASE pg_segment_regress SET timezone = 'UTC'"
  psql -X -q -v ON_ERROR_STOP=1 -d pg_segment_regress -c "CREATE EXTENSION pg_segment"
  if ! "$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
      --use-existing --host="$PGHOST" --port="$PGPORT" --user=postgres \
      --dbname=pg_segment_regress \
      --inputdir=tests/regress --outputdir="$out" $tests; then
    cat "$out/regression.diffs" >&2 || true
    die "pg_regress failed (diffs above; outputs in $out)"
  fi
  rm -rf "$out"
fi

if want python; then
  log "tier 4/4: reference and multi-session tests (pytest)"
  python="$(bash scripts/python_env.sh)"
  dirs=()
  for d in tests/reference tests/sessions; do [ -d "$d" ] && dirs+=("$d"); done
  "$python" -m pytest -q -p no:cacheprovider "${dirs[@]}" "$@"
fi

log "all requested test tiers passed"
