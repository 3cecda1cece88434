#!/usr/bin/env bash
# Apache Kafka (KRaft, every node a combined broker+controller) for development and tests,
# run from the jars Maven resolves for infra/kafka/pom.xml. No tarball, no Docker.
# One node by default; KAFKA_BROKERS=3 runs a three-node cluster (three voters: one node may
# fail); KAFKA_SECURITY=sasl_ssl makes the client listener SASL_SSL with SCRAM-SHA-512, with a
# CA, a broker certificate and one SCRAM user per service made here (README.md).
# KAFKA_NETNS=<name> (root, several nodes) runs each node in its own network namespace on a
# bridge, so that one node can be cut off from the others and the clients (chaos/cluster.py).
#
# usage: kafka.sh start|stop|status|restart|logs [-f]|bootstrap|client-env [user]
#   bootstrap         prints the bootstrap servers (host:port,...)
#   client-env [user] prints the client settings (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL,
#                     ... and each service's <PREFIX>KAFKA_SASL_USERNAME/PASSWORD) as shell
#                     assignments; with a user: the mesh-wide KAFKA_SASL_* of that user (admin for tools)
#
# Environment (all optional):
#   KAFKA_PORT             client listener port of node 1    (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port, one node   (default KAFKA_PORT+1)
#   KAFKA_BROKERS          number of nodes                   (default 1); node i listens on
#                          KAFKA_PORT+2(i-1) (clients) and KAFKA_PORT+2(i-1)+1 (controller)
#   KAFKA_SECURITY         plaintext | sasl_ssl              (default plaintext)
#   KAFKA_DATA_DIR         config, cluster id, log dirs, pid (default <repo>/.data/kafka);
#                          with several nodes each node has <data dir>/node-<i>
#   KAFKA_VERSION          broker version                    (default: kafka.version in pom.xml)
#   KAFKA_HEAP_OPTS        JVM heap flags                    (default -Xms256m -Xmx1g; several nodes -Xms128m -Xmx512m)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness     (default 90; several nodes 180)
#   KAFKA_NETNS            a short name (letters, digits; up to 8) to run each node in a
#                          network namespace <name>-<i>, its listeners on 10.<a>.<b>.(10+i) (a, b
#                          from KAFKA_PORT) behind veth <name>n<i> on bridge <name> (10.<a>.<b>.1);
#                          the clients reach the nodes over the bridge. `ip link set <name>n<i>
#                          down` cuts node i off (packets dropped both ways), `up` heals. Root
#                          only, plaintext only; made on start, removed on stop.
# Every listener binds 127.0.0.1 only (with KAFKA_NETNS: the node's bridge address). Nodes and security are fixed when the data dir is first
# formatted: delete the data dir (stopped) to change them.
#
# Exit codes: 0 ok (start: running and ready, also when it already was; stop: stopped,
# also when nothing ran; status: running), 1 failure / status "stopped", 2 usage.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"

KAFKA_PORT="${KAFKA_PORT:-9092}"
# absolute: it ends up in log.dirs and the broker runs with the data dir as cwd
KAFKA_DATA_DIR="$(realpath -m "${KAFKA_DATA_DIR:-$REPO_ROOT/.data/kafka}")"
# The first start records the layout; later commands (stop, status, client-env) read it, so
# they need not repeat KAFKA_BROKERS / KAFKA_SECURITY, and a different one is refused.
LAYOUT_FILE="$KAFKA_DATA_DIR/layout"
if [[ -f "$LAYOUT_FILE" ]]; then
    recorded_brokers="$(sed -n 's/^brokers=//p' "$LAYOUT_FILE")"
    recorded_security="$(sed -n 's/^security=//p' "$LAYOUT_FILE")"
    recorded_netns="$(sed -n 's/^netns=//p' "$LAYOUT_FILE")"
    if [[ "${KAFKA_NETNS:-$recorded_netns}" != "$recorded_netns" ]]; then
        echo "kafka.sh: $KAFKA_DATA_DIR holds a cluster with KAFKA_NETNS='$recorded_netns', not '${KAFKA_NETNS:-}'" >&2
        exit 2
    fi
    KAFKA_NETNS="$recorded_netns"
    if [[ "${KAFKA_BROKERS:-$recorded_brokers}" != "$recorded_brokers" || "${KAFKA_SECURITY:-$recorded_security}" != "$recorded_security" ]]; then
        echo "kafka.sh: $KAFKA_DATA_DIR holds a cluster of $recorded_brokers node(s), $recorded_security;" \
            "not KAFKA_BROKERS=${KAFKA_BROKERS:-} KAFKA_SECURITY=${KAFKA_SECURITY:-} (stop it and delete the data dir to change)" >&2
        exit 2
    fi
    KAFKA_BROKERS="$recorded_brokers"
    KAFKA_SECURITY="$recorded_security"
fi
KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
KAFKA_SECURITY="${KAFKA_SECURITY:-plaintext}"
[[ "$KAFKA_BROKERS" =~ ^[1-9]$ ]] || { echo "kafka.sh: KAFKA_BROKERS must be 1..9, not '$KAFKA_BROKERS'" >&2; exit 2; }
[[ "$KAFKA_SECURITY" == plaintext || "$KAFKA_SECURITY" == sasl_ssl ]] ||
    { echo "kafka.sh: KAFKA_SECURITY must be plaintext or sasl_ssl, not '$KAFKA_SECURITY'" >&2; exit 2; }
KAFKA_NETNS="${KAFKA_NETNS:-}"
if [[ -n "$KAFKA_NETNS" ]]; then
    [[ "$KAFKA_NETNS" =~ ^[a-z][a-z0-9]{0,7}$ ]] ||
        { echo "kafka.sh: KAFKA_NETNS must be 1-8 lowercase letters/digits, not '$KAFKA_NETNS'" >&2; exit 2; }
    ((KAFKA_BROKERS > 1)) && [[ "$KAFKA_SECURITY" == plaintext ]] ||
        { echo "kafka.sh: KAFKA_NETNS needs KAFKA_BROKERS > 1 and KAFKA_SECURITY=plaintext" >&2; exit 2; }
fi
# the bridge's /24 (KAFKA_NETNS): one per KAFKA_PORT
NETNS_NET="10.$((KAFKA_PORT / 256 % 256)).$((KAFKA_PORT % 256))"
KAFKA_VERSION="${KAFKA_VERSION:-$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)}"
if ((KAFKA_BROKERS > 1)); then
    KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
    KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-180}"
else
    KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
    KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
fi
HOST=127.0.0.1
# One SCRAM user per service that talks to Kafka, plus the admin (super user: topics, ACLs).
SCRAM_USERS=(admin intake dispatch mediation policing video-bridge)

LIB_DIR="$REPO_ROOT/.data/lib/kafka-$KAFKA_VERSION"
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"
TLS_DIR="$KAFKA_DATA_DIR/tls"
SECRETS_DIR="$KAFKA_DATA_DIR/secrets"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Per-node paths and ports; select_node <i> sets them. One node keeps the historical layout
# (everything directly in the data dir).
node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
node_host() { if [[ -n "$KAFKA_NETNS" ]]; then echo "$NETNS_NET.$((10 + $1))"; else echo "$HOST"; fi; }
select_node() {
    NODE="$1"
    if ((KAFKA_BROKERS == 1)); then
        NODE_DIR="$KAFKA_DATA_DIR"
        NODE_PORT="$KAFKA_PORT"
        NODE_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
    else
        NODE_DIR="$KAFKA_DATA_DIR/node-$NODE"
        NODE_PORT="$(node_port "$NODE")"
        NODE_CONTROLLER_PORT=$((NODE_PORT + 1))
    fi
    NODE_HOST="$(node_host "$NODE")"
    PID_FILE="$NODE_DIR/kafka.pid"
    OUT_LOG="$NODE_DIR/kafka.log"
    CONFIG="$NODE_DIR/server.properties"
}
select_node 1

bootstrap_servers() {
    local i out=""
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do out+="${out:+,}$(node_host "$i"):$(node_port "$i")"; done
    echo "$out"
}

# Kafka 3.x logs through log4j 1 (reload4j), 4.x through log4j2: see pom.xml.
is_kafka3() { [[ "$KAFKA_VERSION" == 3.* ]]; }

# True when something accepts TCP connections on NODE_HOST:$1 (bash /dev/tcp, no nc needed).
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$NODE_HOST/$1" 2>/dev/null
}

# Prints the pid from the node's pidfile if that process is alive and is our broker (a
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

# Client port of the node that runs (or ran) from this data dir: the generated config
# wins over KAFKA_PORT, so status/stop report the right port even if the env changed.
configured_port() {
    local p=""
    [[ -f "$CONFIG" ]] && p="$(sed -n 's|^advertised\.listeners=[A-Z_]*://.*:\([0-9]*\)$|\1|p' "$CONFIG")"
    echo "${p:-$NODE_PORT}"
}

# A node is ready when its client port answers AND this run's log says it started.
# 4.x prints "[KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)";
# the broker part also logs "Transition from STARTING to STARTED".
broker_ready() {
    port_open "$(configured_port)" && grep -q 'Kafka Server started' "$OUT_LOG" 2>/dev/null
}

# Serialises start/stop/restart on one data dir (e.g. two make targets starting
# Kafka at once). The lock is released when this script exits; the brokers must not
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
    [[ "$KAFKA_SECURITY" == sasl_ssl ]] && ! command -v openssl >/dev/null 2>&1 && missing+=(openssl)
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
    cat >"$NODE_DIR/log4j.properties" <<'EOF'
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
# formatted log dirs are kept.
write_config() {
    local voters="" i p rf isr
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        p=$(($(node_port "$i") + 1))
        ((KAFKA_BROKERS == 1)) && p="$NODE_CONTROLLER_PORT"
        voters+="${voters:+,}$i@$(node_host "$i"):$p"
    done
    rf=$((KAFKA_BROKERS < 3 ? KAFKA_BROKERS : 3))
    isr=$((rf >= 3 ? 2 : 1))
    mkdir -p "$NODE_DIR"
    {
        cat <<EOF
# generated by infra/kafka/kafka.sh on every start: edit the script, not this file
process.roles=broker,controller
node.id=$NODE
# static voter set: no --standalone needed when formatting
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
log.dirs=$NODE_DIR/logs

# internal topics on up to 3 nodes, 2 in sync when 3 (one node may fail); one node: 1
default.replication.factor=$rf
min.insync.replicas=1
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# internal topics default to 50 partitions each; a handful is plenty here
# and makes the first group / transaction / share coordinator lookup fast
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
share.coordinator.state.topic.num.partitions=5

# topics are created explicitly (govmesh-topics), with their RF and min ISR
auto.create.topics.enable=false
num.partitions=3
# no 3 s wait before the first rebalance of a new consumer group (tests)
group.initial.rebalance.delay.ms=0
EOF
        if [[ "$KAFKA_SECURITY" == plaintext ]]; then
            cat <<EOF
listeners=PLAINTEXT://$NODE_HOST:$NODE_PORT,CONTROLLER://$NODE_HOST:$NODE_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$NODE_HOST:$NODE_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
        else
            local store_pw admin_pw
            store_pw="$(cat "$TLS_DIR/store.password")"
            admin_pw="$(cat "$SECRETS_DIR/admin.password")"
            cat <<EOF

# Secured: clients and brokers on SASL_SSL with SCRAM-SHA-512 (the brokers as the admin user);
# the KRaft controller listener on TLS with client certificates (SCRAM credentials live in the
# metadata log the controllers serve, so they cannot authenticate the controllers themselves).
listeners=SASL_SSL://$HOST:$NODE_PORT,CONTROLLER://$HOST:$NODE_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$NODE_PORT
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_pw";
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$store_pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS_DIR/truststore.p12
ssl.truststore.password=$store_pw
listener.name.controller.ssl.client.auth=required
# the broker certificate's CN=broker is the principal User:broker on the controller listener
ssl.principal.mapping.rules=RULE:^CN=([^,]*).*\$/\$1/,DEFAULT

# ACLs (KRaft's StandardAuthorizer): nothing is allowed that no ACL allows (govmesh-topics acls)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:broker
EOF
        fi
    } >"$CONFIG"
    chmod 600 "$CONFIG"
}

# KAFKA_NETNS: the bridge, and per node a namespace with a veth pair (eth0 inside, <name>n<i> on
# the bridge). Made once; a link that was cut (set down) is left as it is.
ensure_netns() {
    [[ -n "$KAFKA_NETNS" ]] || return 0
    local i ns veth
    if ! ip link show "$KAFKA_NETNS" >/dev/null 2>&1; then
        ip link add "$KAFKA_NETNS" type bridge
        ip addr add "$NETNS_NET.1/24" dev "$KAFKA_NETNS"
        ip link set "$KAFKA_NETNS" up
    fi
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        ns="$KAFKA_NETNS-$i"
        veth="${KAFKA_NETNS}n$i"
        [[ -e "/var/run/netns/$ns" ]] || ip netns add "$ns"
        ip link show "$veth" >/dev/null 2>&1 && continue
        ip link add "$veth" type veth peer name eth0 netns "$ns"
        ip link set "$veth" master "$KAFKA_NETNS"
        ip -n "$ns" addr add "$(node_host "$i")/24" dev eth0
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip link set "$veth" up
    done
}

remove_netns() {
    [[ -n "$KAFKA_NETNS" ]] || return 0
    local i
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        [[ -e "/var/run/netns/$KAFKA_NETNS-$i" ]] && ip netns del "$KAFKA_NETNS-$i" # takes its veth pair along
    done
    ip link show "$KAFKA_NETNS" >/dev/null 2>&1 && ip link del "$KAFKA_NETNS"
    return 0
}

random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }

# Secured layout: a CA, one broker certificate (SAN 127.0.0.1 and localhost, used by every
# node, also as the client certificate on the controller listener) and one random password per
# SCRAM user. Made once per data dir; <data dir>/tls/ca.crt is the CA file clients trust.
ensure_tls_and_users() {
    [[ "$KAFKA_SECURITY" == sasl_ssl ]] || return 0
    command -v keytool >/dev/null || die "keytool (JDK) is needed for KAFKA_SECURITY=sasl_ssl"
    mkdir -p "$SECRETS_DIR" "$TLS_DIR"
    chmod 700 "$SECRETS_DIR" "$TLS_DIR"
    local u
    for u in "${SCRAM_USERS[@]}"; do
        [[ -s "$SECRETS_DIR/$u.password" ]] || (umask 077 && random_secret >"$SECRETS_DIR/$u.password")
    done
    [[ -s "$TLS_DIR/truststore.p12" ]] && return 0
    log "making a CA and the broker certificate in $TLS_DIR"
    (umask 077 && random_secret >"$TLS_DIR/store.password")
    local pw
    pw="$(cat "$TLS_DIR/store.password")"
    (
        cd "$TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
            -subj "/CN=govmesh-kafka-ca" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=broker" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
        openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out broker.crt \
            -days 825 -extfile broker.ext 2>/dev/null
        openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.crt -name broker \
            -out broker.p12 -passout "pass:$pw"
        keytool -importcert -noprompt -alias ca -file ca.crt -keystore truststore.p12.tmp \
            -storetype PKCS12 -storepass "$pw" >/dev/null 2>&1
        chmod 600 ./*.key ./*.p12 ./*.p12.tmp
        mv truststore.p12.tmp truststore.p12
    ) || die "could not make the TLS material in $TLS_DIR"
}

# --add-scram arguments for the storage format: the SCRAM users exist from the first start on.
scram_args() {
    SCRAM_ARGS=()
    [[ "$KAFKA_SECURITY" == sasl_ssl ]] || return 0
    local u
    for u in "${SCRAM_USERS[@]}"; do
        SCRAM_ARGS+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$(cat "$SECRETS_DIR/$u.password")]")
    done
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
        "-Dkafka.logs.dir=$NODE_DIR")
    if is_kafka3; then
        JAVA_OPTS+=("-Dlog4j.configuration=file:$NODE_DIR/log4j.properties")
    else
        JAVA_OPTS+=("-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.properties")
    fi
}

wait_ready() {
    local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if broker_ready; then return 0; fi
        kill -0 "$pid" 2>/dev/null || { log "node $NODE: broker process $pid exited"; return 1; }
        sleep 0.5
    done
    log "node $NODE: broker not ready after ${KAFKA_START_TIMEOUT}s"
    return 1
}

fail_with_log() {
    echo "---- last 50 lines of $OUT_LOG ----" >&2
    tail -n 50 "$OUT_LOG" >&2 || true
    exit 1
}

# Writes node $NODE's config and formats its log dir (once: a no-op when meta.properties exists).
format_node() {
    local cp="$LIB_DIR/*" # quoted: the JVM expands the wildcard
    if port_open "$NODE_PORT" || port_open "$NODE_CONTROLLER_PORT"; then
        die "port $NODE_PORT or $NODE_CONTROLLER_PORT on $NODE_HOST is used by another process (not node $NODE of $KAFKA_DATA_DIR)"
    fi
    write_config
    is_kafka3 && write_log4j1_config
    java_opts
    scram_args
    [[ -f "$OUT_LOG" ]] && mv -f "$OUT_LOG" "$OUT_LOG.prev"
    if ! java "${JAVA_OPTS[@]}" -cp "$cp" kafka.tools.StorageTool format \
        -t "$(cat "$CLUSTER_ID_FILE")" -c "$CONFIG" --ignore-formatted "${SCRAM_ARGS[@]}" >"$OUT_LOG" 2>&1; then
        log "node $NODE: storage format failed"
        fail_with_log
    fi
}

# Launches node $NODE (formatted) without waiting for it.
launch_node() {
    local pid cp="$LIB_DIR/*"
    rm -f "$PID_FILE"
    java_opts
    # setsid: own session, so the broker outlives the calling shell / make and gets
    # no SIGHUP; the inner shell writes its own pid and execs java, so the pidfile
    # holds the JVM's pid. Its working directory is the node dir (JVM crash files land there).
    # shellcheck disable=SC2016  # expanded by the inner shell
    local in_ns=()
    [[ -n "$KAFKA_NETNS" ]] && in_ns=(ip netns exec "$KAFKA_NETNS-$NODE")
    setsid nohup "${in_ns[@]}" bash -c 'echo $$ >"$1" && cd "$2" && shift 2 && exec "$@"' _ \
        "$PID_FILE" "$NODE_DIR" java "${JAVA_OPTS[@]}" -cp "$cp" kafka.Kafka "$CONFIG" \
        >>"$OUT_LOG" 2>&1 </dev/null 9>&- &
    local waited=0
    until [[ -s "$PID_FILE" ]] || ((waited > 50)); do sleep 0.1; waited=$((waited + 1)); done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || { log "node $NODE: no pid written"; fail_with_log; }
}

cmd_start() {
    local pid i t0=$SECONDS started=()
    lock_data_dir
    ensure_tools
    ensure_jars
    ensure_cluster_id
    [[ -f "$LAYOUT_FILE" ]] ||
        printf 'brokers=%s\nsecurity=%s\nnetns=%s\n' "$KAFKA_BROKERS" "$KAFKA_SECURITY" "$KAFKA_NETNS" >"$LAYOUT_FILE"
    ensure_tls_and_users
    ensure_netns
    # Launch every node that does not run, then wait for all: a quorum of voters must be up
    # before any of them reports started.
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        select_node "$i"
        running_pid >/dev/null || started+=("$i")
    done
    # the format JVMs in parallel (each takes seconds to start), then the brokers
    local formats=()
    for i in "${started[@]}"; do
        select_node "$i"
        (format_node) 9>&- &
        formats+=($!)
    done
    for pid in "${formats[@]}"; do wait "$pid" || exit 1; done
    for i in "${started[@]}"; do
        select_node "$i"
        launch_node
    done
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        select_node "$i"
        pid="$(running_pid)" || { log "node $i is not running"; fail_with_log; }
        if ! wait_ready "$pid"; then
            local j
            for j in "${started[@]}"; do
                select_node "$j"
                pid="$(running_pid)" && kill -TERM "$pid" 2>/dev/null
            done
            select_node "$i"
            fail_with_log
        fi
    done
    if ((${#started[@]} == 0)); then
        echo "already running on $(bootstrap_servers)"
    else
        echo "started Kafka $KAFKA_VERSION (nodes ${started[*]} of $KAFKA_BROKERS, $KAFKA_SECURITY) on $(bootstrap_servers) in $((SECONDS - t0))s"
    fi
}

cmd_stop() {
    local i pid pids=() nodes=() waited alive
    [[ -d "$KAFKA_DATA_DIR" ]] || { echo "stopped"; return 0; }
    lock_data_dir
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        select_node "$i"
        if pid="$(running_pid)"; then pids+=("$pid"); nodes+=("$i"); fi
        rm -f "$PID_FILE"
    done
    ((${#pids[@]} > 0)) || { remove_netns; echo "stopped"; return 0; }
    # SIGTERM to every node at once (controlled shutdown): stopped one by one, the last node
    # waits for a controller quorum that is already gone. SIGKILL after 30 s.
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((waited = 0; waited < 60; waited++)); do
        alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        ((${#alive[@]} == 0)) && break
        sleep 0.5
    done
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid still alive after 30s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for ((waited = 0; waited < 20; waited++)); do
        alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        ((${#alive[@]} == 0)) && break
        sleep 0.25
    done
    remove_netns
    if ((KAFKA_BROKERS == 1)); then echo "stopped pid ${pids[*]}"; else echo "stopped nodes ${nodes[*]} (pids ${pids[*]})"; fi
}

cmd_status() {
    local pid i up=0
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
        select_node "$i"
        if pid="$(running_pid)"; then
            echo "running pid $pid on $NODE_HOST:$(configured_port)"
            up=$((up + 1))
        elif ((KAFKA_BROKERS > 1)); then
            echo "node $i stopped"
        fi
    done
    ((up > 0)) && return 0
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

# Shell assignments for the clients of this cluster (README.md): source them, or pass them
# to `make run` with an existing cluster.
cmd_client_env() {
    local user="${1:-}" u prefix
    echo "KAFKA_BOOTSTRAP_SERVERS=$(bootstrap_servers)"
    if [[ "$KAFKA_SECURITY" == plaintext ]]; then
        echo "KAFKA_SECURITY_PROTOCOL=PLAINTEXT"
        return 0
    fi
    echo "KAFKA_SECURITY_PROTOCOL=SASL_SSL"
    echo "KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
    echo "KAFKA_SSL_CAFILE=$TLS_DIR/ca.crt"
    if [[ -n "$user" ]]; then
        [[ -s "$SECRETS_DIR/$user.password" ]] || die "no SCRAM user '$user' in $SECRETS_DIR"
        echo "KAFKA_SASL_USERNAME=$user"
        echo "KAFKA_SASL_PASSWORD=$(cat "$SECRETS_DIR/$user.password")"
        return 0
    fi
    for u in "${SCRAM_USERS[@]}"; do
        [[ "$u" == admin ]] && continue
        prefix="$(echo "$u" | tr 'a-z-' 'A-Z_')_"
        echo "${prefix}KAFKA_SASL_USERNAME=$u"
        echo "${prefix}KAFKA_SASL_PASSWORD=$(cat "$SECRETS_DIR/$u.password")"
    done
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart) cmd_stop && cmd_start ;;
logs)
    # logs [-f] [node]
    if [[ "${2:-}" == "-f" ]]; then select_node "${3:-1}"; else select_node "${2:-1}"; fi
    cmd_logs "${2:-}"
    ;;
bootstrap) bootstrap_servers ;;
client-env) cmd_client_env "${2:-}" ;;
*)
    echo "usage: $(basename "$0") start|stop|status|restart|logs [-f] [node]|bootstrap|client-env [user]" >&2
    exit 2
    ;;
esac
