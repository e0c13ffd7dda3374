#!/usr/bin/env bash
# Reprice benchmark (issue 11: >= 100,000 events/s scanned while ingestion keeps running):
# imports EVENTS events of an unpriced model into a fresh costlynxd, gives the model a workspace
# price, then times a dry run (scan and price only) and an apply (every event a new version),
# both while a loop of ingest requests keeps running; prints scanned/s and applied/s.
# Needs both cores to itself for figures: do not run it next to other jobs.
# Usage: bench/reprice_run.sh [events=1000000]   Environment: NOBUILD=1, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
BUILD=${BUILD_DIR:-build}
if [ -z "${NOBUILD:-}" ]; then
  cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target costlynxd >/dev/null
fi
TMP=$(mktemp -d /tmp/clx-reprice-bench-XXXXXX)
CLX_PID="" LOAD_PID=""
cleanup() {
  [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null || true
  [ -n "$CLX_PID" ] && kill -TERM "$CLX_PID" 2>/dev/null && wait "$CLX_PID" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
export COSTLYNX_ADMIN_TOKEN=bench-admin
"$BUILD/costlynxd" --data-dir "$TMP/db" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 --log-level warn \
  >"$TMP/server.log" 2>&1 &
CLX_PID=$!
PORT=""
for _ in $(seq 200); do
  PORT=$(sed -n 's|^costlynxd ready: http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/server.log")
  [ -n "$PORT" ] && break
  sleep 0.05
done
[ -n "$PORT" ] || { cat "$TMP/server.log" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
A="$URL/api/v1/admin/workspaces/default"
AUTH=(-H "Authorization: Bearer bench-admin" -H 'Content-Type: application/json')
KEY=$(curl -fs "${AUTH[@]}" "$A/keys" -d '{"name":"bench"}' | sed 's/.*"key":"\([^"]*\)".*/\1/')
awk -v n="$EVENTS" 'BEGIN { for (i = 1; i <= n; i++)
  printf "{\"provider\":\"openai\",\"model\":\"house-llm\",\"inputTokens\":%d,\"outputTokens\":%d,\"requestId\":\"rp-%09d\"}\n",
    100 + i % 900, 10 + i % 300, i }' | gzip -1 >"$TMP/events.ndjson.gz"
"$BUILD/costlynxd" ctl --url "$URL" import "$TMP/events.ndjson.gz" --key "$KEY" >/dev/null 2>&1
curl -fs "${AUTH[@]}" "$A/pricing/overrides" -d '{"provider":"openai","model":"house-llm","inputPerMtok":"2","outputPerMtok":"8"}' >/dev/null
# ingestion keeps running meanwhile: one client, single events, as fast as it is answered
( i=0; while :; do i=$((i + 1)); curl -fs -o /dev/null -X POST "$URL/api/v1/usage/ingest" -H "X-API-Key: $KEY" \
    -H 'Content-Type: application/json' -d "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"inputTokens\":10,\"outputTokens\":5,\"requestId\":\"live-$i\"}" || true; done ) &
LOAD_PID=$!
run() { # dryRun -> prints the final job
  local out id
  out=$(curl -fs "${AUTH[@]}" "$A/usage/reprice" -d "{\"from\":\"2000-01-01\",\"to\":\"2999-01-01\",\"dryRun\":$1}")
  id=$(echo "$out" | sed 's/.*"jobId":"\([^"]*\)".*/\1/')
  while echo "$out" | grep -q '"status":"running"'; do sleep 0.2; out=$(curl -fs "${AUTH[@]}" "$A/usage/jobs/$id"); done
  echo "$out"
}
for mode in true false; do
  t0=$(date +%s.%N)
  out=$(run $mode)
  t1=$(date +%s.%N)
  scanned=$(echo "$out" | sed 's/.*"scanned":\([0-9]*\).*/\1/')
  changed=$(echo "$out" | sed 's/.*"changed":\([0-9]*\).*/\1/')
  awk -v a="$t0" -v b="$t1" -v s="$scanned" -v c="$changed" -v m="$mode" 'BEGIN {
    printf "# dryRun=%s: %.2f s, %d scanned (%.0f/s), %d changed (%.0f/s)\n", m, b - a, s, s / (b - a), c, c / (b - a) }'
done
