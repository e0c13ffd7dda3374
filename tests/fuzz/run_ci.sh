#!/usr/bin/env bash
# One short libFuzzer run, as ctest's fuzz/<name> tests do it:
#   run_ci.sh <harness binary> <seed corpus dir> [seconds=60]
# The seed corpus is only read: new inputs go to a temporary folder. A crash, a sanitizer
# report, a leak, a timeout (>10 s per input) or running out of memory (>2 GiB) fails the run;
# the input that did it is kept in <build dir>/fuzz-artifacts/<harness>/ (the log names it).
# Long runs that grow the corpus: scripts/fuzz.sh.
set -euo pipefail
bin=$1 seeds=$2 secs=${3:-60}
name=$(basename "$bin")
[ -x "$bin" ] || { echo "run_ci.sh: no harness at $bin (build it: CC=clang cmake -DCLX_FUZZ=ON)" >&2; exit 2; }
[ -d "$seeds" ] || { echo "run_ci.sh: no seed corpus at $seeds" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/clx-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
art="$(dirname "$bin")/fuzz-artifacts/$name/"
mkdir -p "$art"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
log="$work/log"
mkdir -p "$work/corpus"
set +e
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$art" "$work/corpus" "$seeds" >"$log" 2>&1
rc=$?
set -e
# the last progress line (execs, cov, ft, corpus) and the final stats, always
grep -E '^#[0-9]+' "$log" | tail -n 1 || true
grep -E '^stat::' "$log" || true
if [ $rc -ne 0 ]; then
  echo "fuzz run of $name FAILED (exit $rc); last lines of its log:" >&2
  tail -n 80 "$log" >&2
  exit 1
fi
echo "$name: no crash in ${secs}s ($(ls "$seeds" | wc -l) seeds)"
