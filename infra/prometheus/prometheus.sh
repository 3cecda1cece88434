#!/usr/bin/env bash
# Prometheus (Debian package) scraping the mesh's services.
# usage: prometheus.sh install|config|start|stop|status
# env: PROM_PORT (9090), PROM_DATA_DIR (<repo>/.data/prometheus),
#      PROM_TARGETS ("intake=127.0.0.1:8001 dispatch=127.0.0.1:8002 ..."; the default ports of the mesh)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PORT=${PROM_PORT:-9090}
DATA=${PROM_DATA_DIR:-$ROOT/.data/prometheus}
mkdir -p "$DATA" && DATA=$(cd "$DATA" && pwd)
TARGETS=${PROM_TARGETS:-"intake=127.0.0.1:8001 dispatch=127.0.0.1:8002 mediation=127.0.0.1:8003 policing=127.0.0.1:8004 video-bridge=127.0.0.1:8005"}
PIDFILE=$DATA/prometheus.pid

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

write_targets() {
  local sep="" out="["
  for pair in $TARGETS; do
    out+="$sep{\"targets\": [\"${pair#*=}\"], \"labels\": {\"job\": \"${pair%%=*}\"}}"
    sep=", "
  done
  # Write then rename: Prometheus re-reads the file and must never see half of it.
  printf '%s]\n' "$out" > "$DATA/targets.json.tmp" && mv "$DATA/targets.json.tmp" "$DATA/targets.json"
}

install() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  apt-get install -y prometheus || { apt-get update && apt-get install -y prometheus; }
}

config() {
  install
  write_targets
  sed -e "s|@DIR@|$HERE|g" -e "s|@DATA@|$DATA|g" "$HERE/prometheus.yml.in" > "$DATA/prometheus.yml"
  promtool check config "$DATA/prometheus.yml" >/dev/null
  echo "$DATA/prometheus.yml"
}

start() {
  if running; then write_targets; echo "already running pid $(cat "$PIDFILE") on 127.0.0.1:$PORT"; return 0; fi
  config >/dev/null
  setsid nohup prometheus --config.file="$DATA/prometheus.yml" --storage.tsdb.path="$DATA/tsdb" \
    --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=7d \
    > "$DATA/prometheus.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then
      echo "started Prometheus pid $(cat "$PIDFILE") on http://127.0.0.1:$PORT"; return 0
    fi
    running || break
    sleep 0.5
  done
  echo "Prometheus did not become ready; last log lines:" >&2
  tail -n 30 "$DATA/prometheus.log" >&2
  return 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped pid $pid"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  install) install ;;
  config) config ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running pid $(cat "$PIDFILE") on http://127.0.0.1:$PORT"; else echo stopped; exit 1; fi ;;
  *) echo "usage: $0 install|config|start|stop|status" >&2; exit 2 ;;
esac
