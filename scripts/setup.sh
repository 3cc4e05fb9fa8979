#!/usr/bin/env bash
# One-time (idempotent) setup for building and testing bcos-rs:
#  - libclang for RocksDB's bindgen (installed with apt-get only when missing);
#  - Node.js/npm for the end-to-end client scenarios (apt-get only when missing);
#  - tests/js/node_modules from the committed package-lock.json (only when missing or stale).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root to run: $*"; exit 1
  fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { log "apt-get not available; install $* by hand"; exit 1; }
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

have_libclang() {
  [ -n "${LIBCLANG_PATH:-}" ] && ls "$LIBCLANG_PATH"/libclang*.so* >/dev/null 2>&1 && return 0
  ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' && return 0
  ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1
}

if have_libclang; then
  log "libclang present"
else
  log "installing libclang-dev (RocksDB bindgen)"
  apt_install libclang-dev
fi

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  log "node $(node --version) present"
else
  log "installing nodejs and npm"
  apt_install nodejs npm
fi

# npm records what it installed in node_modules/.package-lock.json; reinstall when the
# manifest or the lock is newer than that record.
js=tests/js
stamp=$js/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$js/package.json" -nt "$stamp" ] ||
   { [ -f "$js/package-lock.json" ] && [ "$js/package-lock.json" -nt "$stamp" ]; }; then
  if [ -f "$js/package-lock.json" ]; then
    log "npm ci in $js"
    npm ci --prefix "$js" --no-audit --no-fund
  else
    log "npm install in $js (no lock file yet)"
    npm install --prefix "$js" --no-audit --no-fund
  fi
else
  log "$js/node_modules up to date"
fi
