#!/usr/bin/env bash
# Configures and builds costlynx into build/ (override with BUILD_DIR). TARGET=costlynxd
# builds only the daemon. Extra arguments go to CMake's configure step, e.g. -DCLX_SANITIZE=ON.
# Quiet on success; on failure prints the build log.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" &&
       cmake --build "$BUILD_DIR" -j"$(nproc)" ${TARGET:+--target "$TARGET"}; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "build failed" >&2
  exit 1
fi
