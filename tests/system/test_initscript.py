"""etc/init.d/kmirrord run as root against the test bed, and the tree
`make install` produces (with man pages that render)."""

import os
import subprocess

import kmd
from helpers import unique_name, wait_until

REPO = kmd.REPO
INIT = os.path.join(REPO, "etc", "init.d", "kmirrord")


def test_make_install_tree_and_man_pages(tmp_path):
    dest = tmp_path / "root"
    r = subprocess.run(["make", "-s", "install", "DESTDIR=%s" % dest, "PREFIX=/usr"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    want = ["usr/sbin/kmirrord", "usr/sbin/kmirrorctl", "usr/share/man/man8/kmirrord.8",
            "usr/share/man/man8/kmirrorctl.8", "usr/share/man/man5/kmirrord.conf.5",
            "etc/kmirrord/kmirrord.conf", "etc/default/kmirrord", "etc/init.d/kmirrord",
            "lib/systemd/system/kmirrord.service", "etc/logrotate.d/kmirrord"]
    for w in want:
        assert (dest / w).is_file(), w
    assert os.access(dest / "usr/sbin/kmirrord", os.X_OK)
    assert oct((dest / "etc/default/kmirrord").stat().st_mode & 0o777) == "0o600"
    # an existing config is kept
    (dest / "etc/kmirrord/kmirrord.conf").write_text("# mine\n")
    r = subprocess.run(["make", "-s", "install", "DESTDIR=%s" % dest, "PREFIX=/usr"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "keeping existing" in r.stdout
    assert (dest / "etc/kmirrord/kmirrord.conf").read_text() == "# mine\n"
    for page, title in (("man8/kmirrord.8", "KMIRRORD(8)"), ("man8/kmirrorctl.8", "KMIRRORCTL(8)"),
                        ("man5/kmirrord.conf.5", "KMIRRORD.CONF(5)")):
        out = subprocess.run(["man", "-l", str(dest / "usr/share/man" / page)],
                             capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, MANPAGER="cat", PAGER="cat")).stdout
        assert title in out and "NAME" in out and "SYNOPSIS" in out or "DESCRIPTION" in out
    # the installed sample passes the check
    r = subprocess.run([str(dest / "usr/sbin/kmirrord"), "-n", "-c", os.path.join(REPO, "etc",
                        "kmirrord.conf")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def init(defaults, *args):
    return subprocess.run(["sh", INIT] + list(args), capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, KMIRRORD_DEFAULTS=defaults))


def test_init_script_lifecycle(kmirrord, run_dir, cluster_a, cluster_b):
    assert os.geteuid() == 0, "the init script test runs as root"
    name = unique_name("initd")
    d = os.path.join(run_dir, name)
    os.makedirs(d, exist_ok=True)
    s1, t1, s2, t2 = ("i%d_%s" % (i, name[-6:]) for i in range(4))
    blocks = [kmd.cluster_block(s1, cluster_a), kmd.cluster_block(t1, cluster_b),
              kmd.cluster_block(s2, cluster_a), kmd.cluster_block(t2, cluster_b)]
    log_extra = '  log = { target = "file"; file = "%s/kmirrord.log"; };' % d
    one = kmd.config_text(run_dir, name, blocks, ['source = "%s"; target = "%s";' % (s1, t1)],
                          log_extra)
    two = kmd.config_text(run_dir, name, blocks, ['source = "%s"; target = "%s";' % (s1, t1),
                                                  'source = "%s"; target = "%s";' % (s2, t2)],
                          log_extra)
    conf = os.path.join(d, "kmirrord.conf")
    with open(conf, "w") as f:
        f.write(one)
    defaults = os.path.join(d, "default")
    with open(defaults, "w") as f:
        f.write("DAEMON=%s\nCONFIG=%s\nPIDFILE=%s/kmirrord.pid\nSTOP_TIMEOUT=20\n"
                % (kmd.KMIRRORD, conf, d))
    # the fixture's cleanup covers this daemon too (same config path)
    k = kmirrord(name, one)
    k.proc = None
    assert init(defaults, "configtest").returncode == 0
    r = init(defaults, "start")
    assert r.returncode == 0, r.stdout + r.stderr
    pid = int(open(os.path.join(d, "kmirrord.pid")).read())
    assert init(defaults, "status").returncode == 0
    k.pid_override = pid

    def flows():
        r = k.ctl("status")
        if r.returncode != 0:
            return None
        import json
        st = json.loads(r.stdout)
        if not all(w["state"] == "running" for f in st["flows"] for w in f["workers"]):
            return None
        return sorted(f["name"] for f in st["flows"])
    assert wait_until(flows, timeout=30) == ["%s->%s" % (s1, t1)]

    # reload with a good config: a flow is added, the daemon keeps its pid
    with open(conf, "w") as f:
        f.write(two)
    assert init(defaults, "reload").returncode == 0
    wait_until(lambda: flows() == sorted(["%s->%s" % (s1, t1), "%s->%s" % (s2, t2)]),
               timeout=30, message="flows after reload")
    assert int(open(os.path.join(d, "kmirrord.pid")).read()) == pid

    # reload with a bad config: refused, nothing changes
    with open(conf, "w") as f:
        f.write(two.replace('source = "%s"; target = "%s";' % (s2, t2),
                            'source = "%s"; target = "%s";' % (s2, s2)))
    r = init(defaults, "reload")
    assert r.returncode != 0 and "into itself" in (r.stdout + r.stderr)
    assert kmd.alive(pid) and flows() == sorted(["%s->%s" % (s1, t1), "%s->%s" % (s2, t2)])

    # restart with the good config: a new daemon
    with open(conf, "w") as f:
        f.write(one)
    old_tree = {pid} | set(kmd._children(pid))
    r = init(defaults, "restart")
    assert r.returncode == 0, r.stdout + r.stderr
    k.wait_gone(old_tree, timeout=20)
    pid2 = int(open(os.path.join(d, "kmirrord.pid")).read())
    assert pid2 != pid and kmd.alive(pid2)
    wait_until(lambda: flows() == ["%s->%s" % (s1, t1)], timeout=30)

    tree = {pid2} | set(kmd._children(pid2))
    assert init(defaults, "stop").returncode == 0
    k.wait_gone(tree, timeout=25)
    assert not kmd.processes_with_conf(conf), "no process left"
    assert init(defaults, "status").returncode != 0
