#!/usr/bin/env bash
# Set up, start the bundled Convert API simulator on 127.0.0.1, run a real `read` of every stream
# against it and print the records per stream. Pass a stream name to print its records instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m integration_tests.demo "$@"
