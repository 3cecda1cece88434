#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) for development and
# tests, run from the jars Maven resolves for infra/kafka/pom.xml. No tarball, no Docker.
#
# usage: kafka.sh start|stop|status|restart|logs [-f]
#
# Environment (all optional):
#   KAFKA_PORT             client listener port              (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port             (default KAFKA_PORT+1)
#   KAFKA_DATA_DIR         config, cluster id, log dirs, pid (default <repo>/.data/kafka)
#   KAFKA_VERSION          broker version                    (default: kafka.version in pom.xml)
#   KAFKA_HEAP_OPTS        JVM heap flags                    (default -Xms256m -Xmx1g)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness     (default 90)
# Both listeners bind 127.0.0.1 only.
#
# Exit codes: 0 ok (start: running and ready, also when it already was; stop: stopped,
# also when nothing ran; status: running), 1 failure / status "stopped", 2 usage.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
# absolute: it ends up in log.dirs and the broker runs with the data dir as cwd
KAFKA_DATA_DIR="$(realpath -m "${KAFKA_DATA_DIR:-$REPO_ROOT/.data/kafka}")"
KAFKA_VERSION="${KAFKA_VERSION:-$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
HOST=127.0.0.1

LIB_DIR="$REPO_ROOT/.data/lib/kafka-$KAFKA_VERSION"
PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
OUT_LOG="$KAFKA_DATA_DIR/kafka.log"
CONFIG="$KAFKA_DATA_DIR/server.properties"
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Kafka 3.x logs through log4j 1 (reload4j), 4.x through log4j2: see pom.xml.
is_kafka3() { [[ "$KAFKA_VERSION" == 3.* ]]; }

# True when something accepts TCP connections on HOST:$1 (bash /dev/tcp, no nc needed).
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Prints the pid from the pidfile if that process is alive and is our broker (a
# recycled pid belonging to something else does not count).
running_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $CONFIG" || return 1
    echo "$pid"
}

# Client port of the broker that runs (or ran) from this data dir: the generated config
# wins over KAFKA_PORT, so status/stop report the right port even if the env changed.
configured_port() {
    local p=""
    [[ -f "$CONFIG" ]] && p="$(sed -n 's|^advertised\.listeners=PLAINTEXT://.*:\([0-9]*\)$|\1|p' "$CONFIG")"
    echo "${p:-$KAFKA_PORT}"
}

# The broker is ready when the client port answers AND this run's log says it started.
# 4.x prints "[KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)";
# the broker part also logs "Transition from STARTING to STARTED".
broker_ready() {
    port_open "$(configured_port)" && grep -q 'Kafka Server started' "$OUT_LOG" 2>/dev/null
}

# Serialises start/stop/restart on one data dir (e.g. two make targets starting
# Kafka at once). The lock is released when this script exits; the broker must not
# inherit the fd (see 9>&- below).
lock_data_dir() {
    mkdir -p "$KAFKA_DATA_DIR"
    exec 9>"$KAFKA_DATA_DIR/.kafka.sh.lock"
    flock -w 180 9 || die "timed out waiting for another kafka.sh on $KAFKA_DATA_DIR"
}

ensure_tools() {
    local missing=()
    command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null 2>&1 || missing+=(maven)
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${missing[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; } ||
        die "could not install ${missing[*]}"
}

# Copies the runtime classpath once per version into .data/lib/kafka-<version>/.
# Copied into a temp dir first and renamed, so an interrupted run never leaves a
# half-filled lib dir that later runs would trust.
ensure_jars() {
    [[ -f "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]] && return 0
    local tmp profile=()
    is_kafka3 && profile=(-Pkafka3)
    mkdir -p "$(dirname "$LIB_DIR")"
    tmp="$(mktemp -d "$LIB_DIR.tmp.XXXXXX")"
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -rf '$tmp'" EXIT
    log "resolving Kafka $KAFKA_VERSION jars with Maven into $LIB_DIR"
    # mvn -q still prints bare ANSI resets, and its errors go to stdout: keep the
    # output, show it (without colour codes) only when it failed.
    local out
    if ! out="$(mvn -q -B -f "$POM" "${profile[@]}" -Dkafka.version="$KAFKA_VERSION" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1)"; then
        rm -rf "$tmp"
        printf '%s\n' "${out//$'\e[0m'/}" >&2
        die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
    fi
    # Another run may have won the race: keep its copy.
    mv -T "$tmp" "$LIB_DIR" 2>/dev/null || rm -rf "$tmp"
    trap - EXIT
    [[ -f "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "jar copy in $LIB_DIR is incomplete"
}

# log4j 1.x config for the 3.9 fallback (4.x uses infra/kafka/log4j2.properties).
write_log4j1_config() {
    cat >"$KAFKA_DATA_DIR/log4j.properties" <<'EOF'
# generated by infra/kafka/kafka.sh for Kafka 3.x (reload4j)
log4j.rootLogger=INFO, stdout, file
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.common.config.AbstractConfig=WARN
log4j.logger.kafka.server.KafkaConfig=WARN
log4j.logger.org.apache.kafka.storage.internals=WARN
log4j.logger.kafka.log=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.cluster.Partition=WARN
log4j.logger.org.apache.kafka.image=WARN
log4j.logger.kafka.server.metadata=WARN
EOF
}

# Regenerated on every start so port changes take effect; the cluster id and the
# formatted log dir are kept.
write_config() {
    cat >"$CONFIG" <<EOF
# generated by infra/kafka/kafka.sh on every start: edit the script, not this file
process.roles=broker,controller
node.id=1
# static voter set: no --standalone needed when formatting
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA_DIR/logs

# one node: every replication factor / min ISR is 1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# internal topics default to 50 partitions each; a handful is plenty on one dev node
# and makes the first group / transaction / share coordinator lookup fast
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
share.coordinator.state.topic.num.partitions=5

# topics are created explicitly by the services
auto.create.topics.enable=false
num.partitions=3
# no 3 s wait before the first rebalance of a new consumer group (tests)
group.initial.rebalance.delay.ms=0
EOF
}

ensure_cluster_id() {
    [[ -s "$CLUSTER_ID_FILE" ]] && return 0
    # 16 random bytes, URL-safe base64 without padding, not starting with '-'
    # (the format of StorageTool random-uuid, without starting a JVM).
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        [[ "$id" != -* ]] && break
    done
    echo "$id" >"$CLUSTER_ID_FILE.tmp"
    mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
}

java_opts() {
    # shellcheck disable=SC2206  # heap flags are meant to split
    JAVA_OPTS=($KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
        "-Dkafka.logs.dir=$KAFKA_DATA_DIR")
    if is_kafka3; then
        JAVA_OPTS+=("-Dlog4j.configuration=file:$KAFKA_DATA_DIR/log4j.properties")
    else
        JAVA_OPTS+=("-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties")
    fi
}

wait_ready() {
    local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if broker_ready; then return 0; fi
        kill -0 "$pid" 2>/dev/null || { log "broker process $pid exited"; return 1; }
        sleep 0.5
    done
    log "broker not ready after ${KAFKA_START_TIMEOUT}s"
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
        if broker_ready; then
            echo "already running pid $pid on $HOST:$(configured_port)"
            return 0
        fi
        # Alive but not serving yet: another start is in progress (or the broker is
        # stuck); wait for it rather than starting a second broker on the same dirs.
        log "pid $pid is alive but not ready yet; waiting"
        wait_ready "$pid" || fail_with_log
        echo "already running pid $pid on $HOST:$(configured_port)"
        return 0
    fi
    rm -f "$PID_FILE"
    if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
        die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on $HOST is used by another process (not the broker of $KAFKA_DATA_DIR)"
    fi

    ensure_tools
    ensure_jars
    ensure_cluster_id
    write_config
    is_kafka3 && write_log4j1_config
    java_opts
    local cp="$LIB_DIR/*" # quoted: the JVM expands the wildcard

    [[ -f "$OUT_LOG" ]] && mv -f "$OUT_LOG" "$OUT_LOG.prev"
    # Formatting is a no-op once meta.properties exists (--ignore-formatted).
    if ! java "${JAVA_OPTS[@]}" -cp "$cp" kafka.tools.StorageTool format \
        -t "$(cat "$CLUSTER_ID_FILE")" -c "$CONFIG" --ignore-formatted >"$OUT_LOG" 2>&1; then
        log "storage format failed"
        fail_with_log
    fi

    # setsid: own session, so the broker outlives the calling shell / make and gets
    # no SIGHUP; the inner shell writes its own pid and execs java, so the pidfile
    # holds the JVM's pid.
    # Its working directory is the data dir (JVM crash files land there).
    # shellcheck disable=SC2016  # expanded by the inner shell
    setsid nohup bash -c 'echo $$ >"$1" && cd "$2" && shift 2 && exec "$@"' _ \
        "$PID_FILE" "$KAFKA_DATA_DIR" java "${JAVA_OPTS[@]}" -cp "$cp" kafka.Kafka "$CONFIG" \
        >>"$OUT_LOG" 2>&1 </dev/null 9>&- &
    local waited=0
    until [[ -s "$PID_FILE" ]] || ((waited > 50)); do sleep 0.1; waited=$((waited + 1)); done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || { log "no pid written"; fail_with_log; }

    if ! wait_ready "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        fail_with_log
    fi
    echo "started Kafka $KAFKA_VERSION pid $pid on $HOST:$KAFKA_PORT in $((SECONDS - t0))s"
}

cmd_stop() {
    local pid i
    [[ -d "$KAFKA_DATA_DIR" ]] || { echo "stopped"; return 0; }
    lock_data_dir
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        echo "stopped"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true # controlled shutdown
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still alive after 30s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
    fi
    rm -f "$PID_FILE"
    echo "stopped pid $pid"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        echo "running pid $pid on $HOST:$(configured_port)"
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
