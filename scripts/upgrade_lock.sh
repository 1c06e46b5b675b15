#!/usr/bin/env bash
# Move requirements/lock.txt to the newest versions pyproject.toml allows, tested:
#   bash scripts/upgrade_lock.sh                 # the whole suite, as CI runs it
#   bash scripts/upgrade_lock.sh -m "not slow"   # pytest arguments pass through
# 1. a fresh virtual environment outside the repository (the Python of .venv's base);
# 2. the package with all its extras, unpinned (newest within pyproject.toml's ranges);
# 3. the test suite in it; the lock is only rewritten if the tests pass;
# 4. scripts/write_lock.py writes what that environment holds into requirements/lock.txt
#    (only what pilotsim and its extras require).
# Then look at `git diff requirements/lock.txt`, rerun what the committed results were made
# with if they should follow (their provenance records the versions), and commit the lock;
# the next `bash scripts/dev.sh ...` anywhere reinstalls from it.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash scripts/dev.sh python -m venv "$tmp/venv"   # dev.sh finds Python >= 3.12 first
py="$tmp/venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet -e ".[test,dask,viz,notebooks,calibration,analysis,docs]"
"$py" -m pip check
PATH="$tmp/venv/bin:$PATH" "$py" -m pytest "$@"
"$py" scripts/write_lock.py
git --no-pager diff --stat -- requirements/lock.txt
