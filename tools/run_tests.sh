#!/usr/bin/env bash
# Quick start, step 2: set up .venv if missing, then run the test suite (extra arguments go to
# pytest, e.g. `bash tools/run_tests.sh tests/test_swin.py -k mmdet`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_env.sh
exec .venv/bin/python -m pytest "$@"
