#!/usr/bin/env bash
# Installs every build and test dependency of costlynx from Debian 12's packages.
# Idempotent: does nothing (and needs no network) when everything is already installed.
# `scripts/deps.sh build` installs only what building costlynxd needs (the container image).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler
  libh2o-evloop-dev librocksdb-dev libyajl-dev libssl-dev zlib1g-dev
  libgrpc-dev grpc-proto protobuf-compiler
  # google/protobuf/any.proto, duration.proto (the well-known types) for google.rpc.Status details
  libprotobuf-dev
  # alert webhooks (libcurl); budget periods read IANA zones from tzdata
  libcurl4-openssl-dev tzdata
)
TEST_PACKAGES=(
  # tests: cmocka, real HTTP and gRPC clients (Python grpcio, Node @grpc/grpc-js)
  libcmocka-dev curl python3 python3-grpcio python3-protobuf protobuf-compiler-grpc
  # hostile-input suite: an HTTP/2 (prior knowledge) client that reports stream resets
  # (also the revocation tests on h2c)
  python3-h2
  # fuzzing (tests/fuzz): clang with libFuzzer and its sanitizer runtimes
  clang libclang-rt-14-dev
  # bench/h2_load (HTTP/2 load with a fresh requestId per request; tests/blackbox/test_bench_tools.py)
  libnghttp2-dev
  # deployment tests: chart rendering checks, helm's archive
  python3-yaml unzip
  # dashboard tests: Debian's Chromium, driven by playwright-core
  chromium
  # ClickHouse export and cells: a real ClickHouse (18.16) and HAProxy (2.6) started by the tests
  clickhouse-server haproxy
)
if [ "${1:-all}" = build ]; then
  PACKAGES=("${BUILD_PACKAGES[@]}")
else
  PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (a newer build is often preinstalled): only
# ask Debian for it when there is no node/npm at all
if [ "${1:-all}" != build ]; then
  { command -v node >/dev/null && command -v npm >/dev/null; } || missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
