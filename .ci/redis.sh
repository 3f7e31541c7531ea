#!/usr/bin/env bash
# Make sure a Redis answers at REDIS_URL (default redis://127.0.0.1:6379) before the tests run.
# When none does and the URL points at this machine, start one (no persistence: test data only) and wait
# until it answers PING. Called by .ci/run; safe to run twice.
set -euo pipefail

url="${REDIS_URL:-redis://127.0.0.1:6379}"
hostport="${url#redis://}"
hostport="${hostport#*@}"          # drop credentials, if any
hostport="${hostport%%/*}"         # drop a database number
host="${hostport%%:*}"
port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=6379

ping() { redis-cli -h "$host" -p "$port" ping 2>/dev/null | grep -q PONG; }

if ping; then
  echo "redis: answering at $host:$port"
  exit 0
fi

case "$host" in
  127.0.0.1|localhost) ;;
  *) echo "redis: nothing answers at $host:$port, and it is not local: start it there" >&2; exit 1 ;;
esac

command -v redis-server >/dev/null || { echo "redis: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
echo "redis: starting redis-server on $host:$port"
redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null

for _ in $(seq 1 50); do
  if ping; then echo "redis: answering at $host:$port"; exit 0; fi
  sleep 0.1
done
echo "redis: redis-server did not answer PING at $host:$port within 5 s" >&2
exit 1
