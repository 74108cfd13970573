"""Take over from Apache MirrorMaker 2 (issue 6, item 4).

Apache MM2 4.3.1 in dedicated mode (jars from Maven Central, fetched by
contrib/mm2/mm2run.py on first use) replicates a topic from cluster_a to
cluster_b and checkpoints a consumer group; it is stopped; more records
are produced and the group moves on; kmirrord then starts on the SAME
mm2.properties (`kmirrord -m`). Checked:

* every source record is on the target exactly once, in the source's order
  (0 duplicates, 0 missing), including MM2's copy of the source's
  heartbeats topic;
* kmirrord starts every partition right after MM2's position in its
  Connect offsets topic `mm2-offsets.<S>.internal` (mm2-facts §1.7) and
  says so ("taking over from MirrorMaker 2 at offset N");
* the group's translated offsets never move backwards: kmirrord's
  checkpoints in `<S>.checkpoints.internal` after MM2's last one are never
  below it, and follow the group to its new position; the group's
  offsets on the target (sync.group.offsets.enabled) never go back either.

Timings, MM2's start-up and RSS, and the duplicate count are printed (run
with -s to see them).
"""

import os
import re
import sys
import time
import uuid

import pytest

import kmd
import kmtestbed
import mm2
from helpers import unique_name, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "contrib", "mm2"))
import mm2run  # noqa: E402

# an Apache MM2 JVM: CI's sanitizer pass leaves it out (conftest.py)
pytestmark = pytest.mark.heavy

NPARTS = 3
PHASE1 = 900          # records MM2 copies
PHASE2 = 900          # records produced while nothing replicates
WAIT = 120            # bound of every wait on MM2 or kmirrord


def mm2_properties(src, tgt, a, b, topic, group, d):
    """An mm2.properties as an operator would write it for the test bed
    (single-broker clusters: replication factors 1), with short intervals
    so the test is quick, and kmirrord's own settings (MM2 ignores
    kmirrord.* keys with a warning)."""
    return """# test_mm2_takeover: written by the test
clusters = {S}, {T}
{S}.bootstrap.servers = {A}
{T}.bootstrap.servers = {B}
{S}->{T}.enabled = true
{S}->{T}.topics = {topic}
{S}->{T}.groups = {group}
tasks.max = 1

{rf}
# quick: Connect commits source offsets every second (a worker setting:
# MM2 reads it from the target cluster's properties, not the top level),
# MM2 emits offset syncs eagerly, checkpoints and group offsets every second
{T}.offset.flush.interval.ms = 1000
offset.lag.max = 0
emit.heartbeats.interval.seconds = 1
emit.checkpoints.interval.seconds = 1
sync.group.offsets.enabled = true
sync.group.offsets.interval.seconds = 1
refresh.topics.interval.seconds = 1
refresh.groups.interval.seconds = 1
{S}.consumer.auto.offset.reset = earliest

# --- kmirrord's own settings (MM2 ignores them)
kmirrord.pidfile = {d}/kmirrord.pid
kmirrord.control_socket = {d}/kmirrord.sock
kmirrord.status_interval_ms = 500
kmirrord.hang_timeout_ms = 10000
kmirrord.drain_timeout_ms = 8000
""".format(S=src, T=tgt, A=a.bootstrap(), B=b.bootstrap(), topic=topic, group=group, d=d,
           rf=kmtestbed.MM2_RF_PROPERTIES)


@pytest.fixture
def procs(run_dir):
    """Every MM2 and kmirrord started by the test, killed at its end
    whatever happened (and kmirrord's log checked for sanitizer reports)."""
    made = {"mm2": [], "kmd": []}
    yield made
    errors = []
    for m in made["mm2"]:
        try:
            m.kill()
        except Exception as e:      # kill the others, then report
            errors.append(e)
    for k in made["kmd"]:
        k.kill()
    for k in made["kmd"]:
        log = k.log_text()
        for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert mark not in log, "sanitizer report in %s" % k.log
    assert not errors, errors
    assert not any(mm2run.mm2_pids(m.properties) for m in made["mm2"])


def produce(cluster, topic, tag, first, n):
    """n records, record i to partition i % NPARTS, values unique.
    Returns {partition: [values in order]}."""
    recs = [{"key": b"k%d" % i, "value": b"%s-%d" % (tag, i), "partition": i % NPARTS}
            for i in range(first, first + n)]
    cluster.produce(topic, recs)
    out = {p: [] for p in range(NPARTS)}
    for r in recs:
        out[r["partition"]].append(r["value"])
    return out


def group_commit(cluster, group, topic, offsets):
    """The group commits {partition: offset} on cluster (no members left:
    the group is EMPTY, as after consumers stopped)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                 asynchronous=False)
    finally:
        c.close()


def committed(cluster, group, topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": group,
                  "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(NPARTS)], timeout=10)
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in got if tp.offset >= 0}


def connect_offsets(cluster, src):
    """MM2's source positions in its Connect offsets topic (last value per
    key wins): {(topic, partition): last replicated upstream offset}."""
    import json
    out = {}
    for r in cluster.consume_all("mm2-offsets.%s.internal" % src, timeout=30):
        k = json.loads(r.key)
        if k[0] != "MirrorSourceConnector":
            continue
        key = (k[1]["topic"], k[1]["partition"])
        if r.value is None:
            out.pop(key, None)
        else:
            out[key] = json.loads(r.value)["offset"]
    return out


def checkpoints(cluster, src, group, remote):
    """[(partition, upstream, downstream)] of the group's checkpoints for
    the remote topic, in the order of the checkpoints topic."""
    topic = "%s.checkpoints.internal" % src
    if topic not in cluster.list_topics():
        return []
    out = []
    for r in cluster.consume_all(topic, timeout=30):
        g, t, p, up, down, _meta = mm2.checkpoint(r.key, r.value)
        if g == group and t == remote:
            out.append((p, up, down))
    return out


def syncs_up_to(cluster, tgt, topic):
    """{partition: highest upstream offset} of the offset syncs for topic in
    mm2-offset-syncs.<tgt>.internal on the source cluster."""
    name = "mm2-offset-syncs.%s.internal" % tgt
    if name not in cluster.list_topics():
        return {}
    out = {}
    for r in cluster.consume_all(name, timeout=30):
        t, p, up, _down = mm2.offset_sync(r.key, r.value)
        if t == topic:
            out[p] = max(out.get(p, -1), up)
    return out


def last_per_partition(cps):
    last = {}
    for p, up, down in cps:
        last[p] = (up, down)
    return last


def values_by_partition(cluster, topic):
    out = {p: [] for p in range(NPARTS)}
    for r in cluster.consume_all(topic, timeout=30):
        out.setdefault(r.partition, []).append(r.value)
    return out


def test_takeover_from_mm2(procs, run_dir, cluster_a, cluster_b):
    sfx = uuid.uuid4().hex[:6]
    src, tgt = "mmsrc%s" % sfx, "mmtgt%s" % sfx     # fresh internal topics
    name = unique_name("mm2takeover")
    topic = unique_name("orders")
    group = unique_name("g")
    remote = "%s.%s" % (src, topic)
    tag = name.encode()
    timings = {}
    t_test = time.monotonic()

    cluster_a.create_topic(topic, NPARTS)
    want = produce(cluster_a, topic, tag, 0, PHASE1 // 2)
    # the group will have consumed the first half of phase 1
    g1 = {p: len(v) for p, v in want.items()}

    k = kmd.Kmirrord(run_dir, name, "", mm2=True)
    procs["kmd"].append(k)
    k.write_config(mm2_properties(src, tgt, cluster_a, cluster_b, topic, group, k.dir))
    rc, out = k.check()
    assert rc == 0, out

    timings["(test) before MM2"] = time.monotonic() - t_test
    # ---- 1. Apache MM2 replicates and checkpoints
    t_fetch = time.monotonic()
    mm2run.fetch()
    timings["MM2 fetch (cached after the first run)"] = time.monotonic() - t_fetch
    m = mm2run.MM2(k.conf, os.path.join(k.dir, "mm2"))
    procs["mm2"].append(m)
    m.start()
    timings["MM2 start -> 'MirrorMaker started'"] = m.wait_until_started(timeout=WAIT)
    timings["MM2 start -> source task replicating"] = m.wait_until_replicating(timeout=WAIT)
    timings["MM2 start -> first record on target"] = m.wait_until_replicating(
        target=cluster_b, topic=remote, count=1, timeout=WAIT)
    # The group commits once MM2 has emitted an offset sync for the last
    # record it read: MM2 checkpoints only group offsets at or after a sync
    # it keeps (it emits syncs sparsely; an earlier position may have none
    # and then gets no checkpoint at all).
    timings["MM2 start -> %d records on target" % (PHASE1 // 2)] = m.wait_until_replicating(
        target=cluster_b, topic=remote, count=PHASE1 // 2, timeout=WAIT)
    wait_until(lambda: all(syncs_up_to(cluster_a, tgt, topic).get(p, -1) >= g1[p] - 1
                           for p in range(NPARTS)),
               timeout=WAIT, interval=1, message="MM2's offset syncs up to %s" % g1)
    group_commit(cluster_a, group, topic, g1)
    for p, vs in produce(cluster_a, topic, tag, PHASE1 // 2, PHASE1 - PHASE1 // 2).items():
        want[p] += vs
    timings["MM2 start -> %d records on target" % PHASE1] = m.wait_until_replicating(
        target=cluster_b, topic=remote, count=PHASE1, timeout=WAIT)

    def mm2_checkpointed():
        last = last_per_partition(checkpoints(cluster_b, src, group, remote))
        return last if all(last.get(p, (None,))[0] == g1[p] for p in range(NPARTS)) else None
    wait_until(mm2_checkpointed, timeout=WAIT, interval=1,
               message="MM2's checkpoints of %s at %s" % (group, g1))
    timings["MM2 start -> checkpoints of the group"] = m.seconds()

    def mm2_committed():
        pos = connect_offsets(cluster_b, src)
        return pos if all(pos.get((topic, p)) == len(want[p]) - 1
                          for p in range(NPARTS)) else None
    wait_until(mm2_committed, timeout=WAIT, interval=1,
               message="MM2's Connect offsets at the end of %s" % topic)
    # MM2 synced the (absent) group's offsets to the target
    wait_until(lambda: len(committed(cluster_b, group, remote)) == NPARTS, timeout=WAIT,
               interval=1, message="MM2's group offset sync of %s on B" % group)
    timings["(test) MM2 verified"] = time.monotonic() - t_test
    mm2_rss_mb = m.rss_kb() / 1024
    mm2_peak_mb = m.peak_rss_kb() / 1024
    mm2_cpu = m.cpu_seconds()
    assert m.stop(timeout=30), "MM2 needed SIGKILL; log %s" % m.log_file
    assert not mm2run.mm2_pids(k.conf), "MM2 left processes"
    timings["MM2 stop (SIGTERM -> gone)"] = m.stop_seconds

    timings["(test) MM2 stopped"] = time.monotonic() - t_test
    # what MM2 left: its positions, its last checkpoint per partition, the
    # group's offsets on the target
    mm2_pos = connect_offsets(cluster_b, src)
    mm2_cps = checkpoints(cluster_b, src, group, remote)
    mm2_last = last_per_partition(mm2_cps)
    mm2_target_group = committed(cluster_b, group, remote)
    mm2_copied = values_by_partition(cluster_b, remote)
    assert mm2_copied == want, "MM2 itself did not copy phase 1 exactly"
    hb_pos = {kk: v for kk, v in mm2_pos.items() if kk[0] != topic}

    timings["(test) MM2 state read"] = time.monotonic() - t_test
    # ---- 2. nothing replicates: more records, the group moves on
    more = produce(cluster_a, topic, tag, PHASE1, PHASE2)
    for p in range(NPARTS):
        want[p] += more[p]
    g2 = {p: len(want[p]) - len(more[p]) // 2 for p in range(NPARTS)}
    group_commit(cluster_a, group, topic, g2)

    timings["(test) phase 2 produced"] = time.monotonic() - t_test
    # ---- 3. kmirrord on the same mm2.properties
    t0 = time.monotonic()
    k.start(timeout=60)
    timings["kmirrord start -> all workers running"] = time.monotonic() - t0

    def all_copied():
        got = values_by_partition(cluster_b, remote)
        return got if sum(len(v) for v in got.values()) >= PHASE1 + PHASE2 else None
    try:
        wait_until(all_copied, timeout=WAIT, interval=0.5,
                   message="%d records on %s" % (PHASE1 + PHASE2, remote))
    except AssertionError:
        pass                               # counted below
    timings["kmirrord start -> all records on target"] = time.monotonic() - t0
    time.sleep(3)                          # let any duplicate arrive
    got = values_by_partition(cluster_b, remote)
    flat = [v for vs in got.values() for v in vs]
    expected = [v for vs in want.values() for v in vs]
    dups = len(flat) - len(set(flat))
    missing = len(set(expected) - set(flat))
    log = k.log_text()
    takeovers = {(t, int(p)): int(o) for t, p, o in re.findall(
        r"(\S+) \[(\d+)\]: taking over from MirrorMaker 2 at offset (\d+)", log)}

    timings["(test) kmirrord copied"] = time.monotonic() - t_test
    # heartbeats MM2 copied (the source's heartbeats topic): none twice
    hb_remote = "%s.heartbeats" % src
    hb = [(r.key, r.value) for r in cluster_b.consume_all(hb_remote, timeout=30)] \
        if hb_remote in cluster_b.list_topics() else []
    hb_dups = len(hb) - len(set(hb))

    timings["(test) heartbeats read"] = time.monotonic() - t_test
    # ---- 4. checkpoints after the switch
    def kmd_checkpointed():
        cps = checkpoints(cluster_b, src, group, remote)[len(mm2_cps):]
        last = last_per_partition(cps)
        return cps if all(last.get(p, (None,))[0] == g2[p] for p in range(NPARTS)) else None
    t1 = time.monotonic()
    try:
        kmd_cps = wait_until(kmd_checkpointed, timeout=60, interval=1,
                             message="kmirrord's checkpoints of %s at %s" % (group, g2))
        timings["kmirrord: group's new position checkpointed after"] = time.monotonic() - t1
    except AssertionError:
        kmd_cps = checkpoints(cluster_b, src, group, remote)[len(mm2_cps):]
    timings["(test) checkpoints read"] = time.monotonic() - t_test
    target_group = committed(cluster_b, group, remote)

    print("\n--- takeover from MM2 %s (topic %s, %d partitions)" % (
        mm2run.DEFAULT_VERSION, topic, NPARTS))
    timings["test so far"] = time.monotonic() - t_test
    for label, secs in timings.items():
        print("  %-52s %6.1f s" % (label, secs))
    print("  MM2 RSS %.0f MB (peak %.0f MB), CPU %.1f s, heap -Xmx%s"
          % (mm2_rss_mb, mm2_peak_mb, mm2_cpu or 0, m.heap))
    print("  MM2 positions (last replicated): %s" % {p: mm2_pos.get((topic, p))
                                                     for p in range(NPARTS)})
    print("  kmirrord took over at:           %s" % {p: takeovers.get((topic, p))
                                                     for p in range(NPARTS)})
    print("  records on target %d, expected %d: duplicates %d, missing %d"
          % (len(flat), len(expected), dups, missing))
    print("  heartbeats copied %d, duplicates %d; MM2 heartbeat positions %s; "
          "kmirrord took over %s" % (len(hb), hb_dups, hb_pos,
                                     {kk: v for kk, v in takeovers.items() if kk[0] != topic}))
    print("  group on the source: %s, then (MM2 stopped) %s" % (g1, g2))
    print("  MM2 last checkpoints (up, down): %s" % dict(sorted(mm2_last.items())))
    print("  kmirrord checkpoints after MM2:  %d, last %s"
          % (len(kmd_cps), dict(sorted(last_per_partition(kmd_cps).items()))))
    print("  group on target: after MM2 %s, after kmirrord %s"
          % (mm2_target_group, target_group))

    try:
        assert dups == 0 and missing == 0, \
            "%d duplicates, %d missing on %s (log %s)" % (dups, missing, remote, k.log)
        assert got == want, "target partitions differ from the source in order"
        for p in range(NPARTS):
            assert takeovers.get((topic, p)) == mm2_pos[(topic, p)] + 1, \
                "partition %d: took over at %s, MM2 was at %d" % (
                    p, takeovers.get((topic, p)), mm2_pos[(topic, p)])
        assert hb_dups == 0, "%d heartbeat records copied twice" % hb_dups
        for (t, p), off in hb_pos.items():
            if (t, p) in takeovers:
                assert takeovers[(t, p)] == off + 1
        # never backwards: each kmirrord checkpoint is at or past MM2's last
        # one for its partition, and they only move forward
        prev = {p: mm2_last[p][1] for p in mm2_last}
        for p, up, down in kmd_cps:
            assert down >= prev.get(p, -1), \
                "partition %d: checkpoint went back from %d to %d (upstream %d)" % (
                    p, prev[p], down, up)
            prev[p] = down
        for p in range(NPARTS):
            assert target_group.get(p, -1) >= mm2_target_group[p], \
                "group %s went back on the target, partition %d: %d -> %s" % (
                    group, p, mm2_target_group[p], target_group.get(p))
        # and the switch lost nothing: the group's new position is checkpointed
        last = last_per_partition(kmd_cps)
        assert all(last.get(p, (None,))[0] == g2[p] for p in range(NPARTS)), \
            "kmirrord did not checkpoint the group's new position %s: %s" % (g2, last)
        # never skipping: a checkpoint past the group's position would make
        # a failed-over consumer miss records (at most the group's offset:
        # the same records sit at the same offsets on both sides here)
        for p in range(NPARTS):
            assert last[p][1] <= g2[p], "partition %d: %d translated to %d, past it" % (
                p, g2[p], last[p][1])
        # the group's offsets on the target follow the last checkpoint
        wait_until(lambda: all(committed(cluster_b, group, remote).get(p) == last[p][1]
                               for p in range(NPARTS)),
                   timeout=30, interval=1,
                   message="group %s on the target at %s" % (
                       group, {p: last[p][1] for p in range(NPARTS)}))
    finally:
        k.stop()
