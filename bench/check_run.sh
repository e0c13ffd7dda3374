#!/usr/bin/env bash
# Budget check benchmark (issue 12; docs/governance.md): a fresh costlynxd with BUDGETS budgets in
# its workspace (every scope type), some spend written, then GET /api/v1/budgets/check at RATE
# per second for SECONDS (bench/check_bench: open loop, latency from the scheduled time).
# The target is p99 <= 1 ms at 10,000 checks/s. Needs the machine to itself for figures.
# Usage: bench/check_run.sh [rate=10000] [seconds=10] [connections=32]
# Environment: BUDGETS (50), HTTP_PORT (18399), NOBUILD=1, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-10000}
SECONDS_=${2:-10}
CONN=${3:-32}
BUDGETS=${BUDGETS:-50}
HTTP_PORT=${HTTP_PORT:-18399}
BUILD=${BUILD_DIR:-build}
if [ -z "${NOBUILD:-}" ]; then
  cmake -S . -B "$BUILD" >/dev/null
  cmake --build "$BUILD" -j2 --target costlynxd check_bench >/dev/null
fi
TMP=$(mktemp -d /tmp/clx-check-bench-XXXXXX)
CLX_PID=""
cleanup() {
  [ -n "$CLX_PID" ] && kill -TERM "$CLX_PID" 2>/dev/null && wait "$CLX_PID" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
TOKEN=bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
COSTLYNX_ADMIN_TOKEN=$TOKEN "$BUILD/costlynxd" --data-dir "$TMP/data" --http-addr "127.0.0.1:$HTTP_PORT" \
  --grpc-addr 127.0.0.1:0 --disk-reserve 0 --log-level warn >"$TMP/server.log" 2>&1 &
CLX_PID=$!
URL=http://127.0.0.1:$HTTP_PORT
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
adm() { curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
          "$URL/api/v1/admin/workspaces/default/$2" ${3:+-d "$3"}; }
adm POST projects '{"slug":"app"}' >/dev/null
KEY=$(adm POST keys '{"name":"bench","defaultProject":"app","defaultEnvironment":"prod"}' |
      sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
KEY_ID=$(adm GET keys | sed -n 's/.*"id":"\(key_[^"]*\)".*/\1/p' | head -1)
for i in $(seq "$BUDGETS"); do
  case $((i % 5)) in
    0) scope='{"type":"workspace"}' ;;
    1) scope='{"type":"project","project":"app"}' ;;
    2) scope='{"type":"environment","project":"app","environment":"prod"}' ;;
    3) scope='{"type":"feature","feature":"chat"}' ;;
    4) scope="{\"type\":\"key\",\"key\":\"$KEY_ID\"}" ;;
  esac
  adm POST budgets "{\"name\":\"b$i\",\"amountUsd\":\"$((i * 10))\",\"scope\":$scope}" >/dev/null
done
body='{"events":['
for i in $(seq 100); do body+="{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"inputTokens\":100,\"outputTokens\":50,\"requestId\":\"b$i\",\"feature\":\"chat\"},"; done
body="${body%,}]}"
curl -sf -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d "$body" "$URL/api/v1/usage/ingest" >/dev/null
echo "# $BUDGETS budgets in the workspace; check for project app, environment prod, feature chat"
"$BUILD/bench/check_bench" 127.0.0.1 "$HTTP_PORT" "$KEY" "$RATE" "$SECONDS_" "$CONN" "feature=chat"
