#!/usr/bin/env bash
# For developers running several test runs at once on one machine.
#
#   eval "$(bash scripts/private_pg.sh NAME)"
#
# `cargo pgrx install` and `cargo pgrx test` copy pg_segment into the
# PostgreSQL installation of $PG_CONFIG; two checkouts testing at once would
# overwrite each other's files under running servers. This makes a private,
# relocated copy of the Debian PostgreSQL 15 installation under
# /opt/pg_segment-dev/NAME (PostgreSQL finds its share and lib directories
# relative to its binaries) with its own PGRX_HOME, and prints the exports
# that point the scripts and cargo-pgrx at it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

name="${1:?usage: private_pg.sh NAME}"
root="/opt/pg_segment-dev/$name"
system_pg_config=/usr/lib/postgresql/15/bin/pg_config
if [ ! -x "$root/usr/lib/postgresql/15/bin/pg_config" ]; then
  as_root mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/include"
  as_root cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
  as_root cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
  as_root ln -sfn /usr/include/postgresql "$root/usr/include/postgresql"
  as_root chown -R "$(id -u)" "$root"
fi
pg_config="$root/usr/lib/postgresql/15/bin/pg_config"
mkdir -p "$root/pgrx"
printf '[configs]\npg15 = "%s"\n' "$pg_config" >"$root/pgrx/config.toml"
echo "export PG_CONFIG='$pg_config' PGRX_HOME='$root/pgrx'"
