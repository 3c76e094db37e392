#!/usr/bin/env bash
# Installs what the test suite talks to, from Debian packages: SIPp (scripted callers and
# operators), baresip (a real softphone as an operator) and docker-compose (to validate
# docker-compose.yml; no Docker daemon is needed). Run as root (or through sudo). Safe to run again.
set -euo pipefail
packages=(sip-tester baresip-core docker-compose ca-certificates)
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
