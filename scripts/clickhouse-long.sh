#!/usr/bin/env bash
# The long versions of the ClickHouse export tests (tests/clickhouse): the same cases as CI
# runs, with more events and repeated kills. CI runs the short ones (ctest -R clickhouse/);
# run this before a release or after touching the exporter. Takes minutes, uses both cores.
#   CLX_CH_EVENTS  events per load (default 1000000)     CLX_CH_CYCLES  kill cycles (default 5)
# Usage: scripts/clickhouse-long.sh [unittest names, e.g. test_export.ExportTest.test_totals_equal_costlynx_after_100k_events]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
TARGET=costlynxd ./scripts/build.sh
export COSTLYNXD="$PWD/${BUILD_DIR:-build}/costlynxd" CLX_SOURCE_DIR="$PWD"
export CLX_CH_EVENTS="${CLX_CH_EVENTS:-1000000}" CLX_CH_CYCLES="${CLX_CH_CYCLES:-5}" CLX_CH_WAIT="${CLX_CH_WAIT:-1800}"
cd tests/clickhouse
if [ $# -eq 0 ]; then set -- test_export test_export_corrections test_cells; fi
exec /usr/bin/python3 -m unittest -v "$@"
