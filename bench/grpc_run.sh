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
"$BUILD/costlynxd" --data-dir "$DATA/db" --http-addr 127.0.0.1:$HTTP_PORT --grpc-addr 127.0.0.1:$GRPC_PORT \
  --admin-token $TOKEN --log-level warn > "$DATA/server.log" 2>&1 &
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
UNARY=$("$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "$KEY" --mode unary --batch "$BATCH" \
  --concurrency "$CONC" --seconds "$DUR" --run-id "u$RANDOM$$") || RC=1
echo "$UNARY"
"$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "$KEY" --mode stream --batch "$BATCH" \
  --concurrency "$CONC" --seconds "$DUR" --messages-per-stream "$MSGS" --run-id "s$RANDOM$$" || RC=1
rate() { sed -n 's/.* events_per_s=\([0-9.]*\).*/\1/p'; }
for prompts in 0 1; do
  OTLP=$("$BUILD/bench/grpc_load" --addr 127.0.0.1:$GRPC_PORT --key "$KEY" --mode otlp --batch "$BATCH" \
    --prompts $prompts --concurrency "$CONC" --seconds "$DUR" --run-id "o$prompts$RANDOM$$") || RC=1
  echo "$OTLP"
  awk -v o="$(echo "$OTLP" | rate)" -v u="$(echo "$UNARY" | rate)" -v p=$prompts \
    'BEGIN { if (u > 0) printf "RATIO otlp(prompts=%d)/unary events_per_s = %.2f (target >= 0.70)\n", p, o / u }'
done
exit $RC
