#!/usr/bin/env bash
# The kill -9 campaign during corrections, long (not run by CI; CI runs 4 cycles in
# tests/blackbox/test_corrections.py, CorrectionsKill9): void / amend / re-ingest from 6 threads,
# SIGKILL at a random moment, restart, and after every restart the rollups must equal the sum
# over the current versions, no acknowledged void or amend lost, every history gapless.
# Usage: nice tests/crash/kill9_corrections.sh [cycles=200] [seed=11]
set -euo pipefail
cd "$(dirname "$0")/../blackbox"
CLX_KILL9_CYCLES=${1:-200} CLX_KILL9_SEED=${2:-11} exec /usr/bin/python3 -m unittest -v \
  test_corrections.CorrectionsKill9
