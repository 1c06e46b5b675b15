#!/usr/bin/env bash
# Re-render the committed notebooks with their outputs (after a model change), in place:
#   bash scripts/render_notebooks.sh            # all of notebooks/*.ipynb
#   bash scripts/render_notebooks.sh notebooks/01_quickstart.ipynb
# Runs scripts/render_notebooks.py in the project's venv (scripts/dev.sh sets it up).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/dev.sh python scripts/render_notebooks.py "$@"
