"""Heartbeats reach the target over PLAINTEXT, SASL_SSL (SCRAM-SHA-512) and
mutual TLS, and decode to MM2's layout with the right aliases and a recent
timestamp."""

import time

import pytest

import kmd
import mm2
from helpers import unique_name, wait_until


def heartbeats_for(cluster, src, tgt, **kw):
    """Decoded heartbeats of (src, tgt) on `cluster`'s heartbeats topic."""
    out = []
    for r in cluster.consume_all("heartbeats", timeout=20, **kw):
        s, t, version, ts = mm2.heartbeat(r.key, r.value)
        if (s, t) == (src, tgt):
            out.append((version, ts, r))
    return out


def run_heartbeat_flow(kmirrord, run_dir, cluster_a, cluster_b, listener, **block_kw):
    src, tgt = unique_name("hs").replace("-", "_"), unique_name("ht").replace("-", "_")
    name = unique_name("hb-" + listener.lower())
    text = kmd.config_text(run_dir, name, [
        kmd.cluster_block(src, cluster_a),
        kmd.cluster_block(tgt, cluster_b, listener=listener, **block_kw)],
        ['source = "%s"; target = "%s"; tasks = 1; emit_heartbeats_interval_ms = 300;'
         % (src, tgt)])
    k = kmirrord(name, text).start()
    started = time.time() * 1000
    hbs = wait_until(lambda: len(heartbeats_for(cluster_b, src, tgt)) >= 3, timeout=30,
                     message="3 heartbeats of %s->%s on cluster b" % (src, tgt))
    hbs = heartbeats_for(cluster_b, src, tgt)
    for version, ts, r in hbs:
        assert version == 0
        assert r.partition == 0
        assert r.timestamp == ts, "record timestamp equals the heartbeat's"
        assert started - 5000 <= ts <= time.time() * 1000 + 1000, "recent timestamp"
    w = k.worker("%s->%s" % (src, tgt), "heartbeat")
    assert int(w["status"]["heartbeats_acked"]) >= 3
    k.stop()
    return hbs


def test_heartbeats_plaintext(kmirrord, run_dir, cluster_a, cluster_b):
    run_heartbeat_flow(kmirrord, run_dir, cluster_a, cluster_b, "PLAINTEXT")


def test_heartbeats_sasl_ssl_scram512(kmirrord, run_dir, cluster_a, cluster_b):
    run_heartbeat_flow(kmirrord, run_dir, cluster_a, cluster_b, "SASL_SSL",
                       mechanism="SCRAM-SHA-512")


def test_heartbeats_mutual_tls(kmirrord, run_dir, cluster_a, cluster_b):
    run_heartbeat_flow(kmirrord, run_dir, cluster_a, cluster_b, "SSL")


def test_heartbeats_topic_is_compacted(cluster_b, kmirrord, run_dir, cluster_a):
    run_heartbeat_flow(kmirrord, run_dir, cluster_a, cluster_b, "PLAINTEXT")
    from confluent_kafka.admin import AdminClient, ConfigResource
    admin = AdminClient(cluster_b.client_config("PLAINTEXT"))
    res = ConfigResource("topic", "heartbeats")
    cfg = admin.describe_configs([res])[res].result(timeout=20)
    assert cfg["cleanup.policy"].value == "compact"
    md = admin.list_topics(topic="heartbeats", timeout=20)
    assert len(md.topics["heartbeats"].partitions) == 1
