#!/usr/bin/env bash
# Create .venv (Python 3.11) with the connector and its test dependencies, and .venv/pyairbyte with
# PyAirbyte (its pins clash with requirements.lock, so it gets its own venv). Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "source-convert needs Python 3.11, found %s" % sys.version.split()[0]'

if [[ ! -x .venv/bin/python ]]; then
    echo "[setup] creating .venv with $("$PYTHON" --version)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" || ! -x .venv/pyairbyte/bin/python ]]; then
    echo "[setup] installing source-convert and its test dependencies" >&2
    .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[dev]"
    echo "[setup] installing PyAirbyte into .venv/pyairbyte" >&2
    [[ -x .venv/pyairbyte/bin/python ]] || "$PYTHON" -m venv .venv/pyairbyte
    pyairbyte_requirements=$(.venv/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["pyairbyte"])')
    # shellcheck disable=SC2086  # one argument per requirement
    .venv/pyairbyte/bin/python -m pip install --quiet $pyairbyte_requirements
    rm -f .venv/.installed-*
    touch "$stamp"
fi
