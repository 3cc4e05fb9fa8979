#!/usr/bin/env bash
# One-time (idempotent) setup for building and testing bcos-rs. Installs only what is missing:
#  - libclang for RocksDB's bindgen (Debian libclang-dev), found the way bindgen finds it;
#  - the shared build directory (.cargo/config.toml: /var/cache/bcos-target), writable;
#  - Node.js/npm, and tests/js/node_modules (ethers, solc-js, OpenZeppelin, cast) from the lock;
#  - a Python virtual environment tests/py/.venv with web3.py from tests/py/requirements.txt.
#  - Chromium (Debian chromium) for the block browser's headless test (tests/tests/browser.rs).
#  - a PostgreSQL server (Debian postgresql) for the `bcos etl` warehouse test.
# `setup.sh --check` only reports what is missing (exit 1 if anything is).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib/libclang.sh
. scripts/lib/libclang.sh
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

check_only=0
[ "${1:-}" = "--check" ] && check_only=1
missing=0

log() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root to run: $*"; return 1
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

need() { # need WHAT: in --check mode report and count, else say we install it
  if [ "$check_only" -eq 1 ]; then log "missing: $1"; missing=$((missing + 1)); return 1; fi
  log "installing $1"
}

# --- libclang (bindgen loads it at build time) ---
if lib=$(libclang_find ""); then
  log "libclang: $lib"
elif need "libclang-dev (libclang for RocksDB's bindgen)"; then
  apt_install libclang-dev
  lib=$(libclang_find "") || { log "libclang-dev installed but bindgen still would not find libclang; set LIBCLANG_PATH"; exit 1; }
  log "libclang: $lib"
fi

# --- the shared target directory ---
target_dir=${CARGO_TARGET_DIR:-$(sed -n 's/^target-dir *= *"\(.*\)"/\1/p' .cargo/config.toml)}
if mkdir -p "$target_dir" 2>/dev/null && [ -w "$target_dir" ]; then
  log "build directory: $target_dir"
elif need "a writable build directory $target_dir"; then
  as_root mkdir -p "$target_dir" && as_root chown "$(id -u):$(id -g)" "$target_dir" || {
    log "cannot create $target_dir; export CARGO_TARGET_DIR=<a writable directory> and run again"
    exit 1
  }
  log "build directory: $target_dir"
fi

# Every clone builds its own crates into the shared directory under fresh fingerprints, so
# their incremental caches pile up; a build that then meets a full disk dies half-way
# (2026-11-30: 16 GiB of release/incremental, 1 GiB left, the linker killed by SIGBUS).
# Below BCOS_BUILD_FREE_MIN_GIB free (default 20) the incremental caches go: they only
# speed up rebuilds, and cargo recreates what it needs. If that is not enough, so do the
# test and bench binaries that newer builds superseded (scripts/sweep_target.py: cargo
# never deletes them; 39 GiB of them filled this disk on 2026-12-01).
free_min_gib=${BCOS_BUILD_FREE_MIN_GIB:-20}
free_gib() { df -Pk "$target_dir" | awk 'NR == 2 { print int($4 / 1048576) }'; }
if [ -d "$target_dir" ] && [ "$(free_gib)" -lt "$free_min_gib" ]; then
  if [ $check_only = 1 ]; then
    log "only $(free_gib) GiB free beside $target_dir (want $free_min_gib): setup.sh would drop the incremental caches, then superseded binaries"
    python3 scripts/sweep_target.py "$target_dir" --dry-run | sed 's/^/setup: /'
  else
    rm -rf "$target_dir"/*/incremental "$target_dir-loom"/*/incremental
    log "dropped the incremental build caches: $(free_gib) GiB free beside $target_dir now (want $free_min_gib)"
    if [ "$(free_gib)" -lt "$free_min_gib" ]; then
      for dir in "$target_dir" "$target_dir-loom"; do
        if [ -d "$dir" ]; then
          python3 scripts/sweep_target.py "$dir" | sed 's/^/setup: /'
        fi
      done
      log "$(free_gib) GiB free beside $target_dir now"
    fi
    [ "$(free_gib)" -ge "$free_min_gib" ] ||
      log "still short of space: remove $target_dir (cargo clean) or set CARGO_TARGET_DIR elsewhere"
  fi
fi

# --- Node.js and the JS clients ---
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  log "node $(node --version) present"
elif need "nodejs and npm"; then
  apt_install nodejs npm
fi

# npm records what it installed in node_modules/.package-lock.json; reinstall when the
# manifest or the lock is newer than that record.
js=tests/js
stamp=$js/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$js/package.json" -nt "$stamp" ] || [ "$js/package-lock.json" -nt "$stamp" ]; then
  if need "$js/node_modules"; then
    npm ci --prefix "$js" --no-audit --no-fund
  fi
else
  log "$js/node_modules up to date"
fi

# --- Python web3.py ---
py=tests/py
venv=$py/.venv
if [ ! -x "$venv/bin/python" ] || [ "$py/requirements.txt" -nt "$venv/.installed" ]; then
  if need "$venv (web3.py)"; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$py/requirements.txt"
    touch "$venv/.installed"
  fi
else
  log "$venv up to date"
fi

# --- PostgreSQL server (scripts/test.sh runs a throwaway one for the `bcos etl` test) ---
if pg_dir=$(pg_find_bindir); then
  log "postgresql: $pg_dir"
elif need "postgresql (a server for the bcos etl warehouse test)"; then
  apt_install postgresql
  pg_dir=$(pg_find_bindir) || { log "postgresql installed but initdb/pg_ctl not found"; exit 1; }
  log "postgresql: $pg_dir"
fi

# --- Chromium (headless, for the block browser's test; CHROMIUM overrides) ---
if browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}; then
  log "chromium: $browser"
elif need "chromium (headless browser for the block browser test)"; then
  apt_install chromium
  command -v chromium >/dev/null 2>&1 || { log "chromium installed but not on PATH"; exit 1; }
  log "chromium: $(command -v chromium)"
fi

if [ "$check_only" -eq 1 ] && [ "$missing" -gt 0 ]; then exit 1; fi
exit 0
