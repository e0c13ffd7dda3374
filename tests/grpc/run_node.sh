#!/usr/bin/env bash
# Runs the Node.js (@grpc/grpc-js) black-box tests of costlynxd's gRPC door.
# Installs the npm dependencies into tests/grpc/node/node_modules first when missing
# (npm ci from package-lock.json; npm install when there is no lock file).
# Environment: COSTLYNXD (binary; default <repo>/build/costlynxd), CLX_SOURCE_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/node"

command -v node >/dev/null || { echo "run_node.sh: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "run_node.sh: npm is not installed" >&2; exit 2; }

if [ ! -d node_modules/@grpc/grpc-js ] || [ ! -d node_modules/@grpc/proto-loader ]; then
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi

exec node --test test_grpc_node.mjs
