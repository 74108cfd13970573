"""Run the real kmirrord binary in system tests.

Kmirrord(run_dir, name, config_text) writes the config, starts
`kmirrord -d -c FILE` with its log in the test's directory, and offers
status (through the real kmirrorctl --json), worker pids, bounded waits and
a stop that proves no process is left. Every instance is killed at the end
of its test by the `kmirrord` fixture in conftest.py.
"""

import json
import os
import signal
import subprocess
import time

from helpers import wait_until

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMIRROR_BUILD", os.path.join(REPO, "build"))
KMIRRORD = os.path.join(BUILD, "kmirrord")
KMIRRORCTL = os.path.join(BUILD, "kmirrorctl")


def cluster_block(alias, cluster, listener="PLAINTEXT", user="kmirror",
                  mechanism="SCRAM-SHA-512", password=None, extra=None,
                  password_ref=None):
    """A kmirrord.conf cluster entry for a test-bed cluster. With
    password_ref (e.g. "env:X") the password is referenced, not written."""
    conf = cluster.client_config(listener, user=user, mechanism=mechanism,
                                 password=password)
    bootstrap = conf.pop("bootstrap.servers")
    if password_ref and "sasl.password" in conf:
        conf["sasl.password"] = password_ref
    conf.update(extra or {})
    props = "".join('      %s = "%s";\n' % (k.replace(".", "_"), v)
                    for k, v in conf.items())
    return ('  { alias = "%s"; bootstrap_servers = "%s";\n    kafka = {\n%s    };\n  }'
            % (alias, bootstrap, props))


def config_text(run_dir, name, clusters, flows, global_extra=""):
    """clusters: list of cluster_block() strings; flows: list of strings
    with the inside of a flow group, e.g. 'source = "A"; target = "B";'."""
    d = os.path.join(run_dir, name)
    return """global = {
  pidfile = "%(d)s/kmirrord.pid";
  control_socket = "%(d)s/kmirrord.sock";
  status_interval_ms = 500;
  hang_timeout_ms = 10000;
  drain_timeout_ms = 8000;
  restart = { initial_delay_ms = 300; max_delay_ms = 3000; stable_after_ms = 30000;
              max_failures = 5; failure_window_ms = 600000; };
%(extra)s
};
clusters = (
%(clusters)s
);
flows = (
%(flows)s
);
""" % {"d": d, "extra": global_extra, "clusters": ",\n".join(clusters),
       "flows": ",\n".join("  { %s }" % f for f in flows)}


def _children(pid):
    """Direct children of pid, from /proc."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == pid:
            out.append(int(p))
    return out


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def processes_with_conf(path):
    """Pids of kmirrord processes whose command line mentions `path`, or
    that are workers started by such a process (any kmirrord -x)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"kmirrord") and path.encode() in cmd and alive(int(p)):
            out.append(int(p))
    return out


class Kmirrord:
    def __init__(self, run_dir, name, text, env=None, mm2=False):
        """mm2=True: text is an MM2 mm2.properties, run with -m."""
        self.name = name
        self.dir = os.path.join(run_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.mm2 = mm2
        self.conf_flag = "-m" if mm2 else "-c"
        self.conf = os.path.join(self.dir, "mm2.properties" if mm2 else "kmirrord.conf")
        self.sock = os.path.join(self.dir, "kmirrord.sock")
        self.log = os.path.join(self.dir, "kmirrord.log")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.worker_pids_seen = set()
        self.write_config(text)

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def check(self):
        """kmirrord -n: (exit code, output)."""
        r = subprocess.run([KMIRRORD, "-n", self.conf_flag, self.conf], capture_output=True,
                           text=True, env=self.env, timeout=30)
        return r.returncode, r.stdout + r.stderr

    def start(self, wait_running=True, timeout=30):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([KMIRRORD, "-d", self.conf_flag, self.conf],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env)
        wait_until(lambda: self.ping(), timeout=10, interval=0.05,
                   message="kmirrord control socket of %s" % self.name)
        if wait_running:
            self.wait_all_running(timeout=timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def ctl(self, *args, json_out=True, timeout=15):
        cmd = [KMIRRORCTL, "-s", self.sock] + (["--json"] if json_out else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def ping(self):
        return os.path.exists(self.sock) and self.ctl("ping").returncode == 0

    def status(self):
        r = self.ctl("status")
        if r.returncode != 0:
            raise AssertionError("kmirrorctl status failed (%d): %s" % (r.returncode, r.stderr))
        st = json.loads(r.stdout)
        for f in st["flows"]:
            for w in f["workers"]:
                if w["pid"]:
                    self.worker_pids_seen.add(w["pid"])
        return st

    def workers(self, flow=None):
        """{(flow, role, index): worker dict}."""
        out = {}
        for f in self.status()["flows"]:
            if flow is None or f["name"] == flow:
                for w in f["workers"]:
                    out[(f["name"], w["role"], w["index"])] = w
        return out

    def worker(self, flow, role, index=0):
        return self.workers(flow).get((flow, role, index))

    def pids(self, flow=None):
        return {k: w["pid"] for k, w in self.workers(flow).items()}

    def wait_all_running(self, timeout=30):
        def ok():
            ws = self.workers()
            return ws and all(w["state"] == "running" for w in ws.values())
        return wait_until(ok, timeout=timeout, interval=0.1,
                          message="all workers of %s running (log %s)" % (self.name, self.log))

    def wait_worker(self, flow, role, pred, timeout=30, index=0, message=None):
        def ok():
            w = self.worker(flow, role, index)
            return w if w and pred(w) else None
        return wait_until(ok, timeout=timeout, interval=0.1,
                          message=message or "%s %s worker of %s" % (flow, role, self.name))

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tree(self):
        """Pids of the supervisor and of every live worker it started."""
        pids = set(self.worker_pids_seen) | set(_children(self.pid))
        pids.add(self.pid)
        return {p for p in pids if alive(p)}

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_gone(self, pids, timeout):
        wait_until(lambda: not any(alive(p) for p in pids), timeout=timeout, interval=0.05,
                   message="processes %s gone" % sorted(p for p in pids if alive(p)))

    def stop(self, timeout=20):
        """SIGTERM and wait until the whole tree is gone."""
        if self.proc is None:
            return
        try:
            self.status()
        except Exception:
            pass
        tree = self.tree()
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        self.wait_gone(tree, 10)

    def kill(self):
        """Last resort at test end: SIGKILL everything we started."""
        pids = set(self.worker_pids_seen) | set(processes_with_conf(self.conf))
        if self.proc is not None:
            if self.proc.poll() is None:
                pids |= set(_children(self.proc.pid))
                self.proc.kill()
            self.proc.wait(timeout=10)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None
