#!/usr/bin/env bash
# Ingest benchmark: starts costlynxd on a fresh data folder and measures, in one run,
#  - the ceiling: h2o answering /healthz with the same body sizes (no work at all),
#  - single events and 100-event batches through the whole durable path,
#  - RocksDB's own synced-batch ceiling (db_bench) for the storage side.
# Prints RESULT lines and a markdown table for docs/BENCHMARKS.md.
# Usage: bench/run.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONN=${2:-64}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
command -v wrk >/dev/null || { $SUDO apt-get update -qq; $SUDO apt-get install -y -qq wrk >/dev/null; }
command -v db_bench >/dev/null || $SUDO apt-get install -y -qq rocksdb-tools >/dev/null || true
./scripts/build.sh >/dev/null

DATA=$(mktemp -d /tmp/clx-bench-XXXXXX)
TOKEN=bench-admin
PORT=${PORT:-18099}
COSTLYNX_ADMIN_TOKEN=$TOKEN ./build/costlynxd --data-dir "$DATA/db" --http-addr 127.0.0.1:$PORT --grpc-addr 127.0.0.1:0 --log-level warn \
  > "$DATA/server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs $URL/readyz >/dev/null && break; sleep 0.1; done
curl -fs -X POST -H "Authorization: Bearer $TOKEN" $URL/api/v1/admin/workspaces/default/projects \
  -d '{"slug":"bench"}' >/dev/null
curl -fs -X PATCH -H "Authorization: Bearer $TOKEN" $URL/api/v1/admin/workspaces/default \
  -d '{"tagDimensions":["team","customer_tier"]}' >/dev/null
KEY=$(curl -fs -X POST -H "Authorization: Bearer $TOKEN" $URL/api/v1/admin/workspaces/default/keys \
  -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')

result() { grep '^RESULT' | tail -1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t2 -c$CONN -d${DUR}s, load generator on the same machine"
CEIL1=$(BATCH=1 wrk -t2 -c$CONN -d${DUR}s -s bench/ceiling.lua $URL | result); echo "ceiling single  $CEIL1"
ING1=$(BATCH=1 KEY=$KEY RUN=s$RANDOM wrk -t2 -c$CONN -d${DUR}s -s bench/ingest.lua $URL | result); echo "ingest single   $ING1"
CEIL100=$(BATCH=100 wrk -t2 -c$CONN -d${DUR}s -s bench/ceiling.lua $URL | result); echo "ceiling batch   $CEIL100"
ING100=$(BATCH=100 KEY=$KEY RUN=b$RANDOM wrk -t2 -c$CONN -d${DUR}s -s bench/ingest.lua $URL | result); echo "ingest batch100 $ING100"
# issue 10: the same batches with a timestamp, a userId and 4 tags (2 declared dimensions)
RICH100=$(RICH=1 BATCH=100 KEY=$KEY RUN=r$RANDOM wrk -t2 -c$CONN -d${DUR}s -s bench/ingest.lua $URL | result); echo "ingest rich100  $RICH100"
if command -v db_bench >/dev/null; then
  DBB=$(db_bench --benchmarks=fillrandom --db="$DATA/dbbench" --sync=1 --batch_size=100 --value_size=230 \
        --key_size=40 --num=2000000 --duration=$DUR --threads=1 --compression_type=lz4 2>/dev/null | grep '^fillrandom')
  echo "db_bench synced 100-batches: $DBB"
fi
field() { echo "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "| path | requests/s | events/s | p99 ms | ceiling requests/s | ratio |"
echo "|---|---|---|---|---|---|"
echo "| single event (durable) | $(field "$ING1" req_per_s) | $(field "$ING1" events_per_s) | $(field "$ING1" p99_ms) | $(field "$CEIL1" req_per_s) | $(ratio "$(field "$ING1" req_per_s)" "$(field "$CEIL1" req_per_s)") |"
echo "| 100-event batch (durable) | $(field "$ING100" req_per_s) | $(field "$ING100" events_per_s) | $(field "$ING100" p99_ms) | $(field "$CEIL100" req_per_s) | $(ratio "$(field "$ING100" req_per_s)" "$(field "$CEIL100" req_per_s)") |"
echo "| 100-event batch with timestamp, userId, 4 tags | $(field "$RICH100" req_per_s) | $(field "$RICH100" events_per_s) | $(field "$RICH100" p99_ms) | $(field "$CEIL100" req_per_s) | $(ratio "$(field "$RICH100" req_per_s)" "$(field "$CEIL100" req_per_s)") |"
echo
echo "rich / plain 100-event batches: $(ratio "$(field "$RICH100" events_per_s)" "$(field "$ING100" events_per_s)") (issue 10 asks >= 0.9)"
grep -v '^$' "$DATA/server.log" | tail -3 || true
