"""Compatibility subset against Apache Kafka 4.3.1 (cluster_43) with the
librdkafka kmirrord is linked with (Debian 12: 2.0.2). It shows what works
and reports what that librdkafka cannot do there:

- heartbeats over PLAINTEXT and mutual TLS, and the group protocol that
  shares shards (librdkafka < 2.11.0 needs JoinGroup v0, which Kafka 4.0.0
  removed and 4.0.1 / 4.1.0 restored, KAFKA-19444);
- SASL/SCRAM: librdkafka before 2.6.1 computes the SCRAM client proof with
  the nonce appended twice (librdkafka PR 4895); Kafka 4.x checks the nonce
  strictly and refuses it. kmirrord must then stop the worker with exit 78
  and say why, not loop.
"""

import re
import socket
import struct
import subprocess
import time

import kmd
import mm2
from helpers import unique_name, wait_until


def librdkafka_version():
    out = subprocess.run([kmd.KMIRRORD, "-V"], capture_output=True, text=True,
                         timeout=10).stdout
    m = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups())


def api_versions(host, port):
    """{api_key: (min, max)} from a raw ApiVersions v0 request."""
    req = struct.pack(">hhih", 18, 0, 1, 6) + b"kmtest"
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(struct.pack(">i", len(req)) + req)
        n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        buf = s.recv(n, socket.MSG_WAITALL)
    finally:
        s.close()
    _corr, err, cnt = struct.unpack_from(">ihi", buf, 0)
    assert err == 0
    return {struct.unpack_from(">h", buf, 10 + 6 * i)[0]:
            struct.unpack_from(">hh", buf, 12 + 6 * i) for i in range(cnt)}


def run_flow(kmirrord, run_dir, cluster_a, cluster_43, listener, wait=True, **kw):
    src, tgt = "c4s_" + unique_name("x")[-6:], "c4t_" + unique_name("y")[-6:]
    name = unique_name("compat43-" + listener.lower())
    text = kmd.config_text(run_dir, name, [
        kmd.cluster_block(src, cluster_a),
        kmd.cluster_block(tgt, cluster_43, listener=listener, **kw)],
        ['source = "%s"; target = "%s"; emit_heartbeats_interval_ms = 300;' % (src, tgt)])
    return kmirrord(name, text).start(wait_running=wait), src, tgt


def test_kafka43_heartbeats_plaintext_and_tls(kmirrord, run_dir, cluster_a, cluster_43):
    for listener in ("PLAINTEXT", "SSL"):
        k, src, tgt = run_flow(kmirrord, run_dir, cluster_a, cluster_43, listener)
        t0 = time.time() * 1000

        def beats():
            return [mm2.heartbeat(r.key, r.value) for r in cluster_43.consume_all("heartbeats")
                    if mm2.heartbeat(r.key, r.value)[:2] == (src, tgt)]
        wait_until(lambda: len(beats()) >= 2, timeout=30, message="heartbeats on 4.3.1")
        assert all(v == 0 and ts >= t0 - 5000 for _, _, v, ts in beats())
        w = wait_until(lambda: k.worker("%s->%s" % (src, tgt), "source")["status"]
                       .get("shard_assignment") and k.worker("%s->%s" % (src, tgt), "source"),
                       timeout=30)
        jg = api_versions("127.0.0.1", cluster_43.port("PLAINTEXT")).get(11)
        print("Kafka 4.3.1 over %s: heartbeats OK; JoinGroup versions %s; shard assignment: %s"
              % (listener, jg, w["status"]["shard_assignment"]))
        k.stop()


def test_kafka43_scram(kmirrord, run_dir, cluster_a, cluster_43):
    wait_until(lambda: cluster_43.probe("SASL_SSL", mechanism="SCRAM-SHA-512") is None,
               timeout=30, message="SCRAM on cluster_43 (Python client)")
    v = librdkafka_version()
    k, src, tgt = run_flow(kmirrord, run_dir, cluster_a, cluster_43, "SASL_SSL", wait=False,
                           mechanism="SCRAM-SHA-512")
    flow = "%s->%s" % (src, tgt)
    if v < (2, 6, 1):
        w = k.wait_worker(flow, "heartbeat", lambda w: w["state"] == "fatal", timeout=30)
        assert "authentication" in w["last_error"].lower() and w["restarts"] == 0
        print("Kafka 4.3.1 over SASL_SSL/SCRAM: librdkafka %d.%d.%d cannot authenticate "
              "(fixed in 2.6.1); kmirrord stops the workers with exit 78: %s"
              % (v + (w["last_error"][:120],)))
    else:
        k.wait_all_running(timeout=30)
        print("Kafka 4.3.1 over SASL_SSL/SCRAM: works with librdkafka %d.%d.%d" % v)
    k.stop()
