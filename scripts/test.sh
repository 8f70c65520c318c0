#!/usr/bin/env bash
# Set up everything and run the whole test suite: unit, simulator end-to-end, acceptance
# (in-process and against the built Docker image), resilience and request counts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
if [[ "${SOURCE_CONVERT_SKIP_IMAGE_BUILD:-0}" != "1" ]]; then
    bash scripts/docker.sh build
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python -m pytest unit_tests integration_tests "$@"
