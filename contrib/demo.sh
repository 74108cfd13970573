#!/usr/bin/env bash
# kmirror demo: two local Apache Kafka clusters, kmirrord replicating both
# ways (active-active), sample traffic, and what arrived on the other side.
# Sets up whatever is missing first (Debian packages, Kafka jars, the build).
# Everything it starts is stopped at the end, also on Ctrl-C or an error.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dir=${KMIRROR_DEMO_DIR:-/tmp/kmirror-demo}
porta=${KMIRROR_DEMO_PORT_A:-17092}
portb=${KMIRROR_DEMO_PORT_B:-17192}
testbed="python3 contrib/testbed/kmtestbed.py"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "setting up (Debian packages, Kafka jars, build)"
contrib/setup.sh
make -s

cleanup() {
    say "stopping kmirrord and the clusters"
    if [ -f "$dir/kmirrord.pid" ]; then
        kill -TERM "$(cat "$dir/kmirrord.pid")" 2>/dev/null || true
        for _ in $(seq 1 100); do
            [ -f "$dir/kmirrord.pid" ] || break
            sleep 0.1
        done
    fi
    $testbed stop --name east --dir "$dir" >/dev/null 2>&1 || true
    $testbed stop --name west --dir "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
mkdir -p "$dir"

say "starting two Kafka clusters: east (127.0.0.1:$porta) and west (127.0.0.1:$portb)"
$testbed start --name east --port "$porta" --dir "$dir" --quick
$testbed start --name west --port "$portb" --dir "$dir" --quick

cat > "$dir/kmirrord.conf" <<CONF
global = {
  pidfile = "$dir/kmirrord.pid";
  control_socket = "$dir/kmirrord.sock";
  log = { target = "file"; file = "$dir/kmirrord.log"; };
  status_interval_ms = 1000;
};
clusters = (
  { alias = "east"; bootstrap_servers = "127.0.0.1:$porta"; },
  { alias = "west"; bootstrap_servers = "127.0.0.1:$portb"; }
);
flow_defaults = { refresh_topics_interval_ms = 2000; };
flows = (
  { source = "east"; target = "west"; tasks = 2; },
  { source = "west"; target = "east"; }
);
CONF
build/kmirrord -n -c "$dir/kmirrord.conf"

say "starting kmirrord (east->west and west->east)"
build/kmirrord -c "$dir/kmirrord.conf"

say "producing sample traffic: 10000 orders on east, 5000 payments on west"
python3 - "$dir" "$porta" "$portb" <<'PY'
import sys, time
sys.path.insert(0, "contrib/testbed")
import kmtestbed
d, pa, pb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
east = kmtestbed.Cluster.from_state("east", d)
west = kmtestbed.Cluster.from_state("west", d)
east.create_topic("orders", 4)
west.create_topic("payments", 2)
east.produce("orders", [("order-%d" % i, '{"id": %d, "total": %d}' % (i, i * 7 % 1000))
                        for i in range(10000)])
west.produce("payments", [("pay-%d" % i, '{"order": %d}' % i) for i in range(5000)])
def count(c, t):
    try:
        return len(c.consume_all(t, timeout=10))
    except Exception:
        return 0
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    a, b = count(west, "east.orders"), count(east, "west.payments")
    print("  west has east.orders: %5d/10000   east has west.payments: %5d/5000" % (a, b))
    if a == 10000 and b == 5000:
        break
    time.sleep(2)
hb = [r for r in west.consume_all("heartbeats", timeout=10)]
print("  heartbeats on west: %d records" % len(hb))
PY

say "kmirrorctl status"
build/kmirrorctl -s "$dir/kmirrord.sock" status
say "done: logs in $dir"
