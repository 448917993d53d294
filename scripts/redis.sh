#!/usr/bin/env bash
# Start (installing it and redis-sentinel from Debian's packages if missing) or stop the Redis
# the tests use.
set -euo pipefail
PORT="${REDIS_PORT:-6390}"
DIR="$(cd "$(dirname "$0")/.." && pwd)/.run/redis"
mkdir -p "$DIR"

start() {
  # redis-sentinel: the fail-over tests start their own primary, replica and sentinels.
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-sentinel >/dev/null 2>&1; then
    echo "redis-server or redis-sentinel not found: installing them with apt-get" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-sentinel >/dev/null
  fi
  if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
    echo "redis://127.0.0.1:$PORT/0"; return 0
  fi
  redis-server --port "$PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  for _ in $(seq 1 50); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && { echo "redis://127.0.0.1:$PORT/0"; return 0; }
    sleep 0.1
  done
  echo "redis-server did not answer on port $PORT (see $DIR/redis.log)" >&2
  return 1
}

stop() {
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
