"""/metrics during replication, parsed by the Prometheus client library's
text-format parser, agrees with what was replicated."""

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import kmd
from helpers import unique_name, wait_until


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            out.setdefault(smp.name, []).append((smp.labels, smp.value))
    return out


def test_metrics_agree_with_replication(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("metrics")
    src, tgt = "ms_" + name[-6:], "mt_" + name[-6:]
    topic = unique_name("mtopic")
    cluster_a.create_topic(topic, 3)
    cluster_a.produce(topic, [("k%d" % i, "v" * 100) for i in range(3000)])
    port = free_port()
    text = kmd.config_text(run_dir, name, [kmd.cluster_block(src, cluster_a),
                                           kmd.cluster_block(tgt, cluster_b)],
                           ['source = "%s"; target = "%s"; topics = [ "%s" ]; '
                            'refresh_topics_interval_ms = 500;' % (src, tgt, topic)],
                           global_extra='  metrics_address = "127.0.0.1:%d";' % port)
    k = kmirrord(name, text).start()
    flow = "%s->%s" % (src, tgt)

    def replicated():
        m = scrape(port)
        recs = [v for lab, v in m.get("kmirror_partition_records_total", [])
                if lab["flow"] == flow and lab["topic"] == topic]
        return m if len(recs) == 3 and sum(recs) == 3000 else None
    m = wait_until(replicated, timeout=60, interval=0.5, message="3000 records in /metrics")
    assert ({"flow": flow, "role": "source", "worker": "0", "state": "running"}, 1.0) \
        in m["kmirror_worker_state"]
    byts = sum(v for lab, v in m["kmirror_partition_bytes_total"]
               if lab["flow"] == flow and lab["topic"] == topic)
    assert byts == 3000 * 100
    lags = [v for lab, v in m["kmirror_partition_lag_records"] if lab["topic"] == topic]
    assert lags and all(v == 0 for v in lags)
    # the histogram is per worker: it also counts heartbeat records, which
    # replicate whatever the topic filter says (MM2's rule)
    count = [v for lab, v in m["kmirror_replication_latency_ms_count"] if lab["flow"] == flow]
    assert len(count) == 1 and count[0] >= 3000
    buckets = [(lab["le"], v) for lab, v in m["kmirror_replication_latency_ms_bucket"]
               if lab["flow"] == flow]
    assert buckets[-1] == ("+Inf", count[0])
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "cumulative"
    restarts = [v for lab, v in m["kmirror_worker_restarts_total"] if lab["flow"] == flow]
    assert restarts == [0.0, 0.0, 0.0]
    assert any(lab["flow"] == flow for lab, _ in m["kmirror_heartbeat_heartbeats_acked"])
    assert m["kmirror_up"] == [({}, 1.0)]
    k.stop()
