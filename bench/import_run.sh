#!/usr/bin/env bash
# Bulk import benchmark (issue 11: >= 150,000 events/s end to end for a 1M-line file, bounded
# memory): generates an NDJSON file of LINES events (with a bad line every 100,000), starts a fresh
# costlynxd, runs `costlynxd ctl import` on it and reports the end-to-end rate, the summary, and
# the server's peak RSS (VmHWM) before and after; then imports the same file again (all skipped).
# Needs both cores to itself: do not run it next to other jobs for figures.
# Usage: bench/import_run.sh [lines=1000000]
# Environment: GZIP=1 (send a .gz file), PARALLEL (2), CHUNK (8388608), NOBUILD=1, KEEP=1 (keep
# the temp folder). The server listens on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
BUILD=${BUILD_DIR:-build}
if [ -z "${NOBUILD:-}" ]; then
  cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target costlynxd >/dev/null
fi
TMP=$(mktemp -d /tmp/clx-import-bench-XXXXXX)
CLX_PID=""
cleanup() {
  [ -n "$CLX_PID" ] && kill -TERM "$CLX_PID" 2>/dev/null && wait "$CLX_PID" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# the file: a mix of models, projects absent (the key has no defaults), one bad line per 100,000
FILE="$TMP/events.ndjson"
awk -v n="$LINES" 'BEGIN {
  split("gpt-4o-mini gpt-4o claude-3-5-haiku claude-3-7-sonnet-20250219", m, " ");
  split("openai openai anthropic anthropic", p, " ");
  for (i = 1; i <= n; i++) {
    if (i % 100000 == 0) { print "{\"provider\":\"openai\",\"model\":"; continue }
    k = i % 4 + 1;
    printf "{\"provider\":\"%s\",\"model\":\"%s\",\"inputTokens\":%d,\"outputTokens\":%d,\"requestId\":\"imp-%09d\",\"feature\":\"f%d\"}\n",
      p[k], m[k], 100 + i % 900, 10 + i % 300, i, i % 16
  }
}' >"$FILE"
if [ -n "${GZIP:-}" ]; then gzip -1 "$FILE"; FILE="$FILE.gz"; fi
echo "# file: $LINES lines, $(du -h "$FILE" | cut -f1)"

export COSTLYNX_ADMIN_TOKEN=bench-admin
"$BUILD/costlynxd" --data-dir "$TMP/db" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
  --log-level warn >"$TMP/server.log" 2>&1 &
CLX_PID=$!
HTTP_PORT=""
for _ in $(seq 200); do
  HTTP_PORT=$(sed -n 's|^costlynxd ready: http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/server.log")
  [ -n "$HTTP_PORT" ] && break
  sleep 0.05
done
[ -n "$HTTP_PORT" ] || { cat "$TMP/server.log" >&2; exit 1; }
KEY=$(curl -fs -X POST -H "Authorization: Bearer bench-admin" -H 'Content-Type: application/json' \
  "http://127.0.0.1:$HTTP_PORT/api/v1/admin/workspaces/default/keys" -d '{"name":"bench"}' |
  sed 's/.*"key":"\([^"]*\)".*/\1/')
hwm() { awk '/^VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$CLX_PID/status"; }
echo "# server peak RSS before: $(hwm)"
for run in first again; do
  t0=$(date +%s.%N)
  "$BUILD/costlynxd" ctl --url "http://127.0.0.1:$HTTP_PORT" import "$FILE" --key "$KEY" \
    --parallel "${PARALLEL:-2}" --chunk-bytes "${CHUNK:-8388608}" >"$TMP/summary.json" 2>"$TMP/progress.txt"
  t1=$(date +%s.%N)
  echo "# $run: $(tail -c 300 "$TMP/progress.txt" | tr '\r' '\n' | grep -v '^$' | tail -1)"
  awk -v a="$t0" -v b="$t1" -v n="$LINES" 'BEGIN { printf "# %s: %.2f s, %.0f lines/s end to end\n", "'"$run"'", b - a, n / (b - a) }'
  head -c 200 "$TMP/summary.json"; echo
  echo "# server peak RSS after $run: $(hwm)"
done
