#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the connector with its test dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "source-convert needs Python 3.11, found %s" % sys.version.split()[0]'

if [[ ! -x .venv/bin/python ]]; then
    echo "[setup] creating .venv with $("$PYTHON" --version)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
    echo "[setup] installing source-convert and its test dependencies" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[dev]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
