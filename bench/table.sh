#!/usr/bin/env bash
# Issue 15's table, every row with its same-run ceiling and ratio, RUNS times; then the median
# and range of each. Every run starts costlynxd on a fresh data folder (project "bench", one key)
# and measures, in this order:
#   h1_single   REST, one event per request, HTTP/1.1 keep-alive: wrk -t2 -c$CONN bench/ingest.lua
#               vs ceiling: the same wrk with bench/ceiling.lua (230-byte POST to /healthz)
#   h2_single   REST, one event per request, h2c prior knowledge: bench/h2_load (every request a
#               fresh requestId, answers checked for "inserted":1), $H2_CONNS connections x
#               $H2_STREAMS streams vs ceiling: the same h2_load posting 230 bytes to /healthz
#               (h2load's own /healthz figure is printed beside it, to show h2_load is not the limit)
#   rest_batch  REST, 100-event batches (wrk) vs ceiling: db_bench fillrandom, one thread, 100-row
#               batches, synced (ratio_sync) and not synced (ratio_nosync, the issue's ceiling)
#   peak_rss    costlynxd's VmHWM after the three REST runs (no ceiling)
#   grpc_batch  gRPC unary Ingest, 100-event batches, $CONN in flight (bench/grpc_load) vs the
#               rest_batch figure of the same run
#   disk        costlynxd stopped, its folder fully compacted (bench/disk_bench): table-file bytes
#               per stored event, all families, and per family (every requestId is 33 chars)
#   costs_query bench/rollup_bench $QUERY_EVENTS (own store, real writer): p50 of the 30-day costs
#               query right after the load ("after_burst") and once the writer's upkeep ran ("at_rest")
# Ingest rows also print costlynxd's CPU per event (cpu_us_per_event), steadier than events/s on a
# shared machine. Prints RESULT lines; the last ones are "RESULT summary" with median and range.
# Usage: bench/table.sh [RUNS=5] [DURATION_S=10] [CONN=64]
# Environment: QUERY_EVENTS (10000000; 0 skips the costs row), H2_CONNS (8), H2_STREAMS (CONN/H2_CONNS),
#              PORT (18399), GRPC_PORT (18400), NOBUILD=1, KEEP=1 (keep the data folders),
#              SERVER_ARGS (more costlynxd flags, e.g. "--memtable-budget 40MiB --http-threads 1")
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DUR=${2:-10}
CONN=${3:-64}
QUERY_EVENTS=${QUERY_EVENTS:-10000000}
H2_CONNS=${H2_CONNS:-8}
H2_STREAMS=${H2_STREAMS:-$(((CONN + H2_CONNS - 1) / H2_CONNS))}
PORT=${PORT:-18399}
GRPC_PORT=${GRPC_PORT:-18400}
IDLEN=33
BUILD=build

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v db_bench >/dev/null || need+=(rocksdb-tools)
pkg-config --exists libnghttp2 || need+=(libnghttp2-dev)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -z "${NOBUILD:-}" ]; then
  ./scripts/build.sh >/dev/null
  cmake --build "$BUILD" -j2 --target grpc_load h2_load disk_bench rollup_bench >/dev/null
fi
for b in costlynxd bench/grpc_load bench/h2_load bench/disk_bench bench/rollup_bench; do
  [ -x "$BUILD/$b" ] || { echo "$BUILD/$b missing" >&2; exit 1; }
done

TOP=$(mktemp -d /tmp/clx-table-XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  [ -n "${KEEP:-}" ] && echo "# data kept in $TOP" >&2 || rm -rf "$TOP"
}
trap cleanup EXIT
ROWS="$TOP/rows" # "row metric value" per run, for the summary
: > "$ROWS"

TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
field() { echo "$1" | sed -n "s/.*[ ]$2=\([0-9.]*\).*/\1/p" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.3f", a / b; else print "" }'; }
cpu_per_event() { awk -v d="$1" -v n="$2" -v hz="$TCK" 'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n }'; }
keep() { [ -n "$3" ] && echo "$1 $2 $3" >> "$ROWS"; return 0; }
result() { grep '^RESULT' | tail -1 || true; }
# runs a load generator or tool and prints its last RESULT line; a tool that fails (e.g. h2_load
# counting answers other than "inserted":1) still leaves its line, errors= says so, and the run
# goes on instead of ending the whole table under set -e
run() { { "$@" || echo "# $1 exited $?" >&2; } | result; }

# $1: run number. One whole run on a fresh server.
one_run() {
  local r=$1 DATA="$TOP/run$1" URL=http://127.0.0.1:$PORT t0 t1 out KEY
  mkdir -p "$DATA"
  "$BUILD/costlynxd" --data-dir "$DATA/db" --http-addr 127.0.0.1:$PORT --grpc-addr 127.0.0.1:$GRPC_PORT \
    --admin-token bench-admin --log-level warn ${SERVER_ARGS:-} > "$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -fs $URL/readyz >/dev/null && break; sleep 0.1; done
  curl -fs $URL/readyz >/dev/null || { echo "costlynxd not ready" >&2; tail -5 "$DATA/server.log" >&2; exit 1; }
  curl -fs -X POST -H "Authorization: Bearer bench-admin" $URL/api/v1/admin/workspaces/default/projects \
    -d '{"slug":"bench"}' >/dev/null
  KEY=$(curl -fs -X POST -H "Authorization: Bearer bench-admin" $URL/api/v1/admin/workspaces/default/keys \
    -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
  [ -n "$KEY" ] || { echo "could not create an ingestion key" >&2; exit 1; }

  # --- REST single event, HTTP/1.1 keep-alive
  local c1 i1 cpu1
  c1=$(run env BATCH=1 wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/ceiling.lua $URL)
  t0=$(ticks)
  i1=$(run env BATCH=1 KEY="$KEY" IDLEN=$IDLEN RUN="h1r$r$RANDOM" wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/ingest.lua $URL)
  t1=$(ticks)
  cpu1=$(cpu_per_event $((t1 - t0)) "$(field "$i1" requests)")
  echo "RESULT run=$r row=h1_single events_per_s=$(field "$i1" events_per_s) ceiling_req_per_s=$(field "$c1" req_per_s)" \
    "ratio=$(ratio "$(field "$i1" req_per_s)" "$(field "$c1" req_per_s)") p99_ms=$(field "$i1" p99_ms)" \
    "errors=$(field "$i1" errors) cpu_us_per_event=$cpu1"
  keep h1_single events_per_s "$(field "$i1" events_per_s)"
  keep h1_single ceiling "$(field "$c1" req_per_s)"
  keep h1_single ratio "$(ratio "$(field "$i1" req_per_s)" "$(field "$c1" req_per_s)")"
  keep h1_single cpu_us_per_event "$cpu1"

  # --- REST single event, h2c prior knowledge
  local c2 i2 cpu2 hl
  c2=$(run "$BUILD/bench/h2_load" --addr 127.0.0.1:$PORT --mode ceiling --connections "$H2_CONNS" \
    --streams "$H2_STREAMS" --seconds "$DUR")
  head -c 230 /dev/zero | tr '\0' x > "$DATA/body230"
  hl=$({ h2load -c "$H2_CONNS" -m "$H2_STREAMS" -t 2 -D "$DUR" -d "$DATA/body230" $URL/healthz 2>/dev/null || true; } |
    sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
  t0=$(ticks)
  i2=$(run "$BUILD/bench/h2_load" --addr 127.0.0.1:$PORT --key "$KEY" --connections "$H2_CONNS" \
    --streams "$H2_STREAMS" --seconds "$DUR" --id-len $IDLEN --run-id "h2r$r$RANDOM")
  t1=$(ticks)
  cpu2=$(cpu_per_event $((t1 - t0)) "$(field "$i2" requests)")
  echo "RESULT run=$r row=h2_single events_per_s=$(field "$i2" events_per_s) ceiling_req_per_s=$(field "$c2" req_per_s)" \
    "ratio=$(ratio "$(field "$i2" req_per_s)" "$(field "$c2" req_per_s)") h2load_ceiling_req_per_s=${hl:-n/a}" \
    "p99_ms=$(field "$i2" p99_ms) errors=$(field "$i2" errors) cpu_us_per_event=$cpu2"
  keep h2_single events_per_s "$(field "$i2" events_per_s)"
  keep h2_single ceiling "$(field "$c2" req_per_s)"
  keep h2_single ratio "$(ratio "$(field "$i2" req_per_s)" "$(field "$c2" req_per_s)")"
  keep h2_single cpu_us_per_event "$cpu2"

  # --- REST 100-event batches vs db_bench synced / unsynced 100-row batches
  local ib cpub dbs dbn dbs_rate dbn_rate
  t0=$(ticks)
  ib=$(run env BATCH=100 KEY="$KEY" IDLEN=$IDLEN RUN="bt$r$RANDOM" wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/ingest.lua $URL)
  t1=$(ticks)
  cpub=$(cpu_per_event $((t1 - t0)) "$(awk -v q="$(field "$ib" requests)" 'BEGIN { print q * 100 }')")
  local hwm
  hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status")

  # --- gRPC unary, 100-event batches
  local g cpug
  t0=$(ticks)
  g=$(run "$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "$KEY" --mode unary --batch 100 \
    --concurrency "$CONN" --seconds "$DUR" --id-len $IDLEN --run-id "g$r$RANDOM")
  t1=$(ticks)
  cpug=$(cpu_per_event $((t1 - t0)) "$(field "$g" events)")

  # costlynxd stops before db_bench, which then has the disk and the cores to itself as a ceiling
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  dbs=$(db_bench --benchmarks=fillrandom --db="$DATA/dbbench-sync" --sync=1 --batch_size=100 --value_size=230 \
    --key_size=40 --num=20000000 --duration="$DUR" --threads=1 --compression_type=lz4 2>/dev/null | grep '^fillrandom' || true)
  dbn=$(db_bench --benchmarks=fillrandom --db="$DATA/dbbench-nosync" --sync=0 --batch_size=100 --value_size=230 \
    --key_size=40 --num=20000000 --duration="$DUR" --threads=1 --compression_type=lz4 2>/dev/null | grep '^fillrandom' || true)
  rm -rf "$DATA/dbbench-sync" "$DATA/dbbench-nosync"
  dbs_rate=$(echo "$dbs" | sed -n 's/.* \([0-9]*\) ops\/sec.*/\1/p')
  dbn_rate=$(echo "$dbn" | sed -n 's/.* \([0-9]*\) ops\/sec.*/\1/p')
  echo "RESULT run=$r row=rest_batch events_per_s=$(field "$ib" events_per_s) db_bench_sync_rows_per_s=${dbs_rate:-n/a}" \
    "ratio_sync=$(ratio "$(field "$ib" events_per_s)" "$dbs_rate") db_bench_nosync_rows_per_s=${dbn_rate:-n/a}" \
    "ratio_nosync=$(ratio "$(field "$ib" events_per_s)" "$dbn_rate") p99_ms=$(field "$ib" p99_ms)" \
    "errors=$(field "$ib" errors) cpu_us_per_event=$cpub"
  keep rest_batch events_per_s "$(field "$ib" events_per_s)"
  keep rest_batch ratio_sync "$(ratio "$(field "$ib" events_per_s)" "$dbs_rate")"
  keep rest_batch ratio_nosync "$(ratio "$(field "$ib" events_per_s)" "$dbn_rate")"
  keep rest_batch cpu_us_per_event "$cpub"
  echo "RESULT run=$r row=peak_rss vmhwm_mib=$hwm (after the three REST runs)"
  keep peak_rss vmhwm_mib "$hwm"
  echo "RESULT run=$r row=grpc_batch events_per_s=$(field "$g" events_per_s) rest_batch_events_per_s=$(field "$ib" events_per_s)" \
    "ratio=$(ratio "$(field "$g" events_per_s)" "$(field "$ib" events_per_s)") p99_ms=$(field "$g" p99_ms)" \
    "cpu_us_per_event=$cpug"
  keep grpc_batch events_per_s "$(field "$g" events_per_s)"
  keep grpc_batch ratio "$(ratio "$(field "$g" events_per_s)" "$(field "$ib" events_per_s)")"
  keep grpc_batch cpu_us_per_event "$cpug"

  # --- disk per stored event, after a full compaction
  out=$(run "$BUILD/bench/disk_bench" "$DATA/db")
  echo "RESULT run=$r row=disk ${out#RESULT disk }"
  keep disk bytes_per_event "$(field "$out" bytes_per_event)"
  [ -n "${KEEP:-}" ] || rm -rf "$DATA"

  # --- the 30-day costs query over QUERY_EVENTS events
  if [ "$QUERY_EVENTS" -gt 0 ]; then
    out=$("$BUILD/bench/rollup_bench" "$QUERY_EVENTS" "$TOP/rollup$r" || echo "# rollup_bench exited $?" >&2)
    rm -rf "$TOP/rollup$r"
    local burst rest exact
    burst=$(echo "$out" | grep 'when=right_after_load' | sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p')
    rest=$(echo "$out" | grep 'when=after_writer_maintenance' | sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p')
    exact=$(echo "$out" | grep -c 'exact=yes' || true)
    echo "RESULT run=$r row=costs_query events=$QUERY_EVENTS p50_ms_at_rest=$rest p50_ms_after_burst=$burst" \
      "exact_passes=$exact/3 $(echo "$out" | grep 'RESULT load' | sed 's/^RESULT load //')"
    keep costs_query p50_ms_at_rest "$rest"
    keep costs_query p50_ms_after_burst "$burst"
  fi
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $RUNS runs of ${DUR}s, $CONN in flight (h2c: $H2_CONNS x $H2_STREAMS)," \
  "costlynxd ${SERVER_ARGS:-(defaults)}," \
  "load generators on the same machine, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$RUNS"); do
  one_run "$r"
done

# median (mean of the middle two for an even count) and range of every kept metric
awk '{ k = $1 " " $2; v[k] = v[k] " " $3; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
     END { for (i = 1; i <= n; i++) { k = order[i]; m = split(substr(v[k], 2), a, " ");
             for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++) if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
             med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2;
             split(k, kk, " ");
             printf "RESULT summary row=%s metric=%s runs=%d median=%s min=%s max=%s\n", kk[1], kk[2], m, med, a[1], a[m] } }' "$ROWS" |
  tee "$TOP/summary"

# the same as a markdown table for docs/BENCHMARKS.md: "median (min–max)" of each figure
cell() { # row metric [decimals]
  awk -v r="$1" -v m="$2" -v d="${3:-0}" '$3 == "row=" r && $4 == "metric=" m {
      split($6, md, "="); split($7, lo, "="); split($8, hi, "=");
      f = "%." d "f"; printf f " (" f "–" f ")", md[2], lo[2], hi[2]; found = 1 }
    END { if (!found) printf "—" }' "$TOP/summary"
}
echo
echo "| path | median (range) over $RUNS runs | ceiling, same run | ratio | target |"
echo "|---|---|---|---|---|"
echo "| REST, 1 event per request, HTTP/1.1 keep-alive | $(cell h1_single events_per_s) ev/s | $(cell h1_single ceiling) req/s (wrk, /healthz) | $(cell h1_single ratio 2) | ≥ 0.6 |"
echo "| REST, 1 event per request, h2c (prior knowledge) | $(cell h2_single events_per_s) ev/s | $(cell h2_single ceiling) req/s (h2_load, /healthz) | $(cell h2_single ratio 2) | ≥ 0.6 |"
echo "| REST, 100-event batches | $(cell rest_batch events_per_s) ev/s | db_bench 100-row batches | synced $(cell rest_batch ratio_sync 2), not synced $(cell rest_batch ratio_nosync 2) | keep |"
echo "| gRPC unary, 100-event batches | $(cell grpc_batch events_per_s) ev/s | the REST batch figure | $(cell grpc_batch ratio 2) | ≥ 300k ev/s or ≥ 0.9 |"
echo "| costs query, 30 days, $QUERY_EVENTS events | p50 $(cell costs_query p50_ms_at_rest 1) ms at rest; $(cell costs_query p50_ms_after_burst 1) ms right after the load | — | — | ≤ 20 ms; ≤ 60 ms |"
echo "| peak RSS under the REST benchmark | $(cell peak_rss vmhwm_mib 1) MiB | — | — | ≤ 128 MiB |"
echo "| disk per stored event (after compaction, 33-char ids) | $(cell disk bytes_per_event 1) B | — | — | ≤ 100 B |"
echo
echo "Server CPU per event (µs): HTTP/1.1 single $(cell h1_single cpu_us_per_event 1), h2c single $(cell h2_single cpu_us_per_event 1)," \
  "REST batch $(cell rest_batch cpu_us_per_event 2), gRPC batch $(cell grpc_batch cpu_us_per_event 2)"
