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
            ids.append(records.record_id(m.key(), m.value(), m.headers()))
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
            if m.error() is None:
                ids.append(records.record_id(m.key(), m.value(), m.headers()))
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
    expected = set(all_ids) - set(consumed_on_a)
    cnt = collections.Counter(read)
    dups = sum(n - 1 for n in cnt.values() if n > 1) + sum(
        1 for i in cnt if i in set(consumed_on_a))
    missing = expected - set(cnt)
    return dups, missing


# ---------------------------------------------------------------- failover


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
    want_b = {p: rd.offsets[p][rid] + 1 for p, rid in last_id.items()}
    mark("consumed on A")
    rd.close()
    mark("reader closed")
    got = wait_until(lambda: committed(cluster_b, group, remote, nparts) == want_b,
                     timeout=60, interval=0.1,
                     message="group %s committed exactly on B" % group)
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
    assert {p: v[1] for p, v in last.items()} == want_b
    st = w["status"]
    assert "g.%s" % group in st and "exact=8" in st["g.%s" % group]
    k.stop()
