#!/usr/bin/env bash
# Installs what the test suite talks to, from Debian packages: SIPp (scripted callers and
# operators), baresip (a real softphone as an operator), PostgreSQL (the second register
# backend), docker-compose (to validate docker-compose.yml; no Docker daemon is needed),
# Chromium and Node.js (the QA console's browser test, playwright-core from
# tests/browser/package-lock.json). Starts PostgreSQL and creates the test role and database:
#   role `hotline`, password `hotline`, CREATEDB (each test makes and drops its own database),
#   database `hotline`, reachable at postgres://hotline:hotline@127.0.0.1:5432/hotline
#   (the default of HOTLINE_TEST_PG_URL).
# Run as root (or through sudo). Safe to run again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages=(sip-tester baresip-core postgresql postgresql-client docker-compose ca-certificates chromium fonts-dejavu-core)
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

# PostgreSQL: start the newest installed cluster (Debian creates `main` on install; a
# container without systemd leaves it stopped).
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$pg_version" main
fi
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p 5432

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    sudo -u postgres "$@"
  fi
}
as_postgres psql -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE hotline LOGIN CREATEDB'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hotline') \gexec
ALTER ROLE hotline WITH LOGIN CREATEDB PASSWORD 'hotline';
SELECT 'CREATE DATABASE hotline OWNER hotline'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'hotline') \gexec
SQL
psql "postgres://hotline:hotline@127.0.0.1:5432/hotline" -tAc "SELECT 'postgres ready: ' || version()"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "Node.js $(node --version) is too old for the browser test (playwright-core needs 20 or newer)" >&2
  exit 1
fi
npm ci --prefix "$repo/tests/browser" --no-audit --no-fund
chromium --version 2>/dev/null | head -n 1 || true
