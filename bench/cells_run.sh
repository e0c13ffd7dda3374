#!/usr/bin/env bash
# Cells benchmark (docs/scale-out.md): what the HAProxy router costs. Starts two cells (c1, c2)
# and deploy/haproxy/costlynx.cfg as shipped in front of them, then drives gRPC Ingest (unary, 100-event batches)
# (bench/grpc_load) with a c1 key: straight to c1, then through the router — same run, same
# machine. Also REST through the router with curl for a single event (a routing smoke check).
# Needs both cores to itself: do not run it next to other jobs.
# Usage: bench/cells_run.sh [seconds=10] [concurrency=64]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONC=${2:-64}
BUILD=${BUILD_DIR:-build}
if [ -z "${NOBUILD:-}" ]; then
  cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target costlynxd grpc_load >/dev/null
fi
TMP=$(mktemp -d /tmp/clx-cells-bench-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
export COSTLYNX_ADMIN_TOKEN=bench-admin
cell() { # id http grpc
  "$BUILD/costlynxd" --data-dir "$TMP/$1" --http-addr 127.0.0.1:$2 --grpc-addr 127.0.0.1:$3 --cell-id "$1" \
    --log-level warn >"$TMP/$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$2/readyz" >/dev/null && return; sleep 0.05; done
  echo "cell $1 not ready" >&2; exit 1
}
cell c1 18401 18402
C1_PID=${PIDS[-1]}
cell c2 18411 18412
cp deploy/haproxy/costlynx.cfg deploy/haproxy/cells.map "$TMP/"
echo "default c1" >"$TMP/workspaces.map"
CLX_ROUTER_HTTP=127.0.0.1:18420 CLX_ROUTER_GRPC=127.0.0.1:18421 CLX_ROUTER_HEALTH=127.0.0.1:18422 \
  CLX_ROUTER_SOCKET="$TMP/router.sock" CLX_CELL_C1_HTTP=127.0.0.1:18401 CLX_CELL_C1_GRPC=127.0.0.1:18402 \
  CLX_CELL_C2_HTTP=127.0.0.1:18411 CLX_CELL_C2_GRPC=127.0.0.1:18412 \
  haproxy -db -f "$TMP/costlynx.cfg" >"$TMP/haproxy.log" 2>&1 &
PIDS+=($!)
HAPROXY_PID=$!
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; } # user+system seconds
for _ in $(seq 100); do curl -fs http://127.0.0.1:18422/healthz >/dev/null && break; sleep 0.05; done
curl -fs -X POST -H "Authorization: Bearer bench-admin" http://127.0.0.1:18420/api/v1/admin/workspaces/default/projects \
  -d '{"slug":"bench"}' >/dev/null
KEY=$(curl -fs -X POST -H "Authorization: Bearer bench-admin" http://127.0.0.1:18420/api/v1/admin/workspaces/default/keys \
  -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
case "$KEY" in clx_c1_*) ;; *) echo "the router minted a key on the wrong cell: $KEY" >&2; exit 1 ;; esac
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(haproxy -v | head -1 | cut -d' ' -f1-3), grpc_load unary -c$CONC -d${DUR}s batch 100"
run() { # address name: the RESULT line, plus the CPU the cell and the router spent per event
  local c0 h0 out ev
  c0=$(cpu_s $C1_PID) h0=$(cpu_s $HAPROXY_PID)
  out=$("$BUILD/bench/grpc_load" --addr "$1" --key "$KEY" --mode unary --batch 100 --concurrency "$CONC" \
    --seconds "$DUR" --run-id "$2$$" | grep '^RESULT')
  ev=$(echo "$out" | sed -n 's/.* events=\([0-9]*\) .*/\1/p')
  echo "$out" | sed "s/^RESULT/RESULT path=$2/" | tr -d '\n'
  printf " cell_cpu_us_per_event=%.2f router_cpu_us_per_event=%.2f\n" "$(echo "($(cpu_s $C1_PID) - $c0) * 1000000 / $ev" | bc -l)" \
    "$(echo "($(cpu_s $HAPROXY_PID) - $h0) * 1000000 / $ev" | bc -l)"
}
run 127.0.0.1:18402 direct
run 127.0.0.1:18421 router
curl -fs -o /dev/null -w "REST through the router: HTTP %{http_code}, %{time_total}s\n" -H "Content-Type: application/json" \
  -H "X-API-Key: $KEY" http://127.0.0.1:18420/api/v1/usage/ingest \
  -d '{"provider":"openai","model":"gpt-4o-mini","inputTokens":1,"outputTokens":1,"requestId":"bench-rest-1"}'
