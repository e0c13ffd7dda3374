#!/usr/bin/env bash
# Runs the browser tests of the dashboard (Debian's Chromium through playwright-core) and the
# OpenAPI document check. Installs the npm dependencies into tests/browser/node_modules first when
# missing (npm ci from package-lock.json; npm install when there is no lock file).
# Environment: COSTLYNXD (binary; default <repo>/build/costlynxd), CHROMIUM (default
# /usr/bin/chromium), CLX_SCREENSHOT_DIR (default <repo>/docs/screenshots).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v node >/dev/null || { echo "run.sh: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "run.sh: npm is not installed" >&2; exit 2; }

if [ ! -d node_modules/playwright-core ]; then
  # never download a browser: the tests use the system's Chromium
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi

exec node --test --test-concurrency=1 test_*.mjs
