#!/usr/bin/env bash
# Run a command against a throw-away PostgreSQL cluster:
#
#     scripts/with-postgres.sh .venv/bin/python -m pytest tests/web
#
# The command runs with DATABASE_URL=postgres://s2render:…@127.0.0.1:PORT/s2render naming a fresh
# cluster (its role may create databases, as pytest-django's test database needs). The cluster
# lives in a temporary folder, listens on 127.0.0.1 and a socket in that folder only, and is
# stopped and removed afterwards, whatever the command's outcome. Server binaries come from
# /usr/lib/postgresql/*/bin (or PG_BINDIR); when there are none and we are root on Debian/Ubuntu,
# the `postgresql` package is installed with apt-get. Anything missing is an error, never a skip.
set -euo pipefail

say() { echo "with-postgres: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARG...]"

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"
        return
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$dir" ] && command -v pg_config >/dev/null; then
        dir=$(pg_config --bindir)
    fi
    echo "$dir"
}

BINDIR=$(find_bindir)
if [ -z "$BINDIR" ] || [ ! -x "$BINDIR/postgres" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "no PostgreSQL server found; installing the postgresql package with apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql >/dev/null
        BINDIR=$(find_bindir)
    fi
fi
[ -n "$BINDIR" ] && [ -x "$BINDIR/postgres" ] ||
    die "no PostgreSQL server binaries (looked in /usr/lib/postgresql/*/bin and PG_BINDIR);" \
        "install PostgreSQL (apt-get install postgresql) or run this as root to install it"

# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` system user
# (which the Debian package creates), otherwise to whoever runs this.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to own the cluster"
    as_owner() { (cd "$ROOT" && runuser -u postgres -- "$@"); }
else
    as_owner() { "$@"; }
fi

# A free port: the first in 54329..54429 that nothing listens on.
PORT=""
for candidate in $(seq 54329 54429); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        PORT=$candidate
        break
    fi
done
[ -n "$PORT" ] || die "no free port in 54329..54429"

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/s2render-pg.XXXXXX")
chmod 755 "$ROOT"
[ "$(id -u)" -ne 0 ] || chown postgres: "$ROOT"
DATA="$ROOT/data"
LOG="$ROOT/server.log"
PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
STARTED=""

cleanup() {
    local status=$?
    if [ -n "$STARTED" ]; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 ||
            say "warning: could not stop the cluster in $DATA"
    fi
    rm -rf "$ROOT"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-sync >"$ROOT/initdb.log" 2>&1 ||
    { cat "$ROOT/initdb.log" >&2; die "initdb failed"; }

# Durability is not wanted for a throw-away cluster; speed is.
OPTIONS="-p $PORT -k $ROOT -c listen_addresses=127.0.0.1 -c max_connections=200"
OPTIONS="$OPTIONS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
STARTED=1
as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -o "$OPTIONS" -w -t 60 start >/dev/null ||
    { cat "$LOG" >&2; die "the PostgreSQL server did not start"; }

as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$ROOT" -p "$PORT" -U postgres -d postgres \
    -c "CREATE ROLE s2render LOGIN CREATEDB PASSWORD '$PASSWORD'" \
    -c "CREATE DATABASE s2render OWNER s2render" >/dev/null ||
    die "could not create the s2render role and database"

VERSION=$("$BINDIR/postgres" --version)
say "$VERSION on 127.0.0.1:$PORT (cluster in $ROOT)"
export DATABASE_URL="postgres://s2render:$PASSWORD@127.0.0.1:$PORT/s2render"
set +e
"$@"
status=$?
set -e
exit "$status"
