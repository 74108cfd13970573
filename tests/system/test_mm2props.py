"""MM2 drop-in: the three deployments' mm2.properties (tests/mm2/*.properties,
templates filled with the test bed's addresses and paths) run with
`kmirrord -m`, replicate against the test bed, and checkpoint where the
deployment asks for it; `kmirrorctl convert` turns each into a
kmirrord.conf that passes `kmirrord -n` and carries on replicating the same
flow (exactly once across the switch, since progress lives on the target).
"""

import os
import signal
import subprocess
import warnings

import pytest

import kmd
import kmtestbed
import mm2
from helpers import unique_name, wait_until


def source_workers(k):
    return [w for w in k.workers().values() if w["role"] == "source"]


def shards_held(k):
    """Shard numbers the running source workers of `k` hold."""
    return {int(x) for w in source_workers(k) if w["state"] == "running"
            for x in (w.get("status") or {}).get("shards", "").split(",") if x}

MM2_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mm2")


def render(template, subs):
    with open(os.path.join(MM2_DIR, template)) as f:
        text = f.read()
    for k, v in subs.items():
        text = text.replace("@%s@" % k, v)
    assert "@" not in "".join(l for l in text.splitlines() if not l.startswith("#")), \
        "unfilled placeholder in %s" % template
    return text


def trailer(run_dir, name, extra=""):
    """kmirrord's own settings for the test bed (pidfile and socket in the
    test's directory, quick status), appended to the operator's file."""
    d = os.path.join(run_dir, name)
    return ("\n# --- added by the test: kmirrord's own settings\n"
            "kmirrord.pidfile = %s/kmirrord.pid\n"
            "kmirrord.control_socket = %s/kmirrord.sock\n"
            "kmirrord.status_interval_ms = 500\n"
            "kmirrord.hang_timeout_ms = 10000\n"
            "kmirrord.drain_timeout_ms = 8000\n%s" % (d, d, extra))


@pytest.fixture
def mm2d(run_dir):
    """Factory: mm2d(name, text, env, mm2=True) -> kmd.Kmirrord; all killed
    at the end, and their logs checked for sanitizer reports."""
    made = []

    def make(name, text, env=None, mm2=True):
        k = kmd.Kmirrord(run_dir, name, text, env=env, mm2=mm2)
        made.append(k)
        return k
    yield make
    for k in made:
        k.kill()
    for k in made:
        log = k.log_text()
        for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert mark not in log, "sanitizer report in %s" % k.log


def values(cluster, topic, prefix, timeout=15):
    try:
        recs = cluster.consume_all(topic, timeout=timeout)
    except Exception:
        return []
    return [r.value for r in recs if r.value and r.value.startswith(prefix)]


def wait_replicated(cluster, topic, expected, prefix, timeout=90):
    """Every expected value on the target exactly once."""
    def ok():
        got = values(cluster, topic, prefix)
        return got if sorted(got) == sorted(expected) else None
    try:
        return wait_until(ok, timeout=timeout, interval=1,
                          message="%d records on %s" % (len(expected), topic))
    except Exception:
        got = values(cluster, topic, prefix)
        raise AssertionError("%s: %d of %d expected records (%d duplicates)"
                             % (topic, len(set(got) & set(expected)), len(expected),
                                len(got) - len(set(got))))


def convert(path, env):
    r = subprocess.run([kmd.KMIRRORCTL, "convert", path], capture_output=True,
                       text=True, env=env, timeout=30)
    return r.returncode, r.stdout, r.stderr


def check_convert(mm2d, run_dir, k, name, env, secrets):
    """convert the running file: passes kmirrord -n, no secret in clear."""
    rc, out, err = convert(k.conf, env)
    assert rc == 0, err
    assert "converted from" in out
    for s in secrets:
        assert s not in out, "secret in clear text in convert output"
    # the converted config gets its own pidfile and socket
    out = out.replace(k.dir, os.path.join(run_dir, name))
    conv = mm2d(name, out, env=env, mm2=False)
    rc, msg = conv.check()
    assert rc == 0, msg
    return conv


def commit_group(cluster, topic, group, listener="PLAINTEXT", **kw):
    """Consume topic to its end with group and commit."""
    from confluent_kafka import Consumer
    conf = cluster.client_config(listener, **kw)
    conf.update({"group.id": group, "auto.offset.reset": "earliest",
                 "enable.auto.commit": False})
    c = Consumer(conf)
    c.subscribe([topic])
    n = 0
    deadline = __import__("time").monotonic() + 30
    while __import__("time").monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            if n:
                break
            continue
        if m.error():
            continue
        n += 1
    c.commit(asynchronous=False)
    c.close()
    return n


def checkpoints_for(cluster, topic, group):
    try:
        recs = cluster.consume_all(topic, timeout=10)
    except Exception:
        return []
    out = []
    for r in recs:
        try:
            cp = mm2.checkpoint(r.key, r.value)
        except mm2.Short:
            continue
        if cp[0] == group:
            out.append(cp)
    return out


# ------------------------------------------------------------ deployment (a)


def test_a_cloud_scram_default_policy(mm2d, run_dir, cluster_a, cluster_b, pki):
    name = unique_name("mm2a")
    topic = unique_name("orders")
    group = unique_name("billing")
    prefix = name.encode()
    cluster_a.create_topic(topic, 3)
    first = [prefix + b"-%d" % i for i in range(60)]
    cluster_a.produce(topic, [("k%d" % i, v) for i, v in enumerate(first)])
    assert commit_group(cluster_a, topic, group) == 60

    text = render("a-cloud-scram.properties", {
        "A_SASL_SSL": cluster_a.bootstrap("SASL_SSL"),
        "A_USER": "kmirror",
        "CA_PEM": pki["ca.pem"],
        "B_PLAINTEXT": cluster_b.bootstrap("PLAINTEXT"),
    }) + trailer(run_dir, name,
                 "# test bed: checkpoints every 5 s rather than MM2's 60 s\n"
                 "emit.checkpoints.interval.seconds = 5\n")
    password = kmtestbed.USERS["kmirror"]
    env = dict(os.environ, MM2A_SOURCE_PASSWORD=password)
    k = mm2d(name, text, env=env)
    rc, out = k.check()
    assert rc == 0, out
    assert "configuration OK (2 clusters, 1 flows)" in out
    # one warning naming the Connect-only keys
    assert "kmirror does not use" in out
    assert "offset.storage.replication.factor: ignored" in out
    assert password not in out

    # the effective config: the translation and MM2's defaults
    r = subprocess.run([kmd.KMIRRORD, "-n", "-v", "-m", k.conf], capture_output=True,
                       text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    eff = r.stdout
    assert 'sasl_mechanisms = "SCRAM-SHA-256";' in eff
    assert 'sasl_username = "kmirror";' in eff
    assert 'sasl_password = "********";' in eff and password not in eff
    assert 'ssl_ca_location = "%s";' % pki["ca.pem"] in eff
    assert "sync_group_offsets_enabled = true;" in eff
    assert "refresh_groups_interval_ms = 60000;" in eff
    assert "refresh_topics_interval_ms = 600000;" in eff

    k.start(timeout=60)
    remote = "clusterA." + topic
    wait_replicated(cluster_b, remote, first, prefix)
    excluded = [t for t in cluster_b.list_topics() if t.startswith("clusterA.clusterA")]
    assert not excluded, "cycle: %s" % excluded

    # checkpoints, if the checkpoint worker writes them
    cps_topic = "clusterA.checkpoints.internal"
    try:
        cps = wait_until(lambda: checkpoints_for(cluster_b, cps_topic, group),
                         timeout=60, interval=2, message="checkpoints of %s" % group)
    except Exception:
        cps = []
        warnings.warn("no checkpoint of %s in %s within 60 s" % (group, cps_topic))
    for g, t, p, up, down, meta in cps:
        assert t == remote and 0 <= p < 3 and up <= 60 and down <= 60

    k.stop()

    # convert: the same flow carries on, every record exactly once
    conv = check_convert(mm2d, run_dir, k, name + "-conv", env, [password])
    second = [prefix + b"-%d" % i for i in range(60, 90)]
    cluster_a.produce(topic, [("k%d" % i, v) for i, v in enumerate(second)])
    conv.start(timeout=60)
    wait_replicated(cluster_b, remote, first + second, prefix)
    conv.stop()


# ------------------------------------------------------------ deployment (b)


def make_p12(run_dir, pki):
    """PKCS12 key and trust stores of the test PKI, as Strimzi mounts them,
    and their passwords in a directory (DirectoryConfigProvider)."""
    d = os.path.join(run_dir, "mm2b-stores")
    os.makedirs(d, exist_ok=True)
    ks, ts = os.path.join(d, "user.p12"), os.path.join(d, "ca.p12")
    sec = os.path.join(d, "secrets")
    os.makedirs(sec, exist_ok=True)
    with open(os.path.join(sec, "keystore-password"), "w") as f:
        f.write("ks-Secret-1")
    with open(os.path.join(sec, "truststore-password"), "w") as f:
        f.write("ts-Secret-2")
    subprocess.run(["openssl", "pkcs12", "-export", "-in", pki["client.pem"],
                    "-inkey", pki["client.key"], "-out", ks, "-passout",
                    "pass:ks-Secret-1"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs12", "-export", "-nokeys", "-in", pki["ca.pem"],
                    "-out", ts, "-passout", "pass:ts-Secret-2"], check=True,
                   capture_output=True)
    return ks, ts, sec


# topics .* with the identity policy copies every topic of the shared source
# cluster: heavy, left out of the sanitizer pass
@pytest.mark.heavy
def test_b_strimzi_mtls_identity_policy(mm2d, run_dir, cluster_a, cluster_b, pki):
    name = unique_name("mm2b")
    topic = unique_name("payments")
    prefix = name.encode()
    cluster_a.create_topic(topic, 4)
    first = [prefix + b"-%d" % i for i in range(80)]
    cluster_a.produce(topic, [("k%d" % i, v) for i, v in enumerate(first)])
    ks, ts, sec = make_p12(run_dir, pki)
    text = render("b-strimzi-mtls.properties", {
        "A_SSL": cluster_a.bootstrap("SSL"),
        "B_SSL": cluster_b.bootstrap("SSL"),
        "TRUSTSTORE_P12": ts,
        "KEYSTORE_P12": ks,
        "SECRETS_DIR": sec,
    }) + trailer(run_dir, name)
    env = dict(os.environ)
    k = mm2d(name, text, env=env)
    rc, out = k.check()
    assert rc == 0, out
    assert "topicsPattern: a Strimzi" in out
    assert "ks-Secret-1" not in out

    r = subprocess.run([kmd.KMIRRORD, "-n", "-v", "-m", k.conf], capture_output=True,
                       text=True, env=env, timeout=30)
    eff = r.stdout
    assert r.returncode == 0, r.stderr
    assert 'replication_policy = "identity";' in eff
    assert "tasks = 12;" in eff
    # the PKCS12 key store is read by kmirrord and handed over as PEM
    assert 'ssl_key_pem = "********";' in eff
    assert "ssl_certificate_pem" in eff and "ks-Secret-1" not in eff
    assert "ssl_ca_pem" in eff

    k.start(timeout=90)
    assert len(source_workers(k)) == min(12, os.cpu_count())     # one per CPU at most
    wait_replicated(cluster_b, topic, first, prefix)   # the same name: identity
    k.stop()

    # convert keeps ssl.keystore.location, which librdkafka 2.0 loads itself
    # and leaks (a few OpenSSL objects per client, its bug); under the
    # sanitizers that one leak is suppressed for the converted instance only
    conv_env = dict(env)
    if "ASAN_OPTIONS" in os.environ:
        supp = os.path.join(run_dir, "lsan-librdkafka-pkcs12.supp")
        with open(supp, "w") as f:
            f.write("leak:libcrypto.so\n")
        conv_env["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % supp
    conv = check_convert(mm2d, run_dir, k, name + "-conv", conv_env, ["ks-Secret-1"])
    with open(conv.conf) as f:
        ctext = f.read()
    assert 'ssl_keystore_location = "%s";' % ks in ctext
    assert 'ssl_keystore_password = "file:%s/keystore-password";' % sec in ctext
    second = [prefix + b"-%d" % i for i in range(80, 100)]
    cluster_a.produce(topic, [("k%d" % i, v) for i, v in enumerate(second)])
    conv.start(timeout=90)
    wait_replicated(cluster_b, topic, first + second, prefix)
    conv.stop()


# ------------------------------------------------------------ deployment (c)


def test_c_dc_to_cloud_products(mm2d, run_dir, cluster_a, cluster_b, pki):
    name = unique_name("mm2c")
    topic = "products"
    prefix = name.encode()
    if topic not in cluster_a.list_topics():
        try:
            cluster_a.create_topic(topic, 2)
        except Exception:
            pass        # created meanwhile
    first = [prefix + b"-%d" % i for i in range(50)]
    cluster_a.produce(topic, [("k%d" % i, v) for i, v in enumerate(first)])
    text = render("c-dc-to-cloud.properties", {
        "A_PLAINTEXT": cluster_a.bootstrap("PLAINTEXT"),
        "B_SASL_SSL": cluster_b.bootstrap("SASL_SSL"),
        "CA_PEM": pki["ca.pem"],
        # as in the deployment: SASL PLAIN over TLS 1.2
        "TARGET_MECHANISM": "PLAIN",
        "TARGET_LOGIN_MODULE": "plain.PlainLoginModule",
    }) + trailer(run_dir, name)
    password = kmtestbed.USERS["kmirror"]
    env = dict(os.environ, MM2C_TARGET_USER="kmirror", MM2C_TARGET_PASSWORD=password)
    k = mm2d(name, text, env=env)
    rc, out = k.check()
    assert rc == 0, out
    assert "target.ssl.protocol: ignored" in out
    assert "target.ssl.enabled.protocols: ignored" in out
    assert "target->source" in out      # MM2's heartbeat-only herder, named
    assert password not in out

    # without the variables: refused, naming the file and line
    bad = dict(env)
    del bad["MM2C_TARGET_PASSWORD"]
    r = subprocess.run([kmd.KMIRRORD, "-n", "-m", k.conf], capture_output=True,
                       text=True, env=bad, timeout=30)
    assert r.returncode == 1
    jaas_line = 1 + [l.startswith("target.sasl.jaas.config")
                     for l in text.splitlines()].index(True)
    assert "%s:%d: sasl.jaas.config password: environment variable " \
           "MM2C_TARGET_PASSWORD is not set" % (k.conf, jaas_line) in r.stderr

    k.start(timeout=60)
    assert len(source_workers(k)) == min(10, os.cpu_count())     # one per CPU at most
    wait_replicated(cluster_b, "source.products", first, prefix)
    wait_until(lambda: shards_held(k) == set(range(10)), timeout=30,
               message="the 10 shards of tasks.max = 10 held")
    # SIGHUP re-reads the mm2.properties: tasks.max 10 -> 2
    k.write_config(text.replace("tasks.max = 10", "tasks.max = 2"))
    k.signal(signal.SIGHUP)
    wait_until(lambda: len(source_workers(k)) == 2 and shards_held(k) == {0, 1},
               timeout=30, message="2 source workers holding shards 0 and 1 after reload")
    k.wait_all_running(timeout=30)
    k.stop()

    conv = check_convert(mm2d, run_dir, k, name + "-conv", env, [password])
    with open(conv.conf) as f:
        ctext = f.read()
    assert 'sasl_password = "env:MM2C_TARGET_PASSWORD";' in ctext
    second = [prefix + b"-%d" % i for i in range(50, 70)]
    cluster_a.produce(topic, [("k%d" % i, v) for i, v in enumerate(second)])
    conv.start(timeout=60)
    wait_replicated(cluster_b, "source.products", first + second, prefix)
    conv.stop()


def test_convert_refuses_secrets_it_cannot_reference(run_dir, tmp_path):
    """A FileConfigProvider key has no kmirrord.conf form: convert writes
    "********", says why, and fails; the secret is never printed."""
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("pw = Very-Secret-3\n")
    props = tmp_path / "mm2.properties"
    props.write_text(
        "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n"
        "config.providers = file\n"
        "config.providers.file.class = "
        "org.apache.kafka.common.config.provider.FileConfigProvider\n"
        "B.security.protocol = SASL_PLAINTEXT\nB.sasl.mechanism = PLAIN\n"
        "B.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule "
        "required username=\"u\" password=\"${file:%s:pw}\";\n"
        "A->B.enabled = true\n" % secrets)
    rc, out, err = convert(str(props), dict(os.environ))
    assert rc == 1
    assert "Very-Secret-3" not in out + err
    assert 'sasl_password = "********";  # NOT CONVERTED' in out
    assert "line 8: sasl.jaas.config password: NOT CONVERTED" in err
    # and kmirrord -m itself reads it
    r = subprocess.run([kmd.KMIRRORD, "-n", "-m", str(props)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # usage errors
    r = subprocess.run([kmd.KMIRRORCTL, "convert"], capture_output=True, text=True)
    assert r.returncode == 64
    r = subprocess.run([kmd.KMIRRORCTL, "convert", str(tmp_path / "none")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read the file" in r.stderr
