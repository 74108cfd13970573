"""Compatibility: a small copy from cluster_a (Kafka 3.9) to cluster_43
(Kafka 4.3.1) with the librdkafka kmirrord is built against (Debian's
2.0.2). Prints whether the shards went through the group protocol or the
static split."""

import time
import uuid

import kmd
import records
from helpers import unique_name, wait_until


def test_copy_to_kafka_43(kmirrord, run_dir, cluster_a, cluster_43):
    s = uuid.uuid4().hex[:6]
    src, tgt = "c43s%s" % s, "c43t%s" % s
    fname = "%s->%s" % (src, tgt)
    topic = unique_name("compat43")
    cluster_a.create_topic(topic, partitions=2)
    ids = records.produce_fast(cluster_a, topic, records.gen_records("c" + s, 1000, 2))
    name = unique_name("compat43")
    text = kmd.config_text(run_dir, name, [kmd.cluster_block(src, cluster_a),
                                           kmd.cluster_block(tgt, cluster_43)],
                           ['source = "%s"; target = "%s"; tasks = 1; topics = [ "%s" ]; '
                            'emit_checkpoints_enabled = false; refresh_topics_interval_ms = 1000;'
                            % (src, tgt, topic)])
    k = kmirrord(name, text).start()
    t0 = time.monotonic()
    _, dups, missing, _ = records.read_all(cluster_43, "%s.%s" % (src, topic), ids, timeout=90)
    took = time.monotonic() - t0
    assert records.assert_topic_equal(cluster_a, topic, cluster_43,
                                      "%s.%s" % (src, topic)) == 1000
    w = wait_until(lambda: k.worker(fname, "source"), timeout=10)
    st = w.get("status") or {}
    log = k.log_text()
    proto_lines = [l for l in log.splitlines() if "group protocol" in l or "statically" in l
                   or ("source" in l and "ready:" in l) or "took shard" in l]
    print("\n[compat43] records=%d seconds=%.1f duplicates=%d shard_assignment=%s "
          "detail=%r" % (len(ids), took, dups, st.get("shard_assignment"), st.get("detail")))
    for line in proto_lines:
        print("[compat43] log: %s" % line)
    hb = k.worker(fname, "heartbeat")
    print("[compat43] heartbeat worker: state=%s last_error=%r" % (
        hb and hb["state"], hb and hb["last_error"]))
    k.stop()
