#!/usr/bin/env bash
# Set up (once) and run a command in the project's Python 3.12 virtual environment.
#   bash scripts/dev.sh pilotsim compare     # the main job
#   bash scripts/dev.sh pytest               # the test suite
# Finds Python >= 3.12 as `python3.12` on PATH, or through pyenv (PYENV_VERSION=3.12.x),
# creates .venv, installs the tested versions of every dependency from requirements/lock.txt
# and then the package itself (with its extras' entry points, but no other versions) when the
# lock, pyproject.toml or this script changed, then runs the command inside the venv.
# To move to newer versions: bash scripts/upgrade_lock.sh (README, "Dependency versions").
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for cand in python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare | grep -E '^3\.1[2-9]' | sort -V); do
      echo "env PYENV_VERSION=$v python${v%.*}"; return 0
    done
  fi
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY=$(find_python) || { echo "error: Python >= 3.12 not found (install python3.12)" >&2; exit 1; }
  echo "creating .venv with: $PY" >&2
  $PY -m venv .venv
fi

lock=requirements/lock.txt
stamp=.venv/.pilotsim-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/dev.sh -nt "$stamp" ] ||
   [ "$lock" -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -r "$lock" >&2
  .venv/bin/python -m pip install --quiet --no-deps -e ".[test,dask,viz,notebooks,calibration,analysis,docs]" >&2
  # a requirement the lock lacks (pyproject.toml changed without scripts/upgrade_lock.sh, or
  # a platform the lock was not made on) stops here, named, rather than at import time
  .venv/bin/python -m pip check >&2 ||
    { echo "error: $lock does not satisfy pyproject.toml: run bash scripts/upgrade_lock.sh" >&2; exit 1; }
  touch "$stamp"
fi

export PATH="$PWD/.venv/bin:$PATH"
exec "$@"
