#!/usr/bin/env bash
# Keycloak (the staff's identity provider) for development and tests, run from the
# distribution Maven fetches from Maven Central (org.keycloak:keycloak-quarkus-dist, zip).
# No tarball download, no Docker. On start it imports the committed development realm
# infra/keycloak/govmesh-realm.json (DEVELOPMENT ONLY: its passwords and secrets are public)
# unless the realm exists, and waits until the realm's OIDC discovery answers.
#
# usage: keycloak.sh start|stop|status|restart|logs [-f]
#
# Environment (all optional):
#   KEYCLOAK_PORT            HTTP port, 127.0.0.1 only             (default 8180)
#   KEYCLOAK_DATA_DIR        database (H2 file), logs, pid          (default <repo>/.data/keycloak)
#   KEYCLOAK_VERSION         distribution version                   (default 26.4.7)
#   KEYCLOAK_ADMIN           bootstrap admin of the master realm    (default admin)
#   KEYCLOAK_ADMIN_PASSWORD  its password (development only)        (default govmesh-dev-admin)
#   KEYCLOAK_HEAP_OPTS       JVM heap flags                         (default -Xms64m -Xmx512m)
#   KEYCLOAK_START_TIMEOUT   seconds to wait for readiness          (default 300)
#
# The distribution is unpacked and built once (`kc.sh build --db=dev-file`) into
# .data/lib/keycloak-<version>/, shared read-only by every instance; each instance runs
# `kc.sh start --optimized` (no re-augmentation) with its own H2 database in its data dir.
#
# Exit codes: 0 ok (start: running and the realm answers, also when it already was; stop:
# stopped, also when nothing ran; status: running), 1 failure / status "stopped", 2 usage.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

KEYCLOAK_PORT="${KEYCLOAK_PORT:-8180}"
KEYCLOAK_DATA_DIR="$(realpath -m "${KEYCLOAK_DATA_DIR:-$REPO_ROOT/.data/keycloak}")"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.4.7}"
KEYCLOAK_ADMIN="${KEYCLOAK_ADMIN:-admin}"
KEYCLOAK_ADMIN_PASSWORD="${KEYCLOAK_ADMIN_PASSWORD:-govmesh-dev-admin}"
KEYCLOAK_HEAP_OPTS="${KEYCLOAK_HEAP_OPTS:--Xms64m -Xmx512m}"
KEYCLOAK_START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-300}"
HOST=127.0.0.1
REALM=govmesh
REALM_FILE="$SCRIPT_DIR/govmesh-realm.json"

DIST="$REPO_ROOT/.data/lib/keycloak-$KEYCLOAK_VERSION"
PID_FILE="$KEYCLOAK_DATA_DIR/keycloak.pid"
PORT_FILE="$KEYCLOAK_DATA_DIR/keycloak.port"
OUT_LOG="$KEYCLOAK_DATA_DIR/keycloak.log"

log() { echo "keycloak.sh: $*" >&2; }
die() { log "$*"; exit 1; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

configured_port() { cat "$PORT_FILE" 2>/dev/null || echo "$KEYCLOAK_PORT"; }

base_url() { echo "http://$HOST:$(configured_port)"; }

# The pid in the pidfile if it is alive and is the Keycloak of this data dir.
running_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "jdbc:h2:file:$KEYCLOAK_DATA_DIR/" || return 1
    echo "$pid"
}

realm_ready() {
    curl -sf -o /dev/null --max-time 5 "$(base_url)/realms/$REALM/.well-known/openid-configuration"
}

master_ready() {
    curl -sf -o /dev/null --max-time 5 "$(base_url)/realms/master/.well-known/openid-configuration"
}

lock_data_dir() {
    mkdir -p "$KEYCLOAK_DATA_DIR"
    exec 9>"$KEYCLOAK_DATA_DIR/.keycloak.sh.lock"
    flock -w 300 9 || die "timed out waiting for another keycloak.sh on $KEYCLOAK_DATA_DIR"
}

ensure_tools() {
    local missing=()
    command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null 2>&1 || missing+=(maven)
    command -v unzip >/dev/null 2>&1 || missing+=(unzip)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${missing[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; } ||
        die "could not install ${missing[*]}"
}

# Fetch (Maven), unpack and build the distribution once per version. Done in a temp dir
# and renamed, so an interrupted run never leaves a half-built distribution behind.
ensure_dist() {
    [[ -f "$DIST/.built" ]] && return 0
    local tmp artifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" out
    mkdir -p "$(dirname "$DIST")"
    exec 8>"$DIST.lock"
    flock -w 600 8 || die "timed out waiting for another build of $DIST"
    [[ -f "$DIST/.built" ]] && { exec 8>&-; return 0; }
    tmp="$(mktemp -d "$DIST.tmp.XXXXXX")"
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -rf '$tmp'" EXIT
    log "fetching $artifact with Maven (about 160 MB, once)"
    if ! out="$(mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        -Dartifact="$artifact" -DoutputDirectory="$tmp" 2>&1)"; then
        printf '%s\n' "${out//$'\e[0m'/}" >&2
        die "mvn could not fetch $artifact"
    fi
    unzip -q "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$tmp" || die "could not unzip the distribution"
    rm -f "$tmp/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
    log "building Keycloak $KEYCLOAK_VERSION for an H2 file database (once, about a minute)"
    if ! out="$("$tmp/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" build --db=dev-file 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "kc.sh build failed"
    fi
    rm -rf "$tmp/keycloak-$KEYCLOAK_VERSION/data" # build leftovers; each instance has its own data dir
    touch "$tmp/keycloak-$KEYCLOAK_VERSION/.built"
    rm -rf "$DIST"
    mv -T "$tmp/keycloak-$KEYCLOAK_VERSION" "$DIST"
    rm -rf "$tmp"
    trap - EXIT
    exec 8>&-
}

# A master-realm admin token (the bootstrap admin) for the admin REST API.
admin_token() {
    curl -sf --max-time 10 "$(base_url)/realms/master/protocol/openid-connect/token" \
        -d grant_type=password -d client_id=admin-cli \
        --data-urlencode "username=$KEYCLOAK_ADMIN" --data-urlencode "password=$KEYCLOAK_ADMIN_PASSWORD" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

# Import the committed realm through the admin REST API unless it exists (an existing
# realm keeps its users and keys; delete the data dir to start over).
import_realm() {
    realm_ready && return 0
    local token code
    token="$(admin_token)"
    [[ -n "$token" ]] || die "no admin token from $(base_url) (KEYCLOAK_ADMIN / KEYCLOAK_ADMIN_PASSWORD)"
    code="$(curl -s -o "$KEYCLOAK_DATA_DIR/import.out" -w '%{http_code}' --max-time 120 \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data-binary "@$REALM_FILE" "$(base_url)/admin/realms")"
    [[ "$code" == 201 || "$code" == 409 ]] || { cat "$KEYCLOAK_DATA_DIR/import.out" >&2; die "realm import answered $code"; }
    log "imported realm $REALM from $REALM_FILE"
}

wait_for() {
    local what="$1" pid="$2" deadline=$((SECONDS + KEYCLOAK_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if "$what"; then return 0; fi
        kill -0 "$pid" 2>/dev/null || { log "Keycloak process $pid exited"; return 1; }
        sleep 0.5
    done
    log "Keycloak not ready after ${KEYCLOAK_START_TIMEOUT}s"
    return 1
}

fail_with_log() {
    echo "---- last 50 lines of $OUT_LOG ----" >&2
    tail -n 50 "$OUT_LOG" >&2 || true
    exit 1
}

cmd_start() {
    local pid t0=$SECONDS
    lock_data_dir
    if pid="$(running_pid)"; then
        wait_for master_ready "$pid" || fail_with_log
        import_realm
        echo "already running pid $pid on $(base_url)"
        return 0
    fi
    rm -f "$PID_FILE"
    port_open "$KEYCLOAK_PORT" && die "port $KEYCLOAK_PORT on $HOST is used by another process (not the Keycloak of $KEYCLOAK_DATA_DIR)"
    ensure_tools
    ensure_dist
    echo "$KEYCLOAK_PORT" >"$PORT_FILE"
    [[ -f "$OUT_LOG" ]] && mv -f "$OUT_LOG" "$OUT_LOG.prev"
    # The bootstrap admin is created only while the master realm is empty (first start).
    # The transaction log goes to the data dir, not into the shared distribution.
    # setsid: own session (outlives make, no SIGHUP); kc.sh forwards SIGTERM to the JVM.
    # shellcheck disable=SC2016  # expanded by the inner shell
    KC_BOOTSTRAP_ADMIN_USERNAME="$KEYCLOAK_ADMIN" KC_BOOTSTRAP_ADMIN_PASSWORD="$KEYCLOAK_ADMIN_PASSWORD" \
        JAVA_OPTS_KC_HEAP="$KEYCLOAK_HEAP_OPTS" \
        JAVA_OPTS_APPEND="-Dquarkus.transaction-manager.object-store.directory=$KEYCLOAK_DATA_DIR/transaction-logs" \
        setsid nohup bash -c 'echo $$ >"$1" && cd "$2" && shift 2 && exec "$@"' _ \
        "$PID_FILE" "$KEYCLOAK_DATA_DIR" "$DIST/bin/kc.sh" start --optimized \
        --http-enabled=true --http-host="$HOST" --http-port="$KEYCLOAK_PORT" \
        --hostname-strict=false --cache=local \
        --db-url="jdbc:h2:file:$KEYCLOAK_DATA_DIR/keycloakdb;NON_KEYWORDS=VALUE" \
        >>"$OUT_LOG" 2>&1 </dev/null 9>&- &
    local waited=0
    until [[ -s "$PID_FILE" ]] || ((waited > 50)); do sleep 0.1; waited=$((waited + 1)); done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || { log "no pid written"; fail_with_log; }
    if ! wait_for master_ready "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        fail_with_log
    fi
    import_realm
    realm_ready || die "realm $REALM does not answer after the import"
    echo "started Keycloak $KEYCLOAK_VERSION pid $pid on $(base_url) (issuer $(base_url)/realms/$REALM) in $((SECONDS - t0))s"
}

cmd_stop() {
    local pid i
    [[ -d "$KEYCLOAK_DATA_DIR" ]] || { echo "stopped"; return 0; }
    lock_data_dir
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        echo "stopped"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still alive after 30s, sending SIGKILL to its process group"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    echo "stopped pid $pid"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        echo "running pid $pid on $(base_url) (issuer $(base_url)/realms/$REALM)"
        return 0
    fi
    echo "stopped"
    return 1
}

cmd_logs() {
    [[ -f "$OUT_LOG" ]] || die "no log yet: $OUT_LOG"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 100 -f "$OUT_LOG"
    fi
    tail -n 100 "$OUT_LOG"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart) cmd_stop && cmd_start ;;
logs) cmd_logs "${2:-}" ;;
*)
    echo "usage: $(basename "$0") start|stop|status|restart|logs [-f]" >&2
    exit 2
    ;;
esac
