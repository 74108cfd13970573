"""The supervisor keeps workers alive and reloads and stops cleanly, with
real Kafka behind the workers."""

import os
import signal
import time

import kmd
from helpers import unique_name, wait_until


def flow_conf(src, tgt, extra=""):
    return 'source = "%s"; target = "%s"; tasks = 1; %s' % (src, tgt, extra)


def simple(kmirrord, run_dir, cluster_a, cluster_b, prefix, nflows=1, global_extra=""):
    name = unique_name(prefix)
    clusters, flows = [], []
    for i in range(nflows):
        s, t = "s%d_%s" % (i, name[-6:]), "t%d_%s" % (i, name[-6:])
        clusters += [kmd.cluster_block(s, cluster_a), kmd.cluster_block(t, cluster_b)]
        flows.append(flow_conf(s, t))
    text = kmd.config_text(run_dir, name, clusters, flows, global_extra)
    return kmirrord(name, text)


def test_wrong_password_exits_78_not_respawned(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("badpw")
    secret = "Wr0ng-" + name
    text = kmd.config_text(run_dir, name, [
        kmd.cluster_block("bps", cluster_a),
        kmd.cluster_block("bpt", cluster_b, listener="SASL_SSL", password_ref="env:KM_BAD_PW")],
        [flow_conf("bps", "bpt")])
    k = kmirrord(name, text, env={"KM_BAD_PW": secret}).start(wait_running=False)
    hb = k.wait_worker("bps->bpt", "heartbeat", lambda w: w["state"] == "fatal", timeout=30)
    assert hb["pid"] is None
    assert "authentication" in hb["last_error"].lower()
    assert hb["last_exit"] == "exit 78"
    for role in ("source", "checkpoint"):
        w = k.wait_worker("bps->bpt", role, lambda w: w["state"] == "fatal", timeout=30)
        assert w["last_exit"] == "exit 78"
    # not respawned: still fatal, no restart, after several backoff periods
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for w in k.workers().values():
            assert w["state"] == "fatal" and w["restarts"] == 0 and w["pid"] is None
        time.sleep(0.3)
    r = k.ctl("status", json_out=False)
    assert r.returncode == 0 and "fatal" in r.stdout
    log = k.log_text()
    assert "will not be restarted" in log and "authentication" in log.lower()
    for text_ in (log, r.stdout, k.ctl("status").stdout):
        assert secret not in text_
    # the password is not in any worker's environment or argv either: the
    # supervisor is the only process that has it
    k.stop()


def test_secret_not_in_worker_env_or_argv(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("secret")
    text = kmd.config_text(run_dir, name, [
        kmd.cluster_block("ses", cluster_a),
        kmd.cluster_block("set", cluster_b, listener="SASL_SSL", password_ref="env:KM_GOOD_PW")],
        [flow_conf("ses", "set")])
    k = kmirrord(name, text, env={"KM_GOOD_PW": "kmirror-secret"}).start()
    for (flow, role, idx), w in k.workers().items():
        with open("/proc/%d/environ" % w["pid"], "rb") as f:
            env = f.read()
        with open("/proc/%d/cmdline" % w["pid"], "rb") as f:
            cmd = f.read()
        assert b"kmirror-secret" not in env and b"KM_GOOD_PW" not in env
        assert b"kmirror-secret" not in cmd
        assert role.encode() in cmd and flow.encode() in cmd, "ps shows role and flow"
    assert "kmirror-secret" not in k.log_text()
    rc, out = k.check()
    assert rc == 0
    import subprocess
    r = subprocess.run([kmd.KMIRRORD, "-n", "-v", "-c", k.conf], capture_output=True,
                       text=True, env=k.env, timeout=30)
    assert r.returncode == 0 and "kmirror-secret" not in r.stdout and "********" in r.stdout
    k.stop()


def test_kill9_restart_breaker_and_sighup(kmirrord, run_dir, cluster_a, cluster_b):
    k = simple(kmirrord, run_dir, cluster_a, cluster_b, "kill9").start()
    flow = list(k.pids())[0][0]
    old = k.worker(flow, "source")["pid"]
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    w = k.wait_worker(flow, "source", lambda w: w["pid"] not in (None, old), timeout=10)
    took = time.monotonic() - t0
    print("respawned source worker in %.2f s (first backoff 300 ms +-20%%)" % took)
    assert w["restarts"] == 1
    assert "signal 9" in w["last_exit"]
    # kill it again and again: FAILED after max_failures (5) within the window
    delays = []
    for i in range(4):
        cur = k.wait_worker(flow, "source", lambda w: w["pid"] and w["state"] == "running",
                            timeout=20)
        t0 = time.monotonic()
        os.kill(cur["pid"], signal.SIGKILL)
        if i < 3:
            k.wait_worker(flow, "source", lambda w: w["pid"] not in (None, cur["pid"]),
                          timeout=20)
            delays.append(round(time.monotonic() - t0, 2))
    print("observed restart delays after repeated kills: %s s" % delays)
    assert delays == sorted(delays), "backoff grows"
    w = k.wait_worker(flow, "source", lambda w: w["state"] == "failed", timeout=10)
    assert w["pid"] is None
    time.sleep(1.0)
    assert k.worker(flow, "source")["state"] == "failed", "FAILED is not respawned"
    # the other workers never noticed
    assert k.worker(flow, "heartbeat")["restarts"] == 0
    k.signal(signal.SIGHUP)
    w = k.wait_worker(flow, "source", lambda w: w["state"] == "running", timeout=20)
    assert w["pid"]
    assert "FAILED" in k.log_text() or "failed" in k.log_text()
    k.stop()


def test_reload_add_remove_change_keep(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("reload")
    al = {x: "%s_%s" % (x, name[-6:]) for x in ("k1", "k2", "r1", "r2", "c1", "c2", "n1", "n2")}
    blocks = [kmd.cluster_block(al[x], cluster_a if x.endswith("1") else cluster_b) for x in al]
    keep = flow_conf(al["k1"], al["k2"])
    change_before = flow_conf(al["c1"], al["c2"])
    change_after = flow_conf(al["c1"], al["c2"], "emit_heartbeats_interval_ms = 700;")
    remove = flow_conf(al["r1"], al["r2"])
    add = flow_conf(al["n1"], al["n2"])
    before = kmd.config_text(run_dir, name, blocks, [keep, change_before, remove])
    after = kmd.config_text(run_dir, name, blocks, [keep, change_after, add])
    k = kmirrord(name, before).start()
    fk, fc, fr, fn = ("%s->%s" % (al[a], al[b]) for a, b in
                      (("k1", "k2"), ("c1", "c2"), ("r1", "r2"), ("n1", "n2")))
    p0 = k.pids()
    assert {f for f, _, _ in p0} == {fk, fc, fr}

    # a bad config on reload changes nothing
    k.write_config(after.replace("flows = (", "flows = ( { source = \"nope\"; target = \"%s\"; },"
                                 % al["k2"]))
    r = k.ctl("reload")
    assert r.returncode == 1 and "unknown source cluster" in r.stderr
    k.signal(signal.SIGHUP)
    wait_until(lambda: k.log_text().count("reload refused") >= 2, timeout=10)
    assert k.pids() == p0

    k.write_config(after)
    k.signal(signal.SIGHUP)
    wait_until(lambda: {f for f, _, _ in k.pids()} == {fk, fc, fn}, timeout=30,
               message="flows after reload")
    k.wait_all_running(timeout=30)
    p1 = k.pids()
    for key, pid in p0.items():
        if key[0] == fk:
            assert p1[key] == pid, "unchanged flow keeps its pids"
        else:
            assert not kmd.alive(pid), "workers of changed and removed flows are gone"
    for key, pid in p1.items():
        if key[0] == fc:
            assert pid not in p0.values(), "changed flow has new workers"
    assert "reloaded" in k.log_text()
    k.stop()


def test_sigterm_drains_whole_tree(kmirrord, run_dir, cluster_a, cluster_b):
    k = simple(kmirrord, run_dir, cluster_a, cluster_b, "term", nflows=2).start()
    tree = k.tree()
    assert len(tree) == 1 + 2 * 3
    t0 = time.monotonic()
    k.signal(signal.SIGTERM)
    k.proc.wait(timeout=15)
    k.wait_gone(tree, timeout=2)
    print("SIGTERM: %d processes gone in %.2f s (deadline 8 s)" % (len(tree), time.monotonic() - t0))
    assert k.proc.returncode == 0
    log = k.log_text()
    # order: sources stop before checkpoints, checkpoints before heartbeats
    i_src = log.index("source worker 0 of flow")
    assert log.rindex("source worker 0 of flow") < log.rindex("heartbeat worker 0 of flow")
    assert i_src >= 0
    assert not os.path.exists(k.sock)


def test_supervisor_sigkill_workers_exit(kmirrord, run_dir, cluster_a, cluster_b):
    k = simple(kmirrord, run_dir, cluster_a, cluster_b, "sup9").start()
    workers = k.tree() - {k.pid}
    assert len(workers) == 3
    t0 = time.monotonic()
    k.signal(signal.SIGKILL)
    k.proc.wait(timeout=5)
    k.wait_gone(workers, timeout=5)
    print("supervisor SIGKILL: workers gone in %.2f s" % (time.monotonic() - t0))


def test_silent_worker_is_killed_and_restarted(kmirrord, run_dir, cluster_a, cluster_b):
    k = simple(kmirrord, run_dir, cluster_a, cluster_b, "hang").start()
    flow = list(k.pids())[0][0]
    old = k.worker(flow, "checkpoint")["pid"]
    os.kill(old, signal.SIGSTOP)      # alive, but sends no STATUS
    w = k.wait_worker(flow, "checkpoint", lambda w: w["pid"] not in (None, old)
                      and w["state"] == "running", timeout=20)
    assert not kmd.alive(old)
    assert "no STATUS" in k.log_text()
    assert w["restarts"] == 1
    k.stop()


def test_bad_config_refused_before_start(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("badconf")
    text = kmd.config_text(run_dir, name, [kmd.cluster_block("bc1", cluster_a)],
                           [flow_conf("bc1", "bc1")])
    k = kmirrord(name, text)
    rc, out = k.check()
    assert rc == 1 and "kmirrord.conf:" in out and "into itself" in out
    import subprocess
    r = subprocess.run([kmd.KMIRRORD, "-d", "-c", k.conf], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1 and "into itself" in r.stderr
    assert not os.path.exists(k.sock)


def test_kmirrorctl_daemon_down(tmp_path):
    import subprocess
    r = subprocess.run([kmd.KMIRRORCTL, "-s", str(tmp_path / "none.sock"), "status"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 69 and "cannot reach kmirrord" in r.stderr
    r = subprocess.run([kmd.KMIRRORCTL, "frobnicate"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 64


def test_privilege_drop(kmirrord, run_dir, cluster_a, cluster_b):
    import pwd
    nobody = pwd.getpwnam("nobody")
    k = simple(kmirrord, run_dir, cluster_a, cluster_b, "priv",
               global_extra='  user = "nobody";')
    os.chmod(k.dir, 0o777)    # the pidfile and socket directory
    k.start()
    for pid in k.tree():
        with open("/proc/%d/status" % pid) as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        assert all(int(u) == nobody.pw_uid for u in uids), (pid, uids)
    assert os.stat(k.sock).st_uid == nobody.pw_uid
    assert oct(os.stat(k.sock).st_mode & 0o777) == "0o600"
    assert "running as user nobody" in k.log_text()
    k.stop()
