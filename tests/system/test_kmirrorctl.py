"""Every kmirrorctl command against a running daemon (table and --json),
with the exit codes that tell usage errors, failures and an unreachable
daemon apart."""

import json
import time

import kmd
from helpers import unique_name, wait_until


def count(cluster, topic):
    try:
        return len(cluster.consume_all(topic, timeout=15))
    except Exception:
        return 0


def test_kmirrorctl_commands(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("ctl")
    src, tgt = "cs_" + name[-6:], "ct_" + name[-6:]
    topic = unique_name("ctlt")
    cluster_a.create_topic(topic, 2)
    cluster_a.produce(topic, [("k%d" % i, "v%d" % i) for i in range(500)])
    text = kmd.config_text(run_dir, name, [kmd.cluster_block(src, cluster_a),
                                           kmd.cluster_block(tgt, cluster_b)],
                           ['source = "%s"; target = "%s"; topics = [ "%s" ]; '
                            'refresh_topics_interval_ms = 500;' % (src, tgt, topic)])
    k = kmirrord(name, text).start()
    flow = "%s->%s" % (src, tgt)
    remote = "%s.%s" % (src, topic)
    wait_until(lambda: count(cluster_b, remote) == 500, timeout=60)

    # status: the table and the JSON document
    r = k.ctl("status", json_out=False)
    assert r.returncode == 0
    assert flow in r.stdout and "source" in r.stdout and "REC/S" in r.stdout
    st = json.loads(k.ctl("status").stdout)
    w = [x for f in st["flows"] if f["name"] == flow for x in f["workers"]
         if x["role"] == "source"][0]
    # heartbeat topics on the shared source cluster replicate too (MM2's rule)
    ours = [p for p in w["status"]["partitions"].split(",") if p.startswith(topic + ":")]
    assert sorted(ours) == [topic + ":0", topic + ":1"] and w["state"] == "running"
    assert int(w["status"]["p.%s/0" % topic].split()[0].split("=")[1]) + \
        int(w["status"]["p.%s/1" % topic].split()[0].split("=")[1]) == 500
    assert "records_per_s" in w

    # pause: nothing more is copied; resume: everything arrives
    r = k.ctl("pause", flow, json_out=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(k.ctl("status").stdout)["flows"][0]["state"] == "paused"
    # the pause is asynchronous: the workers say when it took effect
    k.wait_worker(flow, "source", lambda w: w["status"].get("state") == "paused", timeout=10)
    cluster_a.produce(topic, [("k%d" % i, "v%d" % i) for i in range(500, 800)])
    time.sleep(3)   # several commit intervals: a negative check needs a window
    assert count(cluster_b, remote) == 500
    assert k.ctl("resume", flow, json_out=False).returncode == 0
    wait_until(lambda: count(cluster_b, remote) == 800, timeout=60, message="after resume")

    # restart one worker, then the whole flow: new pids, no failure state
    old = k.pids(flow)
    r = k.ctl("restart", "%s/source/0" % flow, json_out=False)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: k.worker(flow, "source")["pid"] not in (None, old[(flow, "source", 0)])
               and k.worker(flow, "source")["state"] == "running", timeout=60)
    assert k.worker(flow, "heartbeat")["pid"] == old[(flow, "heartbeat", 0)]
    assert k.ctl("restart", flow, json_out=False).returncode == 0
    wait_until(lambda: all(p and p not in old.values() for p in k.pids(flow).values())
               and all(w["state"] == "running" for w in k.workers(flow).values()), timeout=60)
    assert all(w["state"] != "failed" for w in k.workers(flow).values())

    assert k.ctl("reload", json_out=False).returncode == 0
    assert k.ctl("ping", json_out=False).returncode == 0

    # failures and usage errors
    r = k.ctl("pause", "no-such-flow", json_out=False)
    assert r.returncode == 1 and "no flow" in r.stderr
    r = k.ctl("restart", "%s/bogus/0" % flow, json_out=False)
    assert r.returncode == 1
    r = k.ctl("pause", json_out=False)
    assert r.returncode == 64
    k.stop()
    r = k.ctl("status", json_out=False)
    assert r.returncode == 69


def test_kmirrorctl_translate(kmirrord, run_dir, cluster_a, cluster_b):
    """translate gives what the checkpoints say, as RemoteClusterUtils would."""
    import subprocess
    from confluent_kafka import Consumer, TopicPartition
    import mm2
    name = unique_name("tr")
    src, tgt = "trs_" + name[-6:], "trt_" + name[-6:]
    topic, group = unique_name("trt"), unique_name("trg")
    cluster_a.create_topic(topic, 2)
    cluster_a.produce(topic, [("k%d" % i, "v%d" % i) for i in range(200)])
    c = Consumer(dict(cluster_a.client_config("PLAINTEXT"), **{"group.id": group,
                                                                "enable.auto.commit": False}))
    c.commit(offsets=[TopicPartition(topic, 0, 40), TopicPartition(topic, 1, 70)],
             asynchronous=False)
    c.close()
    text = kmd.config_text(run_dir, name, [kmd.cluster_block(src, cluster_a),
                                           kmd.cluster_block(tgt, cluster_b)],
                           ['source = "%s"; target = "%s"; topics = [ "%s" ]; groups = [ "%s" ]; '
                            'refresh_topics_interval_ms = 500; refresh_groups_interval_ms = 500; '
                            'emit_checkpoints_interval_ms = 500;' % (src, tgt, topic, group)])
    k = kmirrord(name, text).start()
    remote = "%s.%s" % (src, topic)

    def checkpoints():
        try:
            recs = cluster_b.consume_all("%s.checkpoints.internal" % src, timeout=10)
        except Exception:
            return None
        last = {}
        for r in recs:
            g, t, p, up, down, meta = mm2.checkpoint(r.key, r.value)
            if g == group:
                last[(t, p)] = (up, down)
        return last if len(last) == 2 and all(up == {0: 40, 1: 70}[p]
                                              for (t, p), (up, _) in last.items()) else None
    last = wait_until(checkpoints, timeout=60, message="checkpoints of the group")
    r = subprocess.run([kmd.KMIRRORCTL, "-c", k.conf, "translate", "--cluster", src,
                        "--group", group, "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = {(x["topic"], x["partition"]): x["offset"] for x in json.loads(r.stdout)}
    assert got == {tp: down for tp, (up, down) in last.items()}
    assert set(got) == {(remote, 0), (remote, 1)}
    r = subprocess.run([kmd.KMIRRORCTL, "-c", k.conf, "translate", "--cluster", "nope",
                        "--group", group], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no flow from cluster nope" in r.stderr
    k.stop()
