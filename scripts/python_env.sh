#!/usr/bin/env bash
# Creates (once) the Python virtual environment of scripts/requirements.txt and
# prints its python executable. Rebuilt only when the requirements change.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

req="$REPO_ROOT/scripts/requirements.txt"
stamp="$(sha256sum "$req" | cut -c1-12)"
venv="$PG_SEGMENT_CACHE/venv-$stamp"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  log "creating Python environment $venv (scikit-learn, pandas, lifetimes, psycopg, pytest)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
