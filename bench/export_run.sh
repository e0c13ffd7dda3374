#!/usr/bin/env bash
# ClickHouse export benchmark (docs/BENCHMARKS.md "ClickHouse export"): the exporter's
# catch-up rate for a backlog next to the ingest rate, measured in the same run, on a local
# clickhouse-server (Debian 12's 18.16) started here in a temp folder.
#  1. costlynxd WITHOUT export; gRPC Ingest load (bench/grpc_load, unary, 100-event batches)
#     until BACKLOG events are stored -> the ingest rate;
#  2. restart with --clickhouse-url; time until costlynx_export_lag_events is 0 -> the
#     catch-up rate (and the ClickHouse rows / bytes it made);
#  3. sustained: the same load again for SUSTAIN seconds WITH the export on; the lag is
#     sampled every second -> the ingest rate with the export running, the largest lag, and
#     the time to drain after the load stops. The exporter keeps up when the lag stays
#     bounded (it does not grow with the run's length) and drains within seconds.
# Needs both cores to itself: do not run it next to other jobs.
# Usage: bench/export_run.sh [backlog_events=5000000] [concurrency=64]
# Environment: SUSTAIN (20 s), BATCH_ROWS (50000), HTTP_PORT (18299), GRPC_PORT (18300), NOBUILD=1,
# LOG_LEVEL=debug (per-batch timings in server.log), KEEP=1 (keep the temp folder).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKLOG=${1:-5000000}
CONC=${2:-64}
SUSTAIN=${SUSTAIN:-20}
BATCH_ROWS=${BATCH_ROWS:-50000}
HTTP_PORT=${HTTP_PORT:-18299}
GRPC_PORT=${GRPC_PORT:-18300}
CH_HTTP=${CH_HTTP:-18323}
BUILD=${BUILD_DIR:-build}
if [ -z "${NOBUILD:-}" ]; then
  cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target costlynxd grpc_load >/dev/null
fi

TMP=$(mktemp -d /tmp/clx-export-bench-XXXXXX)
CH_PID="" CLX_PID=""
cleanup() {
  [ -n "$CLX_PID" ] && kill -TERM "$CLX_PID" 2>/dev/null && wait "$CLX_PID" 2>/dev/null || true
  [ -n "$CH_PID" ] && kill -TERM "$CH_PID" 2>/dev/null && wait "$CH_PID" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; } # user+system seconds
metric() { curl -fs "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" {print $2; exit}'; }
chq() { curl -fs "http://127.0.0.1:$CH_HTTP/" --data-binary "$1"; }

clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- --path="$TMP/ch/" --tmp_path="$TMP/ch/tmp/" \
  --logger.log="$TMP/ch/log" --logger.errorlog="$TMP/ch/err" --http_port=$CH_HTTP --tcp_port=$((CH_HTTP + 1)) \
  --interserver_http_port=$((CH_HTTP + 2)) --listen_host=127.0.0.1 >"$TMP/ch.out" 2>&1 &
CH_PID=$!
for _ in $(seq 300); do chq "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
"$BUILD/costlynxd" ctl clickhouse-schema --database bench |
  awk -v d="$TMP" 'BEGIN { RS = ";\n" } NF { f = sprintf("%s/ddl%d.sql", d, ++i); printf "%s", $0 > f; close(f) }'
for f in "$TMP"/ddl*.sql; do chq "$(cat "$f")" >/dev/null; done
chq "EXISTS TABLE bench.usage_events" | grep -q 1 || { echo "the export table was not created" >&2; exit 1; }

start_clx() {
  "$BUILD/costlynxd" --data-dir "$TMP/db" --http-addr 127.0.0.1:$HTTP_PORT --grpc-addr 127.0.0.1:$GRPC_PORT \
    --log-level "${LOG_LEVEL:-warn}" "$@" >>"$TMP/server.log" 2>&1 &
  CLX_PID=$!
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && return; sleep 0.05; done
  echo "costlynxd not ready" >&2; tail -5 "$TMP/server.log" >&2; exit 1
}
stop_clx() { kill -TERM "$CLX_PID"; wait "$CLX_PID" || true; CLX_PID=""; }

export COSTLYNX_ADMIN_TOKEN=bench-admin
start_clx
curl -fs -X POST -H "Authorization: Bearer bench-admin" "http://127.0.0.1:$HTTP_PORT/api/v1/admin/workspaces/default/projects" \
  -d '{"slug":"bench"}' >/dev/null
KEY=$(curl -fs -X POST -H "Authorization: Bearer bench-admin" "http://127.0.0.1:$HTTP_PORT/api/v1/admin/workspaces/default/keys" \
  -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')

load() { # seconds run-id -> prints "duration events/s"
  "$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "$KEY" --mode unary --batch 100 --concurrency "$CONC" \
    --seconds "$1" --run-id "$2" | sed -n 's/^RESULT.* duration_s=\([0-9.]*\) .*events_per_s=\([0-9.]*\).*/\1 \2/p'
}

echo "# $(date -u +%FT%TZ) $(nproc) cores; ClickHouse $(chq 'SELECT version()'); grpc_load unary -c$CONC, batch 100; export batch $BATCH_ROWS rows"
# 1. the backlog, export off
t0=$(now); n=0; round=0
while [ "$n" -lt "$BACKLOG" ]; do
  round=$((round + 1)); load 10 "b$round$$" >/dev/null
  n=$(metric 'costlynx_events_total\{outcome="inserted"\}' | cut -d. -f1)
done
t1=$(now)
printf "RESULT phase=ingest_only events=%d seconds=%.1f events_per_s=%.0f\n" "$n" "$(echo "$t1 - $t0" | bc)" \
  "$(echo "$n / ($t1 - $t0)" | bc -l)"
stop_clx

# 2. catch-up from zero
t0=$(now)
start_clx --clickhouse-url "http://127.0.0.1:$CH_HTTP" --clickhouse-database bench --clickhouse-batch-rows "$BATCH_ROWS"
ch0=$(cpu_s $CH_PID)
while [ "$(metric costlynx_export_lag_events)" != "0" ] || [ "$(metric costlynx_export_cursor)" = "0" ]; do sleep 0.2; done
t1=$(now)
clx_cpu=$(cpu_s $CLX_PID) ch_cpu=$(echo "$(cpu_s $CH_PID) - $ch0" | bc)
rows=$(chq "SELECT count() FROM bench.usage_events")
bytes=$(chq "SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = 'bench' AND active")
printf "RESULT phase=catch_up events=%d seconds=%.1f events_per_s=%.0f costlynxd_cpu_us_per_event=%.2f clickhouse_cpu_us_per_event=%.2f clickhouse_rows=%d clickhouse_bytes_per_row=%.1f errors=%s\n" \
  "$n" "$(echo "$t1 - $t0" | bc)" "$(echo "$n / ($t1 - $t0)" | bc -l)" "$(echo "$clx_cpu * 1000000 / $n" | bc -l)" \
  "$(echo "$ch_cpu * 1000000 / $n" | bc -l)" "$rows" "$(echo "$bytes / $rows" | bc -l)" "$(metric costlynx_export_errors_total)"

# 3. sustained ingestion with the export running
before=$(metric costlynx_export_cursor | cut -d. -f1) # caught up: every event so far
load "$SUSTAIN" "s$$" >"$TMP/sustain" &
LOAD=$!
maxlag=0
while kill -0 $LOAD 2>/dev/null; do
  lag=$(metric costlynx_export_lag_events | cut -d. -f1)
  [ "$lag" -gt "$maxlag" ] && maxlag=$lag
  sleep 1
done
wait $LOAD
endlag=$(metric costlynx_export_lag_events | cut -d. -f1)
t0=$(now)
while [ "$(metric costlynx_export_lag_events)" != "0" ]; do sleep 0.1; done
t1=$(now)
after=$(metric costlynx_export_cursor | cut -d. -f1) # caught up again: every event
read -r dur rate <"$TMP/sustain"
printf "RESULT phase=sustained seconds=%s ingest_events_per_s=%.0f events=%d max_lag_events=%d lag_at_end=%d drain_seconds=%.1f errors=%s\n" \
  "$dur" "$rate" "$((after - before))" "$maxlag" "$endlag" "$(echo "$t1 - $t0" | bc)" "$(metric costlynx_export_errors_total)"
final=$(chq "SELECT count() FROM bench.usage_events FINAL")
[ "$final" = "$after" ] || { echo "ClickHouse has $final rows (FINAL), costlynx $after events" >&2; exit 1; }
echo "# ClickHouse FINAL rows = costlynx events = $final"
