#!/usr/bin/env bash
# gRPC ingest benchmark: starts costlynxd on a fresh data folder, creates project "bench" and
# an ingestion key over REST, then drives costlynx.v1.UsageIngestion with bench/grpc_load:
#  - unary Ingest, 100-event batches,
#  - client-streaming IngestStream, 100-event batches, MSGS messages per stream,
#  - the OTLP door: TraceService/Export with BATCH OpenLLMetry-like chat spans per request, without
#    and with the prompt attributes OpenLLMetry records by default,
# and prints each OTLP figure as a ratio of the unary Ingest figure of the same run.
# Prints the RESULT lines. Builds only the grpc_load target: build costlynxd first.
# Usage: bench/grpc_run.sh [duration_seconds=10] [concurrency=32]
# Environment: HTTP_PORT (18199), GRPC_PORT (18200), MSGS (50), BATCH (100), NOBUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONC=${2:-32}
BATCH=${BATCH:-100}
MSGS=${MSGS:-50}
HTTP_PORT=${HTTP_PORT:-18199}
GRPC_PORT=${GRPC_PORT:-18200}
BUILD=${BUILD_DIR:-build}
if [ -z "${NOBUILD:-}" ]; then
  cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target grpc_load >/dev/null
fi
[ -x "$BUILD/costlynxd" ] || { echo "$BUILD/costlynxd missing: build it first" >&2; exit 1; }

DATA=$(mktemp -d /tmp/clx-grpc-bench-XXXXXX)
TOKEN=bench-admin
COSTLYNX_ADMIN_TOKEN=$TOKEN "$BUILD/costlynxd" --data-dir "$DATA/db" --http-addr 127.0.0.1:$HTTP_PORT --grpc-addr 127.0.0.1:$GRPC_PORT \
  --log-level warn > "$DATA/server.log" 2>&1 &
PID=$!
cleanup() {
  local rc=$?
  kill -TERM $PID 2>/dev/null || true
  wait $PID 2>/dev/null || true
  if [ $rc -ne 0 ] && [ -s "$DATA/server.log" ]; then echo "--- server log (tail) ---" >&2; tail -5 "$DATA/server.log" >&2; fi
  rm -rf "$DATA"
}
trap cleanup EXIT
URL=http://127.0.0.1:$HTTP_PORT
for _ in $(seq 100); do curl -fs $URL/readyz >/dev/null && break; sleep 0.1; done
curl -fs $URL/readyz >/dev/null || { echo "costlynxd not ready" >&2; exit 1; }
curl -fs -X POST -H "Authorization: Bearer $TOKEN" $URL/api/v1/admin/workspaces/default/projects \
  -d '{"slug":"bench"}' >/dev/null
KEY=$(curl -fs -X POST -H "Authorization: Bearer $TOKEN" $URL/api/v1/admin/workspaces/default/keys \
  -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[ -n "$KEY" ] || { echo "could not create an ingestion key" >&2; exit 1; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, grpc_load -c$CONC -d${DUR}s batch=$BATCH, load generator on the same machine"
RC=0
# the ceiling, same run: the same 100-event messages answered without work (an unknown key is
# refused before anything is decoded), so every call here ends UNAUTHENTICATED by design
echo -n "ceiling (transport only): "
"$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "not-a-key" --mode unary --batch "$BATCH" \
  --concurrency "$CONC" --seconds "$DUR" --run-id "c$RANDOM$$" | grep '^RESULT' || true
rate() { sed -n 's/.* events_per_s=\([0-9.]*\).*/\1/p'; }
events() { sed -n 's/.* events=\([0-9]*\).*/\1/p'; }
TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' /proc/$PID/stat; } # costlynxd's user + system CPU
# One run of grpc_load (its arguments): prints its RESULT line with the server's CPU per event
# appended (cpu_us_per_event: costlynxd's CPU time over the run / events; steadier than events/s
# on a shared machine); the line is also left in $OUT.
run() {
  local t0 t1 rc=0
  t0=$(ticks)
  OUT=$("$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "$KEY" --batch "$BATCH" \
    --concurrency "$CONC" --seconds "$DUR" "$@") || rc=1
  t1=$(ticks)
  OUT="$OUT $(awk -v d=$((t1 - t0)) -v n="$(echo "$OUT" | events)" -v hz="$TCK" \
    'BEGIN { if (n > 0) printf "server_cpu_us_per_event=%.2f", d / hz * 1e6 / n }')"
  echo "$OUT"
  return $rc
}
# unary Ingest brackets the OTLP runs (before and after, same store), so a store that grows over
# the run does not favour either side; OTLP's figures are ratios to the mean of the two
run --mode unary --run-id "u$RANDOM$$" || RC=1
U1=$OUT
declare -a OTLP
for prompts in 0 1; do
  run --mode otlp --prompts $prompts --run-id "o$prompts$RANDOM$$" || RC=1
  OTLP[$prompts]=$OUT
done
run --mode unary --run-id "v$RANDOM$$" || RC=1
U2=$OUT
for prompts in 0 1; do
  awk -v o="$(echo "${OTLP[$prompts]}" | rate)" -v u1="$(echo "$U1" | rate)" -v u2="$(echo "$U2" | rate)" \
    -v oc="$(echo "${OTLP[$prompts]}" | sed -n 's/.*server_cpu_us_per_event=\([0-9.]*\).*/\1/p')" \
    -v uc1="$(echo "$U1" | sed -n 's/.*server_cpu_us_per_event=\([0-9.]*\).*/\1/p')" \
    -v uc2="$(echo "$U2" | sed -n 's/.*server_cpu_us_per_event=\([0-9.]*\).*/\1/p')" -v p=$prompts \
    'BEGIN { u = (u1 + u2) / 2; uc = (uc1 + uc2) / 2;
             if (u > 0) printf "RATIO otlp(prompts=%d)/unary events_per_s = %.2f (target >= 0.70); server CPU per event %.2f us vs %.2f us\n", p, o / u, oc, uc }'
done
run --mode stream --messages-per-stream "$MSGS" --run-id "s$RANDOM$$" || RC=1
exit $RC
