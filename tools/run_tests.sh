#!/usr/bin/env bash
# Quick start, step 2: set up .venv if missing, then run the test suite (extra arguments go to
# pytest, e.g. `bash tools/run_tests.sh tests/test_swin.py -k mmdet`).
#
# The suite runs in one pytest-xdist worker per CPU core (at most 4), each with torch on one
# thread (tests/conftest.py): most tests are small-op bound, where processes scale and threads do
# not. `-n 0` runs it in this process on all cores; any `-n` / `-p no:xdist` given here wins.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_env.sh
args=("$@")
if [[ " $* " != *" -n "* && " $* " != *" -n"[0-9]* && " $* " != *"no:xdist"* && " $* " != *"--numprocesses"* ]]; then
  cores=$(.venv/bin/python -c 'import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))')
  args=(-n "$cores" --durations=30 "${args[@]}")
fi
exec .venv/bin/python -m pytest "${args[@]}"
