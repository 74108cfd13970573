#!/bin/sh
# profile.sh: where kmirrord's source worker spends its CPU during a
# catch-up, with perf.
#
#   contrib/bench/profile.sh [SIZE] [PARTITIONS] [RECORDS] [OUT]
#
# Runs contrib/bench/replicate.py (its own two test-bed clusters, tasks=1),
# finds the source worker (process name km-source), samples it with
# `perf record -g` for PROFILE_SECONDS (default 6), and writes the flat
# profile (self time by symbol and by shared object) to OUT (default
# docs/profile-<size>b-<partitions>p.txt), with the benchmark's own figures
# (throughput, CPU s/GB, txn_commit_ms, starved) at the end. Needs perf
# (Debian: linux-perf) and permission to profile (root, or
# kernel.perf_event_paranoid <= 1).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
size=${1:-1024}
parts=${2:-8}
records=${3:-1000000}
out=${4:-$repo/docs/profile-${size}b-${parts}p.txt}
secs=${PROFILE_SECONDS:-6}
work=$(mktemp -d /tmp/kmirror-profile.XXXXXX)
bench_pid=

cleanup() {
	[ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

command -v perf >/dev/null || { echo "profile.sh: no perf (apt-get install linux-perf)" >&2; exit 1; }

python3 "$here/replicate.py" --records "$records" --size "$size" --partitions "$parts" \
    --no-checkpoints --json "$work/result.json" --label profile >"$work/bench.log" 2>&1 &
bench_pid=$!

# the source worker appears once the clusters are up and the data loaded
pid=
i=0
while [ $i -lt 1800 ]; do
	pid=$(pgrep -n -x km-source || true)
	[ -n "$pid" ] && break
	kill -0 "$bench_pid" 2>/dev/null || { cat "$work/bench.log" >&2; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
[ -n "$pid" ] || { echo "profile.sh: no km-source process within 180 s" >&2; exit 1; }

perf record -F 997 -g -p "$pid" -o "$work/perf.data" -- sleep "$secs" >/dev/null 2>&1 || true
wait "$bench_pid" || { cat "$work/bench.log" >&2; exit 1; }
bench_pid=

{
	echo "# perf profile of kmirrord's source worker: ${size}-byte records, ${parts} partitions"
	echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# written by contrib/bench/profile.sh; ${secs} s of samples at 997 Hz (cpu-clock) from"
	echo "# the start of the catch-up; the benchmark's own summary is at the end."
	echo
	echo "## self time by shared object"
	perf report -i "$work/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
	    grep -v '^#' | grep -v '^$' | head -15
	echo
	echo "## self time by symbol (top 40)"
	perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null |
	    grep -v '^#' | grep -v '^$' | head -40
	echo
	echo "## benchmark summary (contrib/bench/replicate.py)"
	grep -E '^(config|catch-up|throughput|first record|steady|CPU s|peak RSS|transactions)' \
	    "$work/bench.log"
	python3 - "$work/result.json" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
st = r.get("source_status") or {}
print("source worker: txn_commit_ms %s over %s commits (time from a commit's start, "
      "flush included, to EndTxn's answer); starved %s (pump turns with nothing to read); "
      "catch-up %s s" % (st.get("txn_commit_ms"), st.get("txn_commits"), st.get("starved"),
                         r.get("catchup_s")))
EOF
} >"$out"
echo "wrote $out"
