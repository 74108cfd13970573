"""System tests of the checkpoint worker (docs/checkpoints.md): consumer
groups fail over from A to B with exact offsets (0 duplicates, 0 missing)
under both replication policies; transactional and compacted source topics
lose nothing; a target group with members is never overwritten and a
target group never moves backwards; Kafka's own RemoteClusterUtils
(connect-mirror-client 4.3.1, built here with Maven) reads our checkpoints
and lineage; a restarted checkpoint worker never regresses; 1,000 groups
are checkpointed within two intervals.

Figures are printed (run pytest with -s to see them): duplicate counts, the
time from a group's commit on A to its translated commit on B, and the
checkpoint worker's RSS.
"""

import collections
import os
import signal
import time
import uuid

import pytest

import kmd
import mm2
import records
from helpers import unique_name, wait_until

INTERVAL_MS = 1000          # emit checkpoints / sync group offsets, in tests


def sfx():
    return uuid.uuid4().hex[:6]


def _conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[ %s ]" % ", ".join(_conf_value(x) for x in v)
    return '"%s"' % str(v).replace("\\", "\\\\").replace('"', '\\"')


def flow(src, tgt, **settings):
    settings.setdefault("emit_heartbeats_enabled", False)
    settings.setdefault("refresh_topics_interval_ms", 500)
    settings.setdefault("refresh_groups_interval_ms", 1000)
    settings.setdefault("emit_checkpoints_interval_ms", INTERVAL_MS)
    settings.setdefault("sync_group_offsets_interval_ms", INTERVAL_MS)
    return 'source = "%s"; target = "%s"; ' % (src, tgt) + " ".join(
        "%s = %s;" % (k, _conf_value(v)) for k, v in settings.items())


def start_kmd(kmirrord, run_dir, prefix, clusters, flows, start=True):
    name = unique_name(prefix)
    text = kmd.config_text(run_dir, name, clusters, flows)
    k = kmirrord(name, text)
    return k.start() if start else k


def consumer(cluster, group, **extra):
    from confluent_kafka import Consumer
    conf = cluster.client_config("PLAINTEXT")
    conf.update({"group.id": group, "enable.auto.commit": False,
                 "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                 "logger": records._quiet_logger()})
    conf.update(extra)
    return Consumer(conf)


def consume_and_commit(cluster, topic, group, nparts, want):
    """Group `group` reads about `want` records of `topic` on `cluster`
    (all partitions, explicit assignment), commits the position after the
    last record read of each partition and leaves. Returns (ids read,
    {partition: committed offset}, commit time)."""
    from confluent_kafka import TopicPartition, OFFSET_BEGINNING
    c = consumer(cluster, group)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(nparts)])
    ids, pos = [], {}
    deadline = time.monotonic() + 120
    while len(ids) < want and time.monotonic() < deadline:
        for m in c.consume(num_messages=min(500, want - len(ids)), timeout=1):
            if m.error() is not None:
                continue
            rid = records.record_id(m.key(), m.value(), m.headers())
            if rid is not None:
                ids.append(rid)
            pos[m.partition()] = m.offset() + 1
    assert len(ids) >= want, "read only %d of %d on A" % (len(ids), want)
    c.commit(offsets=[TopicPartition(topic, p, o) for p, o in pos.items()],
             asynchronous=False)
    t0 = time.monotonic()
    c.close()
    return ids, pos, t0


def committed(cluster, group, topic, nparts):
    """{partition: committed offset} of a group (absent partitions left out)."""
    from confluent_kafka import TopicPartition
    c = consumer(cluster, group)
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(nparts)], timeout=10)
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in got if tp.offset >= 0}


def read_as_group(cluster, topic, group, expect, idle=4.0, timeout=120):
    """A consumer of `group` subscribes to `topic` (resuming at the group's
    committed offsets) and reads until `expect` records came and then
    nothing for `idle` seconds. Returns the ids read."""
    c = consumer(cluster, group)
    c.subscribe([topic])
    ids = []
    last = time.monotonic()
    deadline = last + timeout
    while time.monotonic() < deadline:
        msgs = c.consume(num_messages=2000, timeout=0.5)
        for m in msgs:
            rid = records.record_id(m.key(), m.value(), m.headers()) \
                if m.error() is None else None
            if rid is not None:
                ids.append(rid)
        if msgs:
            last = time.monotonic()
        elif len(ids) >= expect and time.monotonic() - last > idle:
            break
        elif len(ids) == 0 and time.monotonic() - last > 30:
            break
    c.close()
    return ids


def checkpoints(cluster, topic):
    """Every checkpoint record of a checkpoints topic, in order."""
    return [mm2.checkpoint(r.key, r.value) for r in cluster.consume_all(topic, timeout=30)]


def ckpt_worker(k, flow_name):
    return k.worker(flow_name, "checkpoint")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


_T0 = [time.monotonic()]


def mark(label):
    """Print a progress line with the time since the previous one."""
    now = time.monotonic()
    print("  [%6.1f s] %s" % (now - _T0[0], label), flush=True)
    _T0[0] = now


def dup_missing(read, consumed_on_a, all_ids):
    done = set(consumed_on_a)
    expected = set(all_ids) - done
    cnt = collections.Counter(read)
    dups = sum(n - 1 for n in cnt.values() if n > 1) + sum(1 for i in cnt if i in done)
    missing = expected - set(cnt)
    return dups, missing


# ---------------------------------------------------------------- failover


@pytest.mark.heavy
@pytest.mark.parametrize("policy", ["default", "identity"])
def test_failover_exact(kmirrord, run_dir, cluster_a, cluster_b, policy):
    """100,000 records over 8 partitions; group g reads ~60% on A, commits
    and stops; after one checkpoint interval a consumer of g on B reads
    exactly the records g had not read: 0 duplicates, 0 missing."""
    s = sfx()
    src, tgt = "A" + s, "B" + s
    topic = unique_name("cko")
    group = unique_name("g")
    n, nparts = 100_000, 8
    cluster_a.create_topic(topic, nparts)
    all_ids = records.produce_fast(cluster_a, topic,
                                   records.gen_records(topic, n, nparts))
    remote = topic if policy == "identity" else "%s.%s" % (src, topic)
    k = start_kmd(kmirrord, run_dir, "ckf", [kmd.cluster_block(src, cluster_a),
                                              kmd.cluster_block(tgt, cluster_b)],
                  [flow(src, tgt, topics=[topic], replication_policy=policy)])
    fl = "%s->%s" % (src, tgt)
    mark("produced; kmirrord running")
    rd = records.Reader(cluster_b, remote)
    rd.wait_for(all_ids, timeout=180, keep_offsets=True)
    mark("replicated")
    # the position on B right after each partition's last record read on A
    consumed, pos, t0 = consume_and_commit(cluster_a, topic, group, nparts, 60_000)
    last_id = {}
    for rid in consumed:
        last_id[int(rid.split("/")[1])] = rid
    # exact: after the last record read, at most at the next one (the
    # positions between hold only transaction markers)
    want_b = {}
    for p, rid in last_id.items():
        lst = rd.ids[p]
        i = lst.index(rid)
        nxt = rd.offsets[p][lst[i + 1]] if i + 1 < len(lst) else rd.offsets[p][rid] + 2
        want_b[p] = (rd.offsets[p][rid] + 1, nxt)

    def is_exact(offs):
        return set(offs) == set(want_b) and all(
            want_b[p][0] <= o <= want_b[p][1] for p, o in offs.items())
    mark("consumed on A")
    rd.close()
    mark("reader closed")
    seen = {}

    def exact_on_b():
        seen["b"] = committed(cluster_b, group, remote, nparts)
        return is_exact(seen["b"])
    try:
        wait_until(exact_on_b, timeout=60, interval=0.1)
    except AssertionError:
        raise AssertionError("group %s on B: %s, wanted %s; checkpoints %s" % (
            group, seen.get("b"), want_b,
            [c for c in checkpoints(cluster_b, "%s.checkpoints.internal" % src)
             if c[0] == group])) from None
    got = seen["b"]
    latency = time.monotonic() - t0
    time.sleep(INTERVAL_MS / 1000.0)
    t1 = time.monotonic()
    read = read_as_group(cluster_b, remote, group, n - len(consumed))
    print("\n  read on B in %.1f s" % (time.monotonic() - t1))
    dups, missing = dup_missing(read, consumed, all_ids)
    w = ckpt_worker(k, fl)
    print("\n[checkpoints %s] consumed on A %d, read on B %d: duplicates %d, missing %d; "
          "commit on A -> translated commit on B %.2f s; partitions exact %s, "
          "conservative %s" % (policy, len(consumed), len(read), dups, len(missing),
                               latency, w["status"].get("partitions_exact"),
                               w["status"].get("partitions_conservative")))
    assert got
    assert dups == 0
    assert not missing, sorted(missing)[:5]
    # the checkpoints topic holds what MM2 would write, in target names
    t1 = time.monotonic()
    cps = [c for c in checkpoints(cluster_b, "%s.checkpoints.internal" % src)
           if c[0] == group]
    print("  checkpoints read in %.1f s" % (time.monotonic() - t1))
    last = {}
    for g, t, p, up, down, meta in cps:
        assert t == remote
        last[p] = (up, down)
    assert {p: v[0] for p, v in last.items()} == pos
    assert is_exact({p: v[1] for p, v in last.items()})
    assert {p: v[1] for p, v in last.items()} == got
    st = w["status"]
    assert "g.%s" % group in st and "exact=8" in st["g.%s" % group]
    k.stop()


# ---------------------------------------------------------------- gaps


def ids_after(reader, last_consumed):
    """Ids on B, partition by partition, after the record each partition
    of the group last read on A (all of a partition the group did not
    read), and those up to it."""
    after, upto = set(), set()
    for p, lst in reader.ids.items():
        cut = lst.index(last_consumed[p]) + 1 if p in last_consumed else 0
        upto.update(lst[:cut])
        after.update(lst[cut:])
    return after, upto


def failover_check(cluster_b, reader, remote, group, consumed):
    last = {}
    for rid in consumed:
        last[int(rid.split("/")[1])] = rid
    after, upto = ids_after(reader, last)
    read = read_as_group(cluster_b, remote, group, len(after))
    cnt = collections.Counter(read)
    dups = sum(n - 1 for n in cnt.values() if n > 1) + sum(1 for i in cnt if i in upto)
    missing = after - set(cnt)
    return dups, missing, len(read)


def compacted_records(tag, n, nparts):
    """n records over nparts, each with its id in the value: every third
    one has a key of its own (it survives compaction), the others share
    five keys (compaction removes all but the last of each), so the
    compacted partitions have gaps all along."""
    for j in range(n):
        p = j % nparts
        rid = "%s/%d/%d" % (tag, p, j)
        key = b"u%d" % j if (j // nparts) % 3 == 0 else b"k%d" % (j % 5)
        yield rid, {"partition": p, "key": key, "value": b"id=%s;" % rid.encode()}


def has_gaps(cluster, topic, nparts):
    for p in range(nparts):
        offs = [r.offset for r in cluster.consume_all(topic, partition=p, timeout=30)]
        if any(b - a > 1 for a, b in zip(offs, offs[1:])):
            return True
    return False


def test_failover_transactional_and_compacted(kmirrord, run_dir, cluster_a, cluster_b):
    """A transactional source topic (commit markers, aborted transactions)
    and a compacted one (offset gaps): after failover nothing is missing;
    the duplicate counts are printed."""
    s = sfx()
    src, tgt = "A" + s, "B" + s
    nparts = 4
    ttx, tcp = unique_name("cktx"), unique_name("ckcp")
    cluster_a.create_topic(ttx, nparts)
    gen = list(records.gen_records(ttx, 12_000, nparts))
    txns = [(i % 4 != 2, gen[i * 300:(i + 1) * 300]) for i in range(40)]
    committed_ids, aborted = records.produce_transactions(cluster_a, ttx, txns,
                                                          "cktx-" + s)
    cluster_a.create_topic(tcp, nparts, config={
        "cleanup.policy": "compact", "segment.bytes": 16384,
        "min.cleanable.dirty.ratio": 0.01, "segment.ms": 200,
        "delete.retention.ms": 100})
    records.produce_fast(cluster_a, tcp, compacted_records(tcp, 8000, nparts),
                         config={"batch.size": 4000, "linger.ms": 1,
                                 "compression.type": "none"})
    cluster_a.produce(tcp, [{"partition": p, "key": b"roll", "value": b"x"}
                            for p in range(nparts)])
    try:
        wait_until(lambda: has_gaps(cluster_a, tcp, nparts), timeout=90, interval=3)
        gaps = True
    except AssertionError:
        gaps = False
    k = start_kmd(kmirrord, run_dir, "ckg", [kmd.cluster_block(src, cluster_a),
                                              kmd.cluster_block(tgt, cluster_b)],
                  [flow(src, tgt, topics=[ttx, tcp], config_properties_exclude=[
                      "segment\\.bytes", "segment\\.ms", "min\\.cleanable\\.dirty\\.ratio",
                      "delete\\.retention\\.ms"])])
    results = []
    for topic, expect in ((ttx, committed_ids), (tcp, None)):
        remote = "%s.%s" % (src, topic)
        rd = records.Reader(cluster_b, remote)
        if expect is None:
            expect = {records.record_id(r.key, r.value, r.headers)
                      for r in cluster_a.consume_all(topic)} - {None}
        rd.wait_for(expect, timeout=180)
        group = unique_name("g")
        total = sum(len(v) for v in rd.ids.values())
        consumed, pos, t0 = consume_and_commit(cluster_a, topic, group, nparts,
                                               int(len(expect) * 0.6))
        wait_until(lambda: set(committed(cluster_b, group, remote, nparts)) == set(pos),
                   timeout=60, message="group %s committed on B" % group)
        latency = time.monotonic() - t0
        time.sleep(2 * INTERVAL_MS / 1000.0)
        dups, missing, nread = failover_check(cluster_b, rd, remote, group, consumed)
        rd.close()
        results.append((topic, dups, missing))
        st = ckpt_worker(k, "%s->%s" % (src, tgt))["status"]
        print("\n[checkpoints %s] %d on B, consumed on A %d, read on B %d: duplicates %d, "
              "missing %d; commit on A -> commit on B %.2f s; %s" % (
                  "transactional" if topic == ttx else "compacted (gaps on A: %s)" % gaps,
                  total, len(consumed), nread, dups, len(missing), latency,
                  st.get("g." + group)))
    for topic, dups, missing in results:
        assert not missing, "%s: %d missing, e.g. %s" % (topic, len(missing),
                                                         sorted(missing)[:5])
    k.stop()


# ---------------------------------------------------------------- target groups


def test_target_group_active_or_ahead_is_left_alone(kmirrord, run_dir, cluster_a, cluster_b):
    """A group with members on B is never written; once it leaves, its
    offsets are written, and a group's offsets on B never move backwards."""
    import threading
    from confluent_kafka import TopicPartition
    s = sfx()
    src, tgt = "A" + s, "B" + s
    topic = unique_name("ckt")
    nparts = 2
    cluster_a.create_topic(topic, nparts)
    ids = records.produce_fast(cluster_a, topic, records.gen_records(topic, 2000, nparts))
    k = start_kmd(kmirrord, run_dir, "ckt", [kmd.cluster_block(src, cluster_a),
                                              kmd.cluster_block(tgt, cluster_b)],
                  [flow(src, tgt, topics=[topic])])
    fl = "%s->%s" % (src, tgt)
    remote = "%s.%s" % (src, topic)
    rd = records.Reader(cluster_b, remote)
    rd.wait_for(ids, timeout=120)
    rd.close()

    # 1. active on B: a member polls (and never commits)
    ga = unique_name("ga")
    stop = threading.Event()
    joined = threading.Event()

    def member():
        c = consumer(cluster_b, ga)
        c.subscribe([remote], on_assign=lambda cons, parts: joined.set())
        while not stop.is_set():
            c.poll(0.2)
        c.close()
    th = threading.Thread(target=member, daemon=True)
    th.start()
    assert joined.wait(60), "member joined %s on B" % ga
    c = consumer(cluster_a, ga)
    c.commit(offsets=[TopicPartition(topic, p, 500) for p in range(nparts)],
             asynchronous=False)
    c.close()
    cps = "%s.checkpoints.internal" % src
    wait_until(lambda: any(cp[0] == ga for cp in checkpoints(cluster_b, cps)), timeout=30,
               message="checkpoints of %s" % ga)
    time.sleep(4 * INTERVAL_MS / 1000.0)
    assert committed(cluster_b, ga, remote, nparts) == {}, "active group written"
    st = ckpt_worker(k, fl)["status"]
    assert int(st["group_offsets_active_skips"]) > 0
    stop.set()
    th.join(30)
    # the member left: the group is empty, now it is written
    wait_until(lambda: committed(cluster_b, ga, remote, nparts) == {0: 500, 1: 500},
               timeout=60, message="offsets of %s on B after its member left" % ga)

    # 2. never backwards: B is ahead of what A's group translates to
    gb = unique_name("gb")
    c = consumer(cluster_a, gb)
    c.commit(offsets=[TopicPartition(topic, p, 800) for p in range(nparts)],
             asynchronous=False)
    c.close()
    wait_until(lambda: committed(cluster_b, gb, remote, nparts) == {0: 800, 1: 800},
               timeout=60, message="offsets of %s on B" % gb)
    c = consumer(cluster_b, gb)
    c.commit(offsets=[TopicPartition(remote, p, 900) for p in range(nparts)],
             asynchronous=False)
    c.close()
    c = consumer(cluster_a, gb)         # the group rewinds on A
    c.commit(offsets=[TopicPartition(topic, p, 300) for p in range(nparts)],
             asynchronous=False)
    c.close()
    wait_until(lambda: [cp for cp in checkpoints(cluster_b, cps)
                        if cp[0] == gb and cp[3] == 300], timeout=30,
               message="checkpoint of the rewind")
    time.sleep(4 * INTERVAL_MS / 1000.0)
    assert committed(cluster_b, gb, remote, nparts) == {0: 900, 1: 900}
    k.stop()


# ---------------------------------------------------------------- restarts


def test_restart_never_regresses(kmirrord, run_dir, cluster_a, cluster_b):
    """The checkpoint worker is killed several times while groups move on
    A; every checkpoint written for a (group, partition) is ahead of the
    one before it."""
    from confluent_kafka import TopicPartition
    s = sfx()
    src, tgt = "A" + s, "B" + s
    topic = unique_name("ckr")
    nparts = 4
    cluster_a.create_topic(topic, nparts)
    ids = records.produce_fast(cluster_a, topic, records.gen_records(topic, 20_000, nparts))
    k = start_kmd(kmirrord, run_dir, "ckr", [kmd.cluster_block(src, cluster_a),
                                              kmd.cluster_block(tgt, cluster_b)],
                  [flow(src, tgt, topics=[topic], emit_checkpoints_interval_ms=300)])
    fl = "%s->%s" % (src, tgt)
    rd = records.Reader(cluster_b, "%s.%s" % (src, topic))
    rd.wait_for(ids, timeout=120)
    rd.close()
    groups = [unique_name("gr") for _ in range(5)]
    kills = 0
    for step in range(1, 21):
        for g in groups:
            c = consumer(cluster_a, g)
            c.commit(offsets=[TopicPartition(topic, p, step * 200 + p) for p in range(nparts)],
                     asynchronous=False)
            c.close()
        time.sleep(0.3)
        if step % 6 == 0:      # 3 kills: the restart breaker trips at 5
            w = ckpt_worker(k, fl)
            os.kill(w["pid"], signal.SIGKILL)
            kills += 1
            k.wait_worker(fl, "checkpoint", lambda x: x["pid"] != w["pid"] and
                          x["state"] == "running", timeout=60)
    final = {(g, p): 20 * 200 + p for g in groups for p in range(nparts)}
    cps_topic = "%s.checkpoints.internal" % src

    def all_final():
        last = {}
        for g, t, p, up, down, meta in checkpoints(cluster_b, cps_topic):
            last[(g, p)] = up
        return all(last.get(key) == v for key, v in final.items())
    wait_until(all_final, timeout=60, interval=1, message="final checkpoints")
    seq = collections.defaultdict(list)
    for g, t, p, up, down, meta in checkpoints(cluster_b, cps_topic):
        if g in groups:
            seq[(g, p)].append((up, down))
    repeats = 0
    for key, lst in seq.items():
        for (u1, d1), (u2, d2) in zip(lst, lst[1:]):
            assert u2 >= u1 and d2 > d1, "%s regressed or repeated: %s -> %s" % (
                key, (u1, d1), (u2, d2))
    print("\n[checkpoints restart] %d kills, %d checkpoints over %d keys, %d repeats" % (
        kills, sum(len(v) for v in seq.values()), len(seq), repeats))
    k.stop()


# ---------------------------------------------------------------- scale


@pytest.mark.heavy
def test_thousand_groups(kmirrord, run_dir, cluster_a, cluster_b):
    """1,000 groups over 8 partitions each are all checkpointed within two
    intervals of being discovered; prints the checkpoint worker's RSS."""
    from concurrent.futures import wait as fwait
    from confluent_kafka import TopicPartition, ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient
    s = sfx()
    src, tgt = "A" + s, "B" + s
    topic = unique_name("ckk")
    nparts, ngroups, interval = 8, 1000, 5000
    cluster_a.create_topic(topic, nparts)
    ids = records.produce_fast(cluster_a, topic, records.gen_records(topic, 8000, nparts))
    k = start_kmd(kmirrord, run_dir, "ckk", [kmd.cluster_block(src, cluster_a),
                                              kmd.cluster_block(tgt, cluster_b)],
                  [flow(src, tgt, topics=[topic], emit_checkpoints_interval_ms=interval,
                        sync_group_offsets_interval_ms=interval,
                        refresh_groups_interval_ms=1000,
                        groups=["ckk-%s-.*" % s])])
    fl = "%s->%s" % (src, tgt)
    rd = records.Reader(cluster_b, "%s.%s" % (src, topic))
    rd.wait_for(ids, timeout=120)
    rd.close()
    w0 = ckpt_worker(k, fl)
    rss0 = rss_kb(w0["pid"])
    admin = AdminClient(cluster_a.client_config("PLAINTEXT"))
    groups = ["ckk-%s-%04d" % (s, i) for i in range(ngroups)]
    t0 = time.monotonic()
    futs = []
    for i, g in enumerate(groups):
        futs += list(admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
            g, [TopicPartition(topic, p, 1 + (i + p) % 1000) for p in range(nparts)])]
        ).values())
    fwait(futs, timeout=120)
    for f in futs:
        f.result()
    t_committed = time.monotonic() - t0
    cps_topic = "%s.checkpoints.internal" % src

    def count():
        st = ckpt_worker(k, fl)["status"]
        return int(st.get("groups_checkpointed", 0)) >= ngroups and st
    st = wait_until(count, timeout=120, interval=0.2, message="1000 groups checkpointed")
    t_all = time.monotonic() - t0
    wanted = {(g, p) for g in groups for p in range(nparts)}
    wait_until(lambda: wanted <= {(c[0], c[2]) for c in checkpoints(cluster_b, cps_topic)},
               timeout=60, interval=1, message="8,000 checkpoints in %s" % cps_topic)
    w = ckpt_worker(k, fl)
    rss = rss_kb(w["pid"])
    print("\n[checkpoints 1000 groups] committed on A in %.1f s; all %d groups x %d "
          "partitions checkpointed %.1f s after the first commit (interval %d ms, group "
          "refresh 1000 ms); checkpoint worker RSS %d kB (%d kB before the groups); "
          "sync store %s bytes" % (t_committed, ngroups, nparts, t_all, interval, rss, rss0,
                                   st.get("offset_sync_store_bytes")))
    assert t_all - t_committed <= 2 * interval / 1000.0 + 1.0 + 2.0
    k.stop()


# ---------------------------------------------------------------- RemoteClusterUtils

RCU_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "java", "rcu")
RCU_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "kmirror", "rcu")


def rcu_classpath():
    """Build tests/java/rcu (connect-mirror-client 4.3.1 from Maven Central)
    in ~/.cache/kmirror/rcu, outside the repository; rebuilt when a source
    changed. Returns the java classpath."""
    import shutil
    import subprocess
    if shutil.which("mvn") is None or shutil.which("java") is None:
        pytest.skip("mvn or java not installed (contrib/setup.sh installs them)")
    stamp = max(os.path.getmtime(os.path.join(d, f))
                for d, _, fs in os.walk(RCU_SRC) for f in fs)
    jar = os.path.join(RCU_CACHE, "target", "rcu-1.jar")
    cp = os.path.join(RCU_CACHE, "cp.txt")
    if not (os.path.exists(jar) and os.path.exists(cp) and os.path.getmtime(jar) >= stamp):
        shutil.rmtree(RCU_CACHE, ignore_errors=True)
        shutil.copytree(RCU_SRC, RCU_CACHE)
        r = subprocess.run(["mvn", "-q", "-B", "package", "dependency:build-classpath",
                            "-Dmdep.outputFile=cp.txt"], cwd=RCU_CACHE,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "maven build of %s failed:\n%s%s" % (
            RCU_CACHE, r.stdout[-3000:], r.stderr[-3000:])
    with open(cp) as f:
        return jar + ":" + f.read().strip()


def rcu(classpath, cluster, policy, remote_alias="-", group="-", hops=()):
    """Run Rcu against `cluster`: (upstream set, {alias: hops},
    {(topic, partition): offset})."""
    import subprocess
    cls = {"default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
           "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"}[policy]
    r = subprocess.run(["java", "-cp", classpath, "kmirror.Rcu",
                        cluster.bootstrap("PLAINTEXT"), cls, remote_alias, group] + list(hops),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    up, hp, offs = set(), {}, {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "upstream":
            up = set(f[1].split(",")) if len(f) > 1 else set()
        elif f[0] == "hops":
            hp[f[1]] = int(f[2])
        elif f[0] == "offset":
            offs[(f[1], int(f[2]))] = int(f[3])
    return up, hp, offs


@pytest.mark.heavy
def test_remote_cluster_utils(kmirrord, run_dir, cluster_a, cluster_b):
    """Kafka's RemoteClusterUtils against B: upstreamClusters holds A,
    replicationHops(A) is 1, translateOffsets gives our checkpoints. In a
    chain A->B->C (C is cluster_a under another alias: its topics there
    are B.A.t and B.A.heartbeats, distinct from A's own), replicationHops
    on C for A is 2."""
    from confluent_kafka import TopicPartition
    classpath = rcu_classpath()
    s = sfx()
    a, b, c = "A" + s, "B" + s, "C" + s
    topic = unique_name("ckl")
    nparts = 3
    cluster_a.create_topic(topic, nparts)
    ids = records.produce_fast(cluster_a, topic, records.gen_records(topic, 3000, nparts))
    remote = "%s.%s" % (a, topic)
    k = start_kmd(kmirrord, run_dir, "ckl", [
        kmd.cluster_block(a, cluster_a), kmd.cluster_block(b, cluster_b),
        kmd.cluster_block(c, cluster_a)], [
        flow(a, b, topics=[topic], emit_heartbeats_enabled=True),
        flow(b, c, topics=[remote.replace(".", "\\.")], emit_heartbeats_enabled=True,
             emit_checkpoints_enabled=False)])
    rd = records.Reader(cluster_b, remote)
    rd.wait_for(ids, timeout=120)
    rd.close()
    group = unique_name("gl")
    cons = consumer(cluster_a, group)
    cons.commit(offsets=[TopicPartition(topic, p, 100 * (p + 1)) for p in range(nparts)],
                asynchronous=False)
    cons.close()
    cps_topic = "%s.checkpoints.internal" % a

    def ours():
        last = {}
        for g, t, p, up, down, meta in checkpoints(cluster_b, cps_topic):
            if g == group:
                last[(t, p)] = down
        return len(last) == nparts and last
    mine = wait_until(ours, timeout=60, interval=1, message="checkpoints of %s" % group)
    # lineage needs A.heartbeats on B and B.A.heartbeats on C
    wait_until(lambda: {"%s.heartbeats" % a} <= set(cluster_b.list_topics()) and
               {"%s.%s.heartbeats" % (b, a)} <= set(cluster_a.list_topics()),
               timeout=90, interval=1, message="replicated heartbeat topics")
    wait_until(lambda: rcu(classpath, cluster_a, "default", hops=[a])[1].get(a) == 2,
               timeout=60, interval=2, message="replicationHops on C")
    up, hops, offs = rcu(classpath, cluster_b, "default", a, group, hops=[a])
    up_c, hops_c, _ = rcu(classpath, cluster_a, "default", hops=[a, b])
    print("\n[RemoteClusterUtils] on %s: upstreamClusters has %s: %s, replicationHops(%s)=%d, "
          "translateOffsets=%s (ours %s); on %s: replicationHops(%s)=%d, (%s)=%d" % (
              b, a, a in up, a, hops[a], sorted(offs.items()), sorted(mine.items()),
              c, a, hops_c[a], b, hops_c[b]))
    # the session clusters carry other tests' heartbeat topics too
    assert a in up
    assert hops[a] == 1
    assert offs == mine
    assert hops_c[a] == 2 and hops_c[b] == 1
    k.stop()
