#!/usr/bin/env bash
# Installs every build and test dependency of costlynx from Debian 12's packages.
# Idempotent: does nothing (and needs no network) when everything is already installed.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler
  libh2o-evloop-dev librocksdb-dev libyajl-dev libssl-dev
  libgrpc-dev grpc-proto protobuf-compiler
  # tests: cmocka, real HTTP and gRPC clients (Python grpcio, Node @grpc/grpc-js)
  libcmocka-dev curl python3 python3-grpcio python3-protobuf protobuf-compiler-grpc
  # deployment tests: chart rendering checks, helm's archive
  python3-yaml unzip
  # dashboard tests: Debian's Chromium, driven by playwright-core
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (a newer build is often preinstalled): only
# ask Debian for it when there is no node/npm at all
{ command -v node >/dev/null && command -v npm >/dev/null; } || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
