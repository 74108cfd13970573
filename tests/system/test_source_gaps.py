"""Source-worker behaviours beyond plain copying: a stored position that
retention already deleted on the source is logged, counted and skipped
(never silently), and a restart resumes from the stored progress."""

import kmd
from helpers import unique_name, wait_until


def remote_count(cluster, topic):
    try:
        return len(cluster.consume_all(topic, timeout=15))
    except Exception:
        return 0


def test_retention_gap_logged_counted_and_skipped(kmirrord, run_dir, cluster_a, cluster_b):
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient
    name = unique_name("gap")
    src, tgt = "gs_" + name[-6:], "gt_" + name[-6:]
    topic = unique_name("gapt")
    cluster_a.create_topic(topic, 1)
    cluster_a.produce(topic, [("k%d" % i, "v%d" % i) for i in range(100)])
    text = kmd.config_text(run_dir, name, [kmd.cluster_block(src, cluster_a),
                                           kmd.cluster_block(tgt, cluster_b)],
                           ['source = "%s"; target = "%s"; topics = [ "%s" ]; '
                            'refresh_topics_interval_ms = 500;' % (src, tgt, topic)])
    k = kmirrord(name, text).start()
    remote = "%s.%s" % (src, topic)
    wait_until(lambda: remote_count(cluster_b, remote) == 100, timeout=60,
               message="first 100 records replicated")
    k.stop()
    # while kmirrord is down: 100 more records, then retention drops 150
    cluster_a.produce(topic, [("k%d" % i, "v%d" % i) for i in range(100, 200)])
    admin = AdminClient(cluster_a.client_config("PLAINTEXT"))
    fut = admin.delete_records([TopicPartition(topic, 0, 150)])
    list(fut.values())[0].result(timeout=30)
    k2 = kmirrord(name + "-2", text.replace(name, name + "-2")).start()
    wait_until(lambda: remote_count(cluster_b, remote) == 150, timeout=60,
               message="records 150..199 replicated after the gap")
    got = [r.value for r in cluster_b.consume_all(remote)]
    assert got[:100] == [b"v%d" % i for i in range(100)]
    assert got[100:] == [b"v%d" % i for i in range(150, 200)], "continues at the earliest offset"
    w = wait_until(lambda: int(k2.worker("%s->%s" % (src, tgt), "source")["status"]
                                .get("offset_gaps", 0)) >= 1 and
                   k2.worker("%s->%s" % (src, tgt), "source"), timeout=20)
    assert int(w["status"]["offset_gaps"]) == 1
    log = k2.log_text()
    assert "no longer on %s (retention)" % src in log and topic in log
    k2.stop()
