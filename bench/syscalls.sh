#!/usr/bin/env bash
# What one request costs costlynxd in the kernel, counted rather than timed: system calls per
# request (by call), context switches per request and CPU time per request, over a fixed run of
# each single-event and batch path (perf stat on the server's process, every thread). The counts
# barely depend on how busy the machine is (CPU time per request does, somewhat; the number of
# requests per group commit, and so fdatasync per request, depends on the concurrency), so they
# can be compared across commits on a shared machine where throughput cannot.
# PROFILE=1 also samples where the server's CPU goes (perf record, cpu-clock) during the HTTP/1.1
# single-event run and prints the share of each binary and the top symbols.
# Usage: bench/syscalls.sh [DURATION_S=5] [CONN=64] [extra costlynxd flags...]
# Environment: PORT (18499), NOBUILD=1, PROFILE=1, PATHS (the paths to run, default
#              "h1_single h1_ceiling h2_single h2_ceiling h1_batch100")
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-5}
CONN=${2:-64}
shift $(($# < 2 ? $# : 2))
PORT=${PORT:-18499}
BUILD=build
command -v perf >/dev/null || { echo "perf is needed (linux-perf)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed" >&2; exit 1; }
if [ -z "${NOBUILD:-}" ]; then
  ./scripts/build.sh >/dev/null
  cmake --build "$BUILD" -j2 --target h2_load >/dev/null
fi
DATA=$(mktemp -d /tmp/clx-syscalls-XXXXXX)
"$BUILD/costlynxd" --data-dir "$DATA/db" --http-addr 127.0.0.1:$PORT --grpc-addr 127.0.0.1:0 \
  --admin-token bench-admin --log-level warn "$@" > "$DATA/server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fs $URL/readyz >/dev/null && break; sleep 0.1; done
curl -fs -X POST -H "Authorization: Bearer bench-admin" $URL/api/v1/admin/workspaces/default/projects \
  -d '{"slug":"bench"}' >/dev/null
KEY=$(curl -fs -X POST -H "Authorization: Bearer bench-admin" $URL/api/v1/admin/workspaces/default/keys \
  -d '{"name":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[ -n "$KEY" ] || { echo "could not create an ingestion key" >&2; exit 1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, ${DUR}s per path, $CONN in flight, costlynxd $* (threads: $(ls /proc/$PID/task | wc -l)), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

PATHS=${PATHS:-h1_single h1_ceiling h2_single h2_ceiling h1_batch100}
want() { [[ " $PATHS " == *" $1 "* ]]; }
# $1: label, $2: requests per event... the rest: the load command. perf stat covers the whole
# load command; requests come from its RESULT line.
# CPU ticks of each of costlynxd's threads, "comm ticks" per line (comm: clx-writer, rocksdb:low...;
# the REST loops are the busy ones among the threads named costlynxd)
thread_ticks() {
  for t in /proc/$PID/task/*; do
    echo "$(basename "$t") $(tr ' ' _ < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"
  done | sort
}
TCK=$(getconf CLK_TCK)
measure() {
  local label=$1 events_per_req=$2
  shift 2
  thread_ticks > "$DATA/t0"
  perf stat -x, -e 'syscalls:sys_enter_*' -e context-switches,task-clock -p $PID -o "$DATA/stat" &
  local sp=$!
  sleep 0.5
  local out
  out=$("$@" | grep '^RESULT' | tail -1)
  kill -INT $sp; wait $sp 2>/dev/null || true
  thread_ticks > "$DATA/t1"
  local reqs
  reqs=$(echo "$out" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
  # CPU per request by thread kind: the writer, the threads named costlynxd (the REST loops; main
  # and gRPC's queues are idle here), RocksDB's background flushes and compactions, the rest
  join "$DATA/t0" "$DATA/t1" | awk -v n="$reqs" -v hz="$TCK" '
    { d = ($5 - $3) * 1e6 / hz; k = $2 == "clx-writer" ? "writer" : $2 == "costlynxd" ? "loops" : $2 ~ /^rocksdb/ ? "rocksdb_bg" : "other"; us[k] += d }
    END { if (n > 0) printf "#   cpu_us_per_request by thread: loops=%.1f writer=%.1f rocksdb_bg=%.1f other=%.1f\n",
            us["loops"] / n, us["writer"] / n, us["rocksdb_bg"] / n, us["other"] / n }'

  awk -F, -v label="$label" -v n="$reqs" -v epr="$events_per_req" '
    /^#/ || NF < 3 { next }
    $3 ~ /^syscalls:sys_enter_/ { c = $1 + 0; if (c == 0) next; name = substr($3, 20); total += c; per[name] = c }
    $3 == "context-switches" { cs = $1 + 0 }
    $3 == "task-clock" { ms = $1 + 0 }
    END { if (n == 0) { print "RESULT " label " no requests"; exit 1 }
          line = ""; for (k in per) if (per[k] / n >= 0.005) line = line sprintf(" %s=%.3f", k, per[k] / n);
          printf "RESULT %s requests=%d syscalls_per_request=%.2f context_switches_per_request=%.3f cpu_us_per_request=%.1f cpu_us_per_event=%.2f%s\n",
            label, n, total / n, cs / n, ms * 1000 / n, ms * 1000 / n / epr, line }' "$DATA/stat"
  echo "#   load: $out"
}

if [ -n "${PROFILE:-}" ]; then
  perf record -F 1999 -g -p $PID -o "$DATA/perf.data" 2>/dev/null &
  RP=$!
  sleep 0.5
fi
want h1_single && measure h1_single 1 env BATCH=1 KEY="$KEY" IDLEN=33 RUN="s$RANDOM" wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/ingest.lua $URL
if [ -n "${PROFILE:-}" ]; then
  kill -INT $RP; wait $RP 2>/dev/null || true
  echo "# profile of the h1_single run: share of costlynxd's CPU samples by binary, then the top symbols"
  perf report -i "$DATA/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' | head -12 || true
  perf report -i "$DATA/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' | grep -v '^#' | head -30 || true
fi
want h1_ceiling && measure h1_ceiling 1 env BATCH=1 wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/ceiling.lua $URL
H2C=$(((CONN + 7) / 8))
want h2_single && measure h2_single 1 "$BUILD/bench/h2_load" --addr 127.0.0.1:$PORT --key "$KEY" --connections 8 --streams $H2C \
  --seconds "$DUR" --id-len 33 --run-id "h$RANDOM"
want h2_ceiling && measure h2_ceiling 1 "$BUILD/bench/h2_load" --addr 127.0.0.1:$PORT --mode ceiling --connections 8 --streams $H2C \
  --seconds "$DUR"
want h1_batch100 && measure h1_batch100 100 env BATCH=100 KEY="$KEY" IDLEN=33 RUN="b$RANDOM" wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/ingest.lua $URL
exit 0
