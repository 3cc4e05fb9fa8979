# shellcheck shell=bash
# A throwaway PostgreSQL server for the tests (the `bcos etl` warehouse test, tests/tests/etl.rs).
#   pg_find_bindir  prints the directory of the newest installed initdb/pg_ctl (Debian keeps
#                   them in /usr/lib/postgresql/<version>/bin), or returns 1;
#   pg_start        initdb in a fresh temporary directory, trust authentication, listening on
#                   127.0.0.1 at a free port and on a unix socket in that directory; exports
#                   BCOS_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres;
#   pg_stop         stops it and removes the directory (safe to call twice; use it in a trap).
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (which
# the Debian package creates) in a directory it owns.

# Ports tried at random (pg_ctl fails on a port in use and the next is tried).
PG_PORT_MIN=20000
PG_PORT_SPAN=30000
PG_PORT_TRIES=10
# How long pg_ctl waits for the server to accept connections.
PG_START_TIMEOUT_S=60

pg_find_bindir() {
  local d best=""
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then best=$d; fi
  fi
  if [ -z "$best" ]; then
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
      if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then best=$d; fi
    done
  fi
  [ -n "$best" ] || return 1
  printf '%s\n' "$best"
}

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bindir port i
  bindir=$(pg_find_bindir) || { echo "postgres: initdb not found; run scripts/setup.sh" >&2; return 1; }
  PG_TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bcos-pg.XXXXXX")
  chmod 700 "$PG_TMP_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_TMP_DIR"; fi
  pg_as_owner "$bindir/initdb" -D "$PG_TMP_DIR/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync >"$PG_TMP_DIR/initdb.log" 2>&1 || {
    cat "$PG_TMP_DIR/initdb.log" >&2; return 1; }
  for i in $(seq 1 "$PG_PORT_TRIES"); do
    port=$((PG_PORT_MIN + RANDOM % PG_PORT_SPAN))
    # A test server: no fsync (its data is thrown away), sockets only where we say.
    if pg_as_owner "$bindir/pg_ctl" -D "$PG_TMP_DIR/data" -l "$PG_TMP_DIR/server.log" -w \
        -t "$PG_START_TIMEOUT_S" -o "-p $port -k $PG_TMP_DIR -c listen_addresses=127.0.0.1 -c fsync=off" \
        start >/dev/null 2>&1; then
      PG_BIN_DIR=$bindir
      export BCOS_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
      echo "postgres: throwaway server at $BCOS_TEST_POSTGRES ($PG_TMP_DIR)"
      return 0
    fi
    echo "postgres: port $port did not work (try $i of $PG_PORT_TRIES)" >&2
  done
  cat "$PG_TMP_DIR/server.log" >&2 || true
  return 1
}

pg_stop() {
  if [ -n "${PG_TMP_DIR:-}" ] && [ -d "$PG_TMP_DIR" ]; then
    if [ -n "${PG_BIN_DIR:-}" ] && [ -f "$PG_TMP_DIR/data/postmaster.pid" ]; then
      pg_as_owner "$PG_BIN_DIR/pg_ctl" -D "$PG_TMP_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_TMP_DIR"
  fi
  PG_TMP_DIR=
}
