#!/usr/bin/env bash
# Installs what the test suite talks to, from Debian packages: SIPp (scripted callers and
# operators), baresip (a real softphone as an operator), docker-compose (to validate
# docker-compose.yml; no Docker daemon is needed), Chromium and Node.js (the QA console's
# browser test, playwright-core from tests/browser/package-lock.json).
# Run as root (or through sudo). Safe to run again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages=(sip-tester baresip-core docker-compose ca-certificates chromium fonts-dejavu-core)
# Node may come from elsewhere than Debian (a newer release); only add Debian's when there is none.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
sipp -v | head -n 1 || true

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "Node.js $(node --version) is too old for the browser test (playwright-core needs 20 or newer)" >&2
  exit 1
fi
npm ci --prefix "$repo/tests/browser" --no-audit --no-fund
chromium --version 2>/dev/null | head -n 1 || true
