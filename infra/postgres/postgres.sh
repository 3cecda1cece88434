#!/usr/bin/env bash
# Project PostgreSQL 15: own data dir, own port, one database per service. Uses the
# Debian postgresql-15 binaries but not the Debian cluster (15/main) or its service.
#
# usage: postgres.sh start|stop|status
#
# Environment (all optional):
#   PG_PORT       TCP port on 127.0.0.1                    (default 15432)
#   PG_DATA_DIR   everything of this instance              (default <repo>/.data/postgres)
#   PG_DATABASES  databases to create, space separated     (default "intake dispatch mediation policing video_bridge")
#   PG_USER       login role owning those databases        (default mesh)
#   PG_PASSWORD   its password (scram-sha-256 over TCP)    (default mesh)
#   PG_SERVICE_USER / PG_SERVICE_PASSWORD  a login role that owns nothing (default mesh_service):
#                 a service runs as it while its migrations run as PG_USER (<SERVICE>_MIGRATION_DATABASE_URL)
#
# Layout of PG_DATA_DIR (or of the postgres-owned directory outside it, see Root):
#   pgdata/        the cluster (PGDATA), initdb'ed once
#   postgres.log   server log (pg_ctl -l)
#   .s.PGSQL.<port> unix socket (local connections: trust)
#
# Exit codes: 0 ok (start: running with role + databases, also when it already was;
# stop: stopped, also when nothing ran; status: running), 1 failure / status
# "stopped", 2 usage.
#
# Root: PostgreSQL refuses to run as root, so as root initdb/pg_ctl/psql run as the
# "postgres" OS user (runuser). When that user can already traverse down to
# PG_DATA_DIR, the cluster lives there (chowned to postgres). When it cannot (a clone
# under /root, in a fresh `mktemp -d`, ...), no directory is chmod-ed: the cluster,
# its log and socket live in a directory postgres owns, /var/tmp/govmesh-pg-<port>-<hash
# of PG_DATA_DIR>, and PG_DATA_DIR/cluster names it. Deleting PG_DATA_DIR (as `make
# test` does) also resets that cluster: a stopped one without its marker is re-made.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"

PG_PORT="${PG_PORT:-15432}"
# absolute: the postgres commands run from / (see as_pg)
PG_DATA_DIR="$(realpath -m "${PG_DATA_DIR:-$REPO_ROOT/.data/postgres}")"
PG_DATABASES="${PG_DATABASES:-intake dispatch mediation policing video_bridge}"
PG_USER="${PG_USER:-mesh}"
PG_PASSWORD="${PG_PASSWORD:-mesh}"
PG_SERVICE_USER="${PG_SERVICE_USER:-mesh_service}"
PG_SERVICE_PASSWORD="${PG_SERVICE_PASSWORD:-mesh_service}"
HOST=127.0.0.1

PG_BIN=/usr/lib/postgresql/15/bin

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Can the postgres OS user reach $1 (traverse every directory above it)?
postgres_can_reach() {
    local d="$1"
    while [[ ! -e "$d" ]]; do d="$(dirname "$d")"; done
    runuser -u postgres -- test -x "$d"
}

# Where the cluster lives: inside PG_DATA_DIR, or (as root, when postgres cannot reach
# PG_DATA_DIR) in a postgres-owned directory outside it (see the header).
CLUSTER_DIR="$PG_DATA_DIR"
MARKER="$PG_DATA_DIR/cluster"
if ((EUID == 0)) && id postgres >/dev/null 2>&1 && ! postgres_can_reach "$PG_DATA_DIR"; then
    CLUSTER_DIR="/var/tmp/govmesh-pg-$PG_PORT-$(printf %s "$PG_DATA_DIR" | sha256sum | cut -c1-12)"
fi
PGDATA="$CLUSTER_DIR/pgdata"
PG_LOG="$CLUSTER_DIR/postgres.log"

# Unix sockets paths are limited to ~107 bytes; a deep checkout would break the
# socket in the data dir, so fall back to a short per-port dir in /tmp then.
SOCKET_DIR="$CLUSTER_DIR"
if ((${#SOCKET_DIR} + 15 > 100)); then
    SOCKET_DIR="/tmp/mesh-pg-$PG_PORT"
fi

# Run a command as the cluster owner: "postgres" when we are root, else ourselves.
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

ensure_installed() {
    [[ -x "$PG_BIN/postgres" ]] && return 0
    log "installing postgresql-15 with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y postgresql-15 >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y postgresql-15 >/dev/null; } ||
        die "could not install postgresql-15"
    # The package creates and may start the Debian cluster 15/main on 5432: we do not
    # use it, so stop it and keep it from starting at boot.
    if [[ -d /etc/postgresql/15/main ]]; then
        pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
        echo manual >/etc/postgresql/15/main/start.conf
    fi
}

# As root: give the cluster's directory to postgres. A cluster outside PG_DATA_DIR
# whose marker is gone belongs to a deleted PG_DATA_DIR: re-made unless it runs.
prepare_dirs() {
    mkdir -p "$PG_DATA_DIR"
    if [[ "$CLUSTER_DIR" != "$PG_DATA_DIR" ]]; then
        if [[ -d "$CLUSTER_DIR" && ! -f "$MARKER" ]] && ! running_pid >/dev/null; then
            log "removing $CLUSTER_DIR (its PG_DATA_DIR $PG_DATA_DIR was deleted)"
            rm -rf "$CLUSTER_DIR"
        fi
        mkdir -p "$CLUSTER_DIR"
        echo "$CLUSTER_DIR" >"$MARKER"
    fi
    mkdir -p "$SOCKET_DIR"
    ((EUID == 0)) || return 0
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (postgresql-15 not installed?)"
    chown postgres:postgres "$CLUSTER_DIR" "$SOCKET_DIR"
    chmod 700 "$CLUSTER_DIR"
    runuser -u postgres -- test -x "$CLUSTER_DIR" || die "user postgres cannot reach $CLUSTER_DIR"
}

# pid of the postmaster serving PGDATA, if it runs.
running_pid() {
    [[ -f "$PGDATA/postmaster.pid" ]] || return 1
    as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1 || return 1
    head -n1 "$PGDATA/postmaster.pid"
}

# port the running server listens on (line 4 of postmaster.pid)
running_port() { sed -n 4p "$PGDATA/postmaster.pid"; }

init_cluster() {
    [[ -f "$PGDATA/PG_VERSION" ]] && return 0
    # initdb into a temp dir and rename: an interrupted initdb never leaves a
    # half-initialised PGDATA behind (the path is not stored inside the cluster).
    local tmp="$CLUSTER_DIR/pgdata.init"
    rm -rf "$tmp"
    log "initdb $PGDATA"
    as_pg "$PG_BIN/initdb" -D "$tmp" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null ||
        die "initdb failed"
    # Settings that may change between runs (port, socket) are passed by pg_ctl at
    # start; everything else lives in this include.
    cat >"$tmp/mesh.conf" <<'EOF'
# written by infra/postgres/postgres.sh at initdb
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
fsync = on
logging_collector = off
log_min_messages = warning
log_connections = off
EOF
    echo "include_if_exists = 'mesh.conf'" >>"$tmp/postgresql.conf"
    ((EUID == 0)) && chown postgres:postgres "$tmp/mesh.conf"
    mv "$tmp" "$PGDATA"
}

# Idempotent: role (password kept in sync with PG_PASSWORD) and one database per name.
ensure_role_and_databases() {
    local psql=(as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres)
    "${psql[@]}" -v user="$PG_USER" -v pw="$PG_PASSWORD" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN PASSWORD :'pw';
-- DROP DATABASE ... WITH (FORCE) of its own databases must also end an autovacuum worker
-- that happens to be in one (it runs under no role the owner is a member of).
GRANT pg_signal_backend TO :"user";
SQL
    "${psql[@]}" -v user="$PG_SERVICE_USER" -v pw="$PG_SERVICE_PASSWORD" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I LOGIN NOCREATEDB NOCREATEROLE', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN PASSWORD :'pw';
SQL
    local db
    for db in $PG_DATABASES; do
        "${psql[@]}" -v user="$PG_USER" -v db="$db" <<'SQL' >/dev/null
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8''', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
    done
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

cmd_start() {
    local pid
    ensure_installed
    prepare_dirs
    if pid="$(running_pid)"; then
        if [[ "$(running_port)" != "$PG_PORT" ]]; then
            die "already running pid $pid but on port $(running_port), not $PG_PORT: stop it first"
        fi
        ensure_role_and_databases
        echo "already running pid $pid on $HOST:$PG_PORT"
        return 0
    fi
    port_open "$PG_PORT" && die "port $PG_PORT on $HOST is used by another process"
    init_cluster
    if ! as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 60 \
        -o "-p $PG_PORT -k '$SOCKET_DIR'" >/dev/null; then
        echo "---- last 30 lines of $PG_LOG ----" >&2
        tail -n 30 "$PG_LOG" >&2 || true
        exit 1
    fi
    ensure_role_and_databases
    echo "started pid $(running_pid) on $HOST:$PG_PORT, databases: $PG_DATABASES"
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "stopped"
        return 0
    fi
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >/dev/null
    echo "stopped pid $pid"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        echo "running pid $pid on $HOST:$(running_port)"
        return 0
    fi
    echo "stopped"
    return 1
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: $(basename "$0") start|stop|status" >&2
    exit 2
    ;;
esac
