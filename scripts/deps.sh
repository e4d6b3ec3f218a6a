#!/bin/sh
# Installs the Debian 12 packages evne needs to build, run and test, and only those missing.
# Usage: scripts/deps.sh [build|test|bench]   (default: test, which includes build)
set -eu

build="make gcc pkg-config libuv1-dev liblua5.4-dev libsqlite3-dev node-llhttp libjansson-dev
libsodium-dev libcurl4-openssl-dev libcsv-dev"
test="$build libcmocka-dev lua5.1 lua-busted lua-socket lua-dkjson lua-check clang sqlite3
python3-aiosmtpd openssl chromium curl"
bench="$test wrk nginx-light"

case "${1:-test}" in
  build) want=$build ;;
  test) want=$test ;;
  bench) want=$bench ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done
# The browser tests need node and npm; a machine may have them from elsewhere than Debian
# (NodeSource's nodejs bundles npm), so look for the commands rather than the packages.
case "${1:-test}" in
  test|bench) command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    missing="$missing nodejs npm" ;;
esac

if [ -n "$missing" ]; then
  echo "evne: installing missing Debian packages:$missing" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# playwright-core needs node 20 or newer; Debian 12's own is 18. Then node 20 comes from the npm
# registry (the "node" package carries the binary) into the project's own folder, which the
# Makefile's browser targets use.
case "${1:-test}" in
  test|bench)
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" -lt 20 ] && [ ! -x tests/browser/.node/node_modules/node/bin/node ]; then
      echo "evne: node $major is too old for the browser tests; node 20 goes to tests/browser/.node" >&2
      npm install --no-audit --no-fund --prefix tests/browser/.node node@20
    fi ;;
esac
