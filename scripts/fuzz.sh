#!/usr/bin/env bash
# Long libFuzzer runs of the harnesses in tests/fuzz (docs/fuzzing.md).
#
#   scripts/fuzz.sh [-t SECONDS] [-j PARALLEL] [--merge] [TARGET...]
#
#   TARGET     rest_json, grpc_batch, otlp, settings_records, catalog (default: all of them)
#   -t         seconds per target (default 600)
#   -j         targets fuzzed at once (default 2; each uses one core)
#   --merge    afterwards, add the inputs that reach new coverage to the committed seed corpus
#              tests/fuzz/corpus/<target>/ (libFuzzer -merge=1; review and commit them)
#
# Builds the harnesses into build-fuzz/ first (clang, -DCLX_FUZZ=ON: ASan + UBSan + coverage).
# Each target fuzzes from build-fuzz/fuzz-work/<target>/ (kept between runs) plus the seeds;
# a crashing input is written to build-fuzz/fuzz-artifacts/<target>/ and fails the script;
# logs in build-fuzz/fuzz-logs/. Prints executions, execs/s and coverage (cov/ft) per target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=600 jobs=2 merge=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) secs=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no harness tests/fuzz/fuzz_$t.c" >&2; exit 2; }
done

B=${FUZZ_BUILD_DIR:-build-fuzz}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLX_FUZZ=ON &&
       cmake --build "$B" -j2 --target fuzzers; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "fuzz.sh: building the harnesses failed" >&2
  exit 1
fi
mkdir -p "$B/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run() { # target
  local t=$1 bin="$B/fuzz_$1"
  mkdir -p "$B/fuzz-work/$t" "$B/fuzz-artifacts/$t"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$root/$B/fuzz-artifacts/$t/" "$B/fuzz-work/$t" "tests/fuzz/corpus/$t" \
    >"$B/fuzz-logs/$t.log" 2>&1
}

declare -A pids=()
failed=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "fuzzing $t for ${secs}s (log: $B/fuzz-logs/$t.log)"
  run "$t" &
  pids[$t]=$!
done
for t in "${targets[@]}"; do
  wait "${pids[$t]}" || failed+=("$t")
done

printf '\n%-18s %14s %10s %8s %8s %8s %s\n' target execs execs/s cov ft corpus result
for t in "${targets[@]}"; do
  l="$B/fuzz-logs/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$l" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$l" | tail -n 1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$l" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  res=ok
  [[ " ${failed[*]} " == *" $t "* ]] && res="FAILED: see $B/fuzz-artifacts/$t/"
  printf '%-18s %14s %10s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$res"
done

if [ "$merge" = 1 ]; then
  for t in "${targets[@]}"; do
    before=$(ls "tests/fuzz/corpus/$t" | wc -l)
    "$B/fuzz_$t" -merge=1 "tests/fuzz/corpus/$t" "$B/fuzz-work/$t" >"$B/fuzz-logs/$t.merge.log" 2>&1
    echo "merged $t: $before -> $(ls "tests/fuzz/corpus/$t" | wc -l) seeds"
  done
fi
[ ${#failed[@]} -eq 0 ] || { echo "fuzz.sh: crashes in: ${failed[*]}" >&2; exit 1; }
