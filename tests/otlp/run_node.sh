#!/usr/bin/env bash
# The OTLP tests with real exporters (OpenLLMetry over the openai / anthropic SDKs; the OTLP
# proto, JSON and gRPC exporters; an SDK set up by OTEL_EXPORTER_OTLP_* variables):
#  - test_otlp_capture.mjs: captured bodies (and the checked-in vectors) through the decoder;
#  - test_otlp_door.mjs: exported to the real costlynxd, compared with the REST door.
# Installs the npm dependencies into tests/otlp/node/node_modules first when one is missing
# (npm ci from package-lock.json).
# Environment: CLX_OTLP_DUMP (the decoder tool; default <repo>/build/clx_otlp_dump), COSTLYNXD
# (the binary; default <repo>/build/costlynxd).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/node"

command -v node >/dev/null || { echo "run_node.sh: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "run_node.sh: npm is not installed" >&2; exit 2; }

if ! node -e 'const fs = require("fs");
  for (const d of Object.keys(require("./package.json").dependencies))
    if (!fs.existsSync("node_modules/" + d + "/package.json")) process.exit(1);'; then
  npm ci --no-audit --no-fund
fi

exec node --test test_otlp_capture.mjs test_otlp_door.mjs
