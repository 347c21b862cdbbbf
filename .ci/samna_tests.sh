#!/usr/bin/env bash
# Runs the samna conversion tests against the real samna 0.7.1.0 build, which exists only for
# CPython <= 3.10. Builds a Python 3.10 venv (.venv-samna), installs the package, samna and
# pytest, and fails if any samna test is skipped. Exits 0 with a loud warning when no
# Python 3.10 interpreter exists on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

find_python310() {
    local cand
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(pyenv versions --bare 2>/dev/null | grep '^3\.10' || true); do
            cand="$(PYENV_VERSION="$v" pyenv which python3.10 2>/dev/null || true)"
            if [ -n "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
                echo "$cand"; return 0
            fi
        done
    fi
    for cand in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
        if command -v "$cand" >/dev/null 2>&1 &&
            PYENV_VERSION="${PYENV_VERSION:-3.10.13}" "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            echo "$cand"; return 0
        fi
    done
    return 1
}

start=$(date +%s)
if ! PY310="$(find_python310)"; then
    echo "################################################################################" >&2
    echo "WARNING: no Python 3.10 interpreter found: the samna 0.7.1.0 tests did NOT run." >&2
    echo "Install CPython 3.10 (e.g. pyenv install 3.10.13) to run them." >&2
    echo "################################################################################" >&2
    exit 0
fi
echo "samna tests: using $PY310"
VENV=.venv-samna
if [ ! -x "$VENV/bin/python" ]; then
    "$PY310" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q -e ".[test]" "samna==0.7.1.0"
installed=$(date +%s)
echo "samna tests: install took $((installed - start)) s"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
DYNAPSE2_REQUIRE_SAMNA=1 "$VENV/bin/python" -m pytest -m samna tests/hardware/test_samna.py \
    -rs -p no:cacheprovider -q 2>&1 | tee "$log"
# samna's JSON: the whole file (no -m: its tests without samna would be "deselected"; they
# run under Python 3.10 as well)
DYNAPSE2_REQUIRE_SAMNA=1 "$VENV/bin/python" -m pytest tests/hardware/test_samna_json.py \
    -rs -p no:cacheprovider -q 2>&1 | tee -a "$log"
if grep -Eq "[0-9]+ (skipped|deselected)|no tests ran" "$log"; then
    echo "samna tests: FAILED: some samna tests were skipped or deselected (see above)" >&2
    exit 1
fi
echo "samna tests: tests took $(( $(date +%s) - installed )) s, total $(( $(date +%s) - start )) s"
