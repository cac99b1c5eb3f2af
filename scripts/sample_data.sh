#!/usr/bin/env bash
# Fetches the CDNOW transaction log and prints the path of a clean CSV copy.
#
# The file ships inside the `lifetimes` wheel on PyPI as
# lifetimes/datasets/CDNOW_master.txt: 69,659 orders of 23,570 customers,
# 1997-01-01 to 1998-06-30; whitespace-separated columns customer id, date
# (YYYYMMDD), number of CDs, dollar value; one header line. Cached after the
# first download.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LIFETIMES_VERSION=0.11.3
dir="$PG_SEGMENT_CACHE/cdnow"
csv="$dir/cdnow_orders.csv"
if [ ! -s "$csv" ]; then
  mkdir -p "$dir"
  log "downloading lifetimes==$LIFETIMES_VERSION from PyPI for the CDNOW sample data"
  python3 -m pip download --quiet --no-deps --only-binary=:all: "lifetimes==$LIFETIMES_VERSION" -d "$dir" >&2
  python3 - "$dir" "$csv" <<'PY'
import glob, sys, zipfile
src_dir, out = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{src_dir}/[Ll]ifetimes-*.whl")[0]
text = zipfile.ZipFile(wheel).read("lifetimes/datasets/CDNOW_master.txt").decode("ascii")
lines = text.splitlines()
assert lines[0].split() == ["customer_id", "date", "number_of_cds", "dollar_value"], lines[0]
with open(out + ".tmp", "w") as f:
    for line in lines[1:]:
        if line.strip():
            f.write(",".join(line.split()) + "\n")
import os
os.replace(out + ".tmp", out)
PY
fi
echo "$csv"
