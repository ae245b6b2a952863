#!/usr/bin/env bash
# Three Switchboard nodes and haproxy on this machine, sharing one
# redis-server. Needs redis-server and haproxy (Debian: apt-get install
# redis-server haproxy) and a backend on BACKEND_URL (default: none; the
# routes then answer 502, the channels still work).
#
#   examples/cluster/run.sh            # clients and management API on :8080
#
# Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$work"' EXIT

export REDIS_ADDRESS=127.0.0.1:6390
export BACKEND_URL=${BACKEND_URL:-http://127.0.0.1:3000/}
export SWITCHBOARD_ACCESS_KEY_ID=${SWITCHBOARD_ACCESS_KEY_ID:-AKIDCLUSTEREXAMPLE}
export SWITCHBOARD_SECRET_ACCESS_KEY=${SWITCHBOARD_SECRET_ACCESS_KEY:-$(head -c 24 /dev/urandom | base64)}
export SWITCHBOARD_CLUSTER_SECRET=${SWITCHBOARD_CLUSTER_SECRET:-$(head -c 32 /dev/urandom | base64)}

redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" &
go build -o "$work/switchboard" "$root/cmd/switchboard"

for i in 1 2 3; do
  SWITCHBOARD_LISTEN=127.0.0.1:818$i \
  SWITCHBOARD_CLUSTER_NODE_ID=node-$i \
  SWITCHBOARD_CLUSTER_ADVERTISE=127.0.0.1:918$i \
    "$work/switchboard" serve --config "$here/switchboard.yaml" >"$work/node-$i.log" 2>&1 &
done

export SB_FRONT=127.0.0.1:8080 SB_NODE1=127.0.0.1:8181 SB_NODE2=127.0.0.1:8182 SB_NODE3=127.0.0.1:8183
haproxy -db -f "$here/haproxy.cfg" &
echo "clients: ws://127.0.0.1:8080/production   management: http://127.0.0.1:8080/production/@connections/{id}"
echo "access key id: $SWITCHBOARD_ACCESS_KEY_ID   secret: $SWITCHBOARD_SECRET_ACCESS_KEY"
echo "logs in $work; Ctrl-C stops"
wait
