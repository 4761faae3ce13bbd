#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL cluster on 127.0.0.1, with
# NEWSBOT_TEST_POSTGRES_URL pointing at it (the store tests then run against PostgreSQL too).
#
# Uses Debian's PostgreSQL; as root on a machine without it, installs the `postgresql` package
# first. The cluster lives in a temporary folder, owned by an unprivileged user (postgres, or the
# caller when not root), listens on a free port on 127.0.0.1 only, and is removed afterwards.
# Where PostgreSQL cannot be had, the command still runs and those tests skip, saying why.
set -euo pipefail

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BIN="$(pg_bin)"
if [ -z "$BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing Debian's PostgreSQL for the store tests…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
    BIN="$(pg_bin)"
fi
if [ -z "$BIN" ]; then
    echo "with-postgres: PostgreSQL is not available; the PostgreSQL store tests will be skipped" >&2
    exec "$@"
fi

DATA="$(mktemp -d /tmp/newsbot-pg.XXXXXX)"
AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$DATA"
    AS=(runuser -u postgres --)
fi
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${AS[@]}" "$BIN/initdb" -D "$DATA/db" -U newsbot --auth=trust -E UTF8 >/dev/null
# fsync off: a test cluster that is thrown away needs no durability, only speed
"${AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/db/server.log" -w \
    -o "-h 127.0.0.1 -p $PORT -k $DATA/db -F -c max_connections=200" start >/dev/null
stop() { "${AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DATA"; }
trap stop EXIT

export NEWSBOT_TEST_POSTGRES_URL="postgresql://newsbot@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
"$@"
