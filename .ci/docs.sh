#!/usr/bin/env bash
# Docs CI: notebooks agree with their jupytext twins, every notebook executes from a clean
# kernel, and the site builds with warnings as errors (offline).
#   bash .ci/docs.sh              # uses the current Python (with ".[docs]" installed)
#   PYTHON=/path/to/python bash .ci/docs.sh
# Writes the site to build/docs-site/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg NO_MKDOCS_2_WARNING=1 JUPYTER_PLATFORM_DIRS=1
start=$(date +%s)
echo "== notebooks: .ipynb cells match the .py sources"
"$PY" docs/notebooks.py check
echo "== notebooks: execute from a clean kernel"
"$PY" docs/notebooks.py execute
echo "== site: mkdocs build --strict"
"$PY" -m mkdocs build --strict -f docs/mkdocs/mkdocs.yml
echo "== docs CI passed in $(( $(date +%s) - start )) s"
