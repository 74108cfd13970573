#!/usr/bin/env python3
"""replicate.py: replication benchmark of kmirrord (catch-up of a pre-loaded topic).

Starts two local single-node KRaft clusters with kmtestbed (source and
target), pre-loads N records of S bytes over P partitions of one topic on
the source, then starts `kmirrord -d` with one flow source->target and
measures how long the target takes to hold all N records, the CPU time and
the resident memory of every kmirrord process. See contrib/bench/README.md.

Completion is exact: the source worker commits, in the same transaction as
the records, the next source offset of each partition to the progress topic
`kmirror-progress.<srcalias>.internal` on the target (key "<topic>/<p>",
value decimal text). A read_committed consumer follows that topic; the run
is complete when every partition's progress equals the source end offset.

Exit status: 0 ok, 1 verification failed or timeout, 2 usage/setup error.
"""

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "contrib", "testbed"))

import kmtestbed  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
STATUS_INTERVAL_MS = 500
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg, *args):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg % args if args else msg))
    sys.stderr.flush()


# ---------------------------------------------------------------- /proc


def proc_stat(pid):
    """(ppid, cpu seconds utime+stime of all the process's threads, state)
    or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    rest = st[st.rindex(")") + 2:].split()
    # rest[0] = state (field 3), rest[1] = ppid, utime/stime = fields 14/15
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK_TCK, rest[0]


def proc_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def children_of(pids):
    """Every live descendant of the given pids (one /proc scan)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        s = proc_stat(int(d))
        if s is not None and s[2] != "Z":
            parent[int(d)] = s[0]
    out, frontier = set(), set(pids)
    while frontier:
        nxt = {p for p, pp in parent.items() if pp in frontier and p not in out}
        out |= nxt
        frontier = nxt
    return out


def worker_kind(pid, sup_pid):
    """'supervisor', 'source', 'checkpoint', 'heartbeat' or 'other'."""
    if pid == sup_pid:
        return "supervisor"
    argv = proc_cmdline(pid)
    if "-x" in argv:
        i = argv.index("-x")
        if i + 1 < len(argv):
            return argv[i + 1]
    return "other"


class Sampler(threading.Thread):
    """Every `interval` s: CPU time and RSS of every process of the
    kmirrord tree (supervisor + workers, found by parent pid), and CPU time
    of the broker JVMs. A process that exits keeps its last CPU sample (so
    restarted workers are counted in full)."""

    def __init__(self, sup_pid, brokers, interval=0.1):
        super().__init__(daemon=True)
        self.sup_pid = sup_pid
        self.brokers = dict(brokers)     # name -> pid
        self.interval = interval
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.procs = {}                  # pid -> {"kind", "cpu0", "cpu", "rss_peak_kb"}
        self.peak_tree_rss_kb = 0
        self.peak_kind_sum_rss_kb = {}   # kind -> peak of the sum over processes of that kind
        self.broker_cpu0 = {n: self._cpu(p) for n, p in self.brokers.items()}
        self.broker_cpu = dict(self.broker_cpu0)
        self.self_cpu0 = sum(os.times()[:2])
        self.samples = 0
        self.marks = {}

    @staticmethod
    def _cpu(pid):
        s = proc_stat(pid) if pid else None
        return s[1] if s else 0.0

    def sample(self):
        tree = {self.sup_pid} | children_of([self.sup_pid])
        total_rss, kind_rss = 0, {}
        with self.lock:
            for pid in tree:
                st = proc_stat(pid)
                rss = proc_rss_kb(pid)
                if st is None or rss is None or st[2] == "Z":
                    continue
                rec = self.procs.get(pid)
                if rec is None:
                    kind = worker_kind(pid, self.sup_pid)
                    # a process first seen after start began at 0 CPU
                    rec = self.procs[pid] = {"kind": kind, "cpu0": 0.0,  # every process started after t0
                                             "cpu": st[1], "rss_peak_kb": 0, "first_seen": time.monotonic()}
                if rec["kind"] == "other":
                    # seen between fork and exec: still the supervisor's argv
                    rec["kind"] = worker_kind(pid, self.sup_pid)
                rec["cpu"] = st[1]
                rec["rss_kb"] = rss
                rec["rss_peak_kb"] = max(rec["rss_peak_kb"], rss)
                total_rss += rss
                kind_rss[rec["kind"]] = kind_rss.get(rec["kind"], 0) + rss
            self.peak_tree_rss_kb = max(self.peak_tree_rss_kb, total_rss)
            for k, v in kind_rss.items():
                self.peak_kind_sum_rss_kb[k] = max(self.peak_kind_sum_rss_kb.get(k, 0), v)
            for n, p in self.brokers.items():
                c = self._cpu(p)
                if c:
                    self.broker_cpu[n] = c
            self.samples += 1

    def run(self):
        while not self.stop_ev.is_set():
            t = time.monotonic()
            try:
                self.sample()
            except Exception as e:  # never let sampling kill the run
                log("sampler: %r", e)
            self.stop_ev.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def stop(self):
        self.stop_ev.set()
        self.join(5)

    def cpu_by_kind(self):
        out = {}
        with self.lock:
            for rec in self.procs.values():
                out[rec["kind"]] = out.get(rec["kind"], 0.0) + rec["cpu"] - rec["cpu0"]
        return out

    def snapshot(self):
        """CPU seconds used so far: per kind, brokers, this script."""
        with self.lock:
            brokers = {n: self.broker_cpu[n] - self.broker_cpu0[n] for n in self.brokers}
        return {"kinds": self.cpu_by_kind(), "brokers": brokers,
                "bench": sum(os.times()[:2]) - self.self_cpu0}

    def rss_peaks(self):
        """Peak RSS (kB) of one process per kind, and of the whole tree."""
        per_kind = {}
        with self.lock:
            for rec in self.procs.values():
                per_kind[rec["kind"]] = max(per_kind.get(rec["kind"], 0), rec["rss_peak_kb"])
            return per_kind, dict(self.peak_kind_sum_rss_kb), self.peak_tree_rss_kb

    def process_table(self):
        with self.lock:
            return [{"pid": p, "kind": r["kind"], "cpu_s": round(r["cpu"] - r["cpu0"], 3),
                     "rss_peak_kb": r["rss_peak_kb"]} for p, r in sorted(self.procs.items())]


# ---------------------------------------------------------------- payloads


WORDS = ("order customer item price quantity status shipped pending region eu-west "
         "us-east warehouse sku-%d total currency EUR USD created updated id user "
         "session click view cart checkout payment ok failed retry").split()


def payload_pool(size, kind, seed=1):
    """A list of payloads of exactly `size` bytes, cycled by the loader.
    random: incompressible bytes; the pool (>= 4 MB) is larger than any
    compression window, so batches do not compress. text: log-like words
    (lz4 typically 2-4x)."""
    rnd = random.Random(seed)
    count = max(64, min(200000, (4 << 20) // max(1, size) + 1))
    if size == 0:
        return [b""]
    if kind == "random":
        blob = rnd.randbytes(count * size)
        return [blob[i * size:(i + 1) * size] for i in range(count)]
    out = []
    for i in range(count):
        parts, n = [], 0
        while n < size:
            w = rnd.choice(WORDS)
            if "%d" in w:
                w = w % rnd.randrange(1000)
            w = '"%s":%d ' % (w, rnd.randrange(100000)) if rnd.random() < 0.3 else w + " "
            parts.append(w)
            n += len(w)
        out.append("".join(parts).encode()[:size])
    return out


def preload(cluster, topic, records, size, partitions, compression, payload, seed):
    """Produce `records` values of `size` bytes round-robin over the
    partitions, as fast as librdkafka will take them. Returns stats."""
    return preload_topics(cluster, [topic], records, size, partitions, compression, payload,
                          seed)


def preload_topics(cluster, topics, records, size, partitions, compression, payload, seed):
    """preload() over several topics of `partitions` partitions each: one
    producer, record i goes to topic i % T, partition (i // T) % P, so the
    N records spread evenly. Returns stats like preload()."""
    from confluent_kafka import Producer
    pool = payload_pool(size, payload, seed)
    errors = []

    def on_err(err, msg):
        if err is not None:
            errors.append(err)

    conf = cluster.client_config("PLAINTEXT")
    conf.update({
        "acks": "1", "enable.idempotence": False,
        "linger.ms": 20, "batch.size": 1000000, "batch.num.messages": 100000,
        "queue.buffering.max.messages": 2000000, "queue.buffering.max.kbytes": 1048576,
        "compression.type": compression, "message.timeout.ms": 300000,
        "delivery.report.only.error": True, "on_delivery": on_err,
        "logger": kmtestbed._quiet_logger(),
    })
    prod = Producer(conf)
    npool, ntop = len(pool), len(topics)
    t0 = time.monotonic()
    produce = prod.produce
    for i in range(records):
        while True:
            try:
                produce(topics[i % ntop], pool[i % npool], partition=(i // ntop) % partitions)
                break
            except BufferError:
                prod.poll(0.05)
        if (i & 0x3fff) == 0:
            prod.poll(0)
            if errors:
                break
    left = prod.flush(300)
    dt = time.monotonic() - t0
    if errors:
        raise RuntimeError("pre-load: %d delivery errors, first: %s" % (len(errors), errors[0]))
    if left:
        raise RuntimeError("pre-load: %d records not delivered" % left)
    return {"seconds": round(dt, 3), "records_per_s": round(records / dt),
            "mb_per_s": round(records * size / dt / 1e6, 2)}


# ---------------------------------------------------------------- Kafka helpers


def consumer(cluster, **extra):
    import uuid
    from confluent_kafka import Consumer
    conf = cluster.client_config("PLAINTEXT")
    conf.update({"group.id": "kmirror-bench-%s" % uuid.uuid4().hex[:8],
                 "enable.auto.commit": False, "isolation.level": "read_committed",
                 "auto.offset.reset": "earliest", "enable.partition.eof": False,
                 "logger": kmtestbed._quiet_logger()})
    conf.update(extra)
    return Consumer(conf)


def watermarks(cons, topic, partitions, timeout=5.0):
    """{partition: (low, high)}; with a read_committed consumer `high` is
    the last stable offset. Missing partitions are left out."""
    from confluent_kafka import TopicPartition
    out = {}
    for p in range(partitions):
        try:
            out[p] = cons.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout,
                                                cached=False)
        except Exception:
            pass
    return out


def topic_exists(cons, topic):
    try:
        md = cons.list_topics(topic=topic, timeout=2)
    except Exception:
        return False
    t = md.topics.get(topic)
    return t is not None and t.error is None and len(t.partitions) > 0


def create_topics(cluster, names, partitions, timeout=120, chunk=100):
    """Create many topics (replication factor 1) with batched admin calls
    and wait until the metadata shows a leader for every partition."""
    from confluent_kafka.admin import NewTopic
    admin = cluster.admin()
    for i in range(0, len(names), chunk):
        part = names[i:i + chunk]
        futs = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1)
                                    for n in part], operation_timeout=timeout,
                                   request_timeout=timeout)
        for f in futs.values():
            f.result(timeout=timeout)
    want = set(names)
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(timeout=10)
        ready = {n for n in want if n in md.topics and md.topics[n].error is None
                 and len(md.topics[n].partitions) == partitions
                 and all(p.leader >= 0 for p in md.topics[n].partitions.values())}
        if ready == want:
            return
        if time.monotonic() >= deadline:
            raise RuntimeError("%d of %d topics not ready on %s after %ss"
                               % (len(want - ready), len(want), cluster.name, timeout))
        time.sleep(0.1)


def end_offsets(admin, topics, partitions, committed=False, timeout=10):
    """{(topic, partition): high watermark} with one batched ListOffsets
    (read_committed: the last stable offset). Topics that do not exist
    (yet) and partitions that fail are left out."""
    from confluent_kafka import TopicPartition, IsolationLevel
    from confluent_kafka.admin import OffsetSpec
    md = admin.list_topics(timeout=timeout)
    req = {TopicPartition(t, p): OffsetSpec.latest() for t in topics
           if t in md.topics and md.topics[t].error is None
           for p in md.topics[t].partitions if p < partitions}
    if not req:
        return {}
    iso = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    out = {}
    for tp, f in admin.list_offsets(req, isolation_level=iso, request_timeout=timeout).items():
        try:
            out[(tp.topic, tp.partition)] = f.result(timeout + 5).offset
        except Exception:
            pass
    return out


class TopicsProgressReader:
    """Follows kmirrord's progress topic on the target (read_committed) and
    keeps the latest value of every key "<topic>/<partition>" whose topic is
    one of `topics` (or matches the regex `topic_rx`), as {(topic,
    partition): next source offset} in `progress`."""

    def __init__(self, cluster, progress_topic, topics=None, topic_rx=None):
        self.cons = consumer(cluster)
        self.ptopic = progress_topic
        self.match = re.compile(topic_rx).fullmatch if topic_rx is not None \
            else set(topics).__contains__
        self.assigned = False
        self.by_tp = {}
        self.first_at = None
        self.records = 0

    @property
    def progress(self):
        return self.by_tp

    def poll(self, now=None, budget=0.5, wait=0.02):
        """Read what is there, for at most `budget` seconds."""
        from confluent_kafka import TopicPartition, OFFSET_BEGINNING, KafkaError
        now = time.monotonic() if now is None else now
        if not self.assigned:
            if not topic_exists(self.cons, self.ptopic):
                return
            self.cons.assign([TopicPartition(self.ptopic, 0, OFFSET_BEGINNING)])
            self.assigned = True
        end = time.monotonic() + budget
        while time.monotonic() < end:
            msgs = self.cons.consume(num_messages=10000, timeout=wait)
            if not msgs:
                return
            for m in msgs:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        log("progress consumer: %s", m.error())
                    continue
                k = (m.key() or b"").decode(errors="replace")
                t, _, p = k.rpartition("/")
                if not t or not self.match(t) or m.value() is None:
                    continue
                try:
                    p, v = int(p), int(m.value())
                except ValueError:
                    log("progress: unexpected record %r=%r", k, m.value())
                    continue
                self.records += 1
                if self.first_at is None:
                    self.first_at = now
                self.by_tp[(t, p)] = max(v, self.by_tp.get((t, p), -1))

    def close(self):
        with contextlib.suppress(Exception):
            self.cons.close()


class ProgressReader(TopicsProgressReader):
    """TopicsProgressReader of one topic, keyed by partition."""

    def __init__(self, cluster, progress_topic, topic):
        super().__init__(cluster, progress_topic, topics=[topic])

    @property
    def progress(self):
        return {p: v for (_, p), v in self.by_tp.items()}


# ---------------------------------------------------------------- kmirrord


def cluster_entry(alias, cluster, producer=None, consumer_=None):
    def block(name, props):
        if not props:
            return ""
        body = "".join('      %s = "%s";\n' % (k.replace(".", "_"), v) for k, v in props.items())
        return "    %s = {\n%s    };\n" % (name, body)
    return ('  { alias = "%s"; bootstrap_servers = "%s";\n'
            '    kafka = { security_protocol = "PLAINTEXT"; };\n%s%s  }'
            % (alias, cluster.bootstrap("PLAINTEXT"), block("producer", producer),
               block("consumer", consumer_)))


def config_text(run_dir, clusters, flow, log_level):
    return """# written by contrib/bench/replicate.py
global = {
  pidfile = "%(d)s/kmirrord.pid";
  control_socket = "%(d)s/kmirrord.sock";
  log = { target = "stderr"; level = "%(level)s"; };
  status_interval_ms = %(status_ms)d;
  hang_timeout_ms = 30000;
  drain_timeout_ms = 15000;
  restart = { initial_delay_ms = 500; max_delay_ms = 5000; stable_after_ms = 30000;
              max_failures = 5; failure_window_ms = 600000; };
};
clusters = (
%(clusters)s
);
flows = (
  { %(flow)s }
);
""" % {"d": run_dir, "level": log_level, "status_ms": STATUS_INTERVAL_MS, "clusters": ",\n".join(clusters), "flow": flow}


def delete_topics(cluster, topics, timeout=30):
    """Delete the topics that exist; report failures, never raise."""
    try:
        admin = cluster.admin()
        have = set(admin.list_topics(timeout=10).topics)   # also connects
        todo = [t for t in topics if t in have]
        if not todo:
            return
        futs = admin.delete_topics(todo, operation_timeout=timeout, request_timeout=timeout)
        for t, f in futs.items():
            try:
                f.result(timeout + 5)
            except Exception as e:
                log("cannot delete topic %s on %s: %s", t, cluster.name, e)
    except Exception as e:
        log("cannot delete topics on %s: %s", cluster.name, e)


def wait_group_empty(cluster, group, timeout, tasks):
    """Wait until consumer group `group` has no member that a new run's
    workers will not replace: static members "<instance>.<flow>.<index>"
    with index < tasks are taken over at once by the new worker of the
    same index. Give up quietly after `timeout` seconds."""
    admin = cluster.admin()
    t0 = time.monotonic()
    said = False
    fails = 0
    with contextlib.suppress(Exception):
        admin.list_topics(timeout=5)      # connect first
    while time.monotonic() - t0 < timeout:
        try:
            d = admin.describe_consumer_groups([group], request_timeout=10)[group].result(15)
            n = 0
            for m in d.members:
                gid = getattr(m, "group_instance_id", None) or ""
                idx = gid.rsplit(".", 1)[-1]
                if not (idx.isdigit() and int(idx) < tasks):
                    n += 1
        except Exception as e:
            fails += 1
            if fails >= 5:
                log("cannot describe group %s (%s); going on", group, e)
                return
            time.sleep(0.5)
            continue
        if n == 0:
            if said:
                log("group %s empty after %.1fs", group, time.monotonic() - t0)
            return
        if not said:
            log("group %s still has %d member(s) from an earlier run: waiting for their "
                "session to time out", group, n)
            said = True
        time.sleep(0.5)
    log("group %s: members left after %ss; going on", group, timeout)


def ctl_status(ctl, sock):
    """kmirrorctl --json status as a dict, or None."""
    if not os.access(ctl, os.X_OK):
        return None
    try:
        r = subprocess.run([ctl, "-s", sock, "--json", "status"], capture_output=True,
                           text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return None


def cluster_options(ap, workdir, base_port, heap):
    """The "clusters" option group of the bench scripts (the source cluster
    on base_port, the target on base_port + 100); returns the group."""
    g = ap.add_argument_group("clusters")
    g.add_argument("--workdir", default=workdir)
    g.add_argument("--source-port", type=int, default=base_port)
    g.add_argument("--target-port", type=int, default=base_port + 100)
    g.add_argument("--kafka-version", default=kmtestbed.DEFAULT_VERSION)
    g.add_argument("--broker-heap", default=heap, help="broker JVM -Xmx (and -Xms)")
    g.add_argument("--keep", action="store_true", help="leave the clusters running")
    g.add_argument("--reuse", action="store_true", help="reuse clusters left by --keep")
    return g


def check_cluster_options(ap, a):
    """Refuse ports the test bed cannot use and a missing kmirrord."""
    for port in (a.source_port, a.target_port):
        if not 1024 <= port <= 32767 - 3:
            ap.error("ports must lie in 1024..32764 (below the ephemeral range)")
    if abs(a.source_port - a.target_port) < 4:
        ap.error("source and target base ports need 4 ports each")
    if not os.access(a.kmirrord, os.X_OK):
        ap.error("no kmirrord at %s (make, or --kmirrord)" % a.kmirrord)


def parse_kv(items, what):
    out = {}
    for it in items or []:
        if "=" not in it:
            raise SystemExit("%s: expected KEY=VALUE, got %r" % (what, it))
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def libconfig_value(v):
    """Numbers, true/false and [lists] as written; anything else quoted."""
    if v in ("true", "false") or v.startswith("[") or v.startswith('"'):
        return v
    try:
        int(v)
        return v
    except ValueError:
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


def kill_tree(sup, pids, timeout=20):
    """SIGTERM the supervisor (it drains its workers), wait, then SIGKILL
    whatever of `pids` is left (workers run in their own process groups)."""
    if sup.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            sup.send_signal(signal.SIGTERM)
        try:
            sup.wait(timeout)
        except subprocess.TimeoutExpired:
            log("kmirrord did not stop in %ss: SIGKILL", timeout)
            sup.kill()
            sup.wait(10)
    for p in pids:
        s = proc_stat(p)
        if s is not None and s[2] != "Z" and any("kmirrord" in a for a in proc_cmdline(p)[:1]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)


def open_clusters(clusters, started, workdir, specs, kafka_version, heap, reuse, keep,
                  extra_config=None, start_timeout=120):
    """Start (or, with `reuse`, take over those left running by --keep) the
    kmtestbed clusters `specs` = ((name, base_port), ...), in parallel, with
    the broker properties `extra_config`. Appends every Cluster to
    `clusters` and those it started to `started` (lists given by the
    caller, so a failure half-way leaves them to stop)."""
    for name, port in specs:
        c = None
        if reuse:
            with contextlib.suppress(FileNotFoundError):
                c = kmtestbed.Cluster.from_state(name, workdir)
            if c is not None and (c.base_port != port or not c.running()):
                log("cluster %s: state found but %s; starting a new one", name,
                    "port differs" if c.base_port != port else "not running")
                if c.base_port == port:
                    with contextlib.suppress(Exception):
                        c.stop()
                c = None
            elif c is not None:
                log("reusing cluster %s (pid %d, %s)", name, c.pid, c.bootstrap())
        if c is None:
            c = kmtestbed.Cluster(name, port, version=kafka_version, workdir=workdir,
                                  heap=heap, extra_config=extra_config)
            started.append(c)
        clusters.append(c)
    if started:
        log("starting %s (%s) ...", ", ".join(c.name for c in started), " ".join(heap))
        took = kmtestbed.start_parallel(started, timeout=start_timeout, detach=keep)
        log("clusters up in %.1fs", took)
    return clusters


def stop_clusters(clusters, started, keep, workdir):
    """Stop the clusters (those running or started), or with `keep` say how."""
    if not keep:
        for c in clusters:
            if c.running() or c in started:
                try:
                    c.stop()
                except Exception as e:
                    log("stopping %s: %s", c.name, e)
    else:
        for c in clusters:
            log("left running: %s %s (pid %s); stop with: %s stop --name %s --dir %s",
                c.name, c.bootstrap(), c.pid,
                os.path.join(REPO, "contrib", "testbed", "kmtestbed.py"), c.name, workdir)


# ---------------------------------------------------------------- main


def fmt_mb(kb):
    return "%.1f MB" % (kb / 1024.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = ap.add_argument_group("data")
    g.add_argument("--records", type=int, default=1000000)
    g.add_argument("--size", type=int, default=100, help="bytes per record value (no key)")
    g.add_argument("--partitions", type=int, default=8)
    g.add_argument("--compression", choices=("none", "lz4", "zstd", "snappy", "gzip"),
                   default="none", help="of the pre-load producer and (unless "
                   "--target-compression) of kmirrord's target producer")
    g.add_argument("--target-compression", default=None,
                   help="compression.type of kmirrord's producer (default: --compression)")
    g.add_argument("--payload", choices=("random", "text"), default="random",
                   help="random: incompressible; text: compressible log-like words")
    g.add_argument("--topic", default=None, help="default bench-<size>b-<time>")
    g.add_argument("--seed", type=int, default=1)
    g = ap.add_argument_group("kmirrord")
    g.add_argument("--kmirrord", default=os.path.join(REPO, "build", "kmirrord"))
    g.add_argument("--tasks", type=int, default=1)
    g.add_argument("--source-alias", default="src")
    g.add_argument("--target-alias", default="dst")
    g.add_argument("--flow-set", action="append", metavar="KEY=VALUE",
                   help="extra flow setting, e.g. commit_interval_ms=500 (repeatable)")
    g.add_argument("--producer-set", action="append", metavar="KEY=VALUE",
                   help="librdkafka property of kmirrord's target producer, e.g. linger.ms=20")
    g.add_argument("--consumer-set", action="append", metavar="KEY=VALUE",
                   help="librdkafka property of kmirrord's source consumer")
    g.add_argument("--no-heartbeats", action="store_true", help="emit_heartbeats_enabled = false")
    g.add_argument("--no-checkpoints", action="store_true", help="emit_checkpoints_enabled = false")
    g.add_argument("--log-level", default="info")
    g.add_argument("--timeout", type=float, default=900, help="catch-up limit, seconds")
    g.add_argument("--stall-timeout", type=float, default=120,
                   help="give up after this many seconds without progress")
    g.add_argument("--sample-ms", type=int, default=100, help="CPU/RSS sampling period")
    g.add_argument("--poll-ms", type=int, default=150, help="progress/watermark polling period")
    g = cluster_options(ap, "/tmp/kmirror-bench", 25092, "1g")
    g.add_argument("--keep-topics", action="store_true",
                   help="with --keep/--reuse: do not delete the bench topics at the end")
    g = ap.add_argument_group("output")
    g.add_argument("--json", metavar="FILE", help="append the JSON result line to FILE")
    g.add_argument("--label", default="", help="free text stored with the result, "
                   "e.g. the commit the binary was built from")
    g.add_argument("--verify-consume", action="store_true",
                   help="also count the target records by reading them (exact, slower)")
    a = ap.parse_args(argv)

    check_cluster_options(ap, a)
    if a.records <= 0 or a.partitions <= 0 or a.size < 0:
        ap.error("--records, --partitions must be > 0, --size >= 0")

    stop_requested = []

    def on_signal(signum, frame):
        stop_requested.append(signum)
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    import logging
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.makedirs(a.workdir, exist_ok=True)
    topic = a.topic or "bench-%db-%s" % (a.size, time.strftime("%H%M%S"))
    remote = "%s.%s" % (a.source_alias, topic)
    ptopic = "kmirror-progress.%s.internal" % a.source_alias
    run_dir = os.path.join(a.workdir, "run-%s-%d" % (time.strftime("%Y%m%d-%H%M%S"), os.getpid()))
    os.makedirs(run_dir)
    heap = ["-Xmx%s" % a.broker_heap, "-Xms%s" % a.broker_heap]
    load0 = os.getloadavg()

    clusters, started = [], []
    sup = None
    sup_pids = set()
    progress = None
    created = False
    rc = 1
    result = {}
    try:
        # ---------------------------------------------------- clusters
        open_clusters(clusters, started, a.workdir,
                      (("bench-src", a.source_port), ("bench-dst", a.target_port)),
                      a.kafka_version, heap, a.reuse, a.keep)
        src, dst = clusters

        # ---------------------------------------------------- pre-load
        src.create_topic(topic, a.partitions)
        created = True
        log("pre-loading %d records of %d B (%s, %s) into %s/%d partitions ...", a.records,
            a.size, a.payload, a.compression, topic, a.partitions)
        load = preload(src, topic, a.records, a.size, a.partitions, a.compression,
                       a.payload, a.seed)
        log("pre-load: %d records in %.2fs: %d records/s, %.1f MB/s", a.records,
            load["seconds"], load["records_per_s"], load["mb_per_s"])
        scons = consumer(src)
        swm = watermarks(scons, topic, a.partitions)
        scons.close()
        src_end = {p: hi for p, (lo, hi) in swm.items()}
        src_count = {p: hi - lo for p, (lo, hi) in swm.items()}
        if sum(src_count.values()) != a.records or len(swm) != a.partitions:
            raise RuntimeError("source holds %d records over %d partitions, expected %d"
                               % (sum(src_count.values()), len(swm), a.records))

        # ---------------------------------------------------- config
        tcomp = a.target_compression or a.compression
        prod_props = {"compression.type": tcomp} if tcomp != "none" else {}
        prod_props.update(parse_kv(a.producer_set, "--producer-set"))
        cons_props = parse_kv(a.consumer_set, "--consumer-set")
        flow_settings = {"tasks": str(a.tasks), "topics": '[ "%s" ]' % topic}
        if a.no_heartbeats:
            flow_settings["emit_heartbeats_enabled"] = "false"
        if a.no_checkpoints:
            flow_settings["emit_checkpoints_enabled"] = "false"
        flow_settings.update(parse_kv(a.flow_set, "--flow-set"))
        flow = 'source = "%s"; target = "%s"; ' % (a.source_alias, a.target_alias) + \
            " ".join("%s = %s;" % (k, libconfig_value(v)) for k, v in flow_settings.items())
        conf_text = config_text(run_dir, [cluster_entry(a.source_alias, src, consumer_=cons_props),
                                          cluster_entry(a.target_alias, dst, producer=prod_props)],
                                flow, a.log_level)
        conf_path = os.path.join(run_dir, "kmirrord.conf")
        with open(conf_path, "w") as f:
            f.write(conf_text)
        chk = subprocess.run([a.kmirrord, "-n", "-c", conf_path], capture_output=True, text=True)
        if chk.returncode != 0:
            raise RuntimeError("kmirrord -n rejects the config:\n%s%s" % (chk.stdout, chk.stderr))

        # ---------------------------------------------------- catch-up
        # Workers of an earlier run (--reuse) stay static members of the
        # shard group until their session times out; a new worker would
        # wait for that rebalance. Do the waiting before the clock starts.
        wait_group_empty(dst, "kmirror.%s.%s" % (a.source_alias, a.target_alias), 60, a.tasks)
        tcons = consumer(dst)
        progress = ProgressReader(dst, ptopic, topic)
        log_path = os.path.join(run_dir, "kmirrord.log")
        logf = open(log_path, "ab")
        load_before = os.getloadavg()
        log("starting kmirrord (tasks=%d), log %s", a.tasks, log_path)
        t0 = time.monotonic()
        sup = subprocess.Popen([a.kmirrord, "-d", "-c", conf_path], stdout=logf,
                               stderr=subprocess.STDOUT)
        logf.close()
        sup_pids.add(sup.pid)
        sampler = Sampler(sup.pid, {"source_broker": src.pid, "target_broker": dst.pid},
                          a.sample_ms / 1000.0)
        sampler.sample()
        sampler.start()
        first_hw_at = None
        done_at = None
        cpu_at_first = None
        tgt_wm = {}
        last_report = t0
        timeline = []
        next_poll = t0
        ctl = os.path.join(os.path.dirname(a.kmirrord), "kmirrorctl")
        sock = os.path.join(run_dir, "kmirrord.sock")
        next_health = t0 + 2.0
        last_copied, last_change = -1, t0
        abort_reason = None
        while True:
            now = time.monotonic()
            if now - t0 > a.timeout:
                abort_reason = "timeout after %.0fs" % a.timeout
                break
            if sup.poll() is not None:
                abort_reason = "kmirrord exited with %s" % sup.returncode
                break
            if now >= next_health:
                # a source worker that failed for good ends the run early
                next_health = now + 2.0
                st = ctl_status(ctl, sock)
                bad = [w for f in (st or {}).get("flows", []) for w in f.get("workers", [])
                       if w.get("role") == "source" and w.get("state") in ("failed", "fatal")]
                if bad:
                    abort_reason = "source worker %s is %s: %s" % (
                        bad[0].get("index"), bad[0].get("state"),
                        bad[0].get("last_error") or bad[0].get("last_exit"))
                    break
            if now - last_change > a.stall_timeout:
                abort_reason = "no progress for %.0fs" % a.stall_timeout
                break
            progress.poll(now)
            if first_hw_at is None or now - last_report >= 1.0 or \
                    len(progress.progress) == a.partitions:
                if first_hw_at is not None or topic_exists(tcons, remote):
                    tgt_wm = watermarks(tcons, remote, a.partitions, timeout=2)
            hw_sum = sum(hi for lo, hi in tgt_wm.values())
            if first_hw_at is None and hw_sum > 0:
                first_hw_at = now
                cpu_at_first = sampler.snapshot()
            copied = sum(min(progress.progress.get(p, 0), src_end[p]) for p in src_end)
            if copied != last_copied:
                last_copied, last_change = copied, now
            if all(progress.progress.get(p, -1) >= src_end[p] for p in src_end):
                done_at = now
                break
            if now - last_report >= 1.0:
                last_report = now
                snap = sampler.snapshot()
                timeline.append((round(now - t0, 2), copied, hw_sum,
                                 round(snap["kinds"].get("source", 0.0), 2),
                                 round(snap["brokers"].get("target_broker", 0.0), 2)))
                log("t=%5.1fs progress %d/%d (%.0f%%), target stable offsets %d", now - t0,
                    copied, a.records, 100.0 * copied / a.records, hw_sum)
            next_poll += a.poll_ms / 1000.0
            time.sleep(max(0.0, next_poll - time.monotonic()))
        cpu_done = sampler.snapshot()
        sampler.sample()
        load_after = os.getloadavg()
        if abort_reason:
            log("catch-up stopped: %s; kmirrord log %s", abort_reason, log_path)

        # status of the workers before stopping (STATUS is sent every
        # status_interval_ms: wait one period so the counters are final)
        time.sleep(STATUS_INTERVAL_MS / 1000.0 + 0.3)
        status = ctl_status(ctl, sock) if sup.poll() is None else None
        if status is not None:
            with open(os.path.join(run_dir, "status.json"), "w") as f:
                json.dump(status, f, indent=1)
        sampler.stop()
        tree = {p["pid"] for p in sampler.process_table()}
        sup_pids |= tree
        kill_tree(sup, tree)
        sup = None

        # ---------------------------------------------------- verification
        tgt_wm = watermarks(tcons, remote, a.partitions, timeout=10)
        tcons.close()
        progress.poll(time.monotonic())
        problems = []
        for p in range(a.partitions):
            prog = progress.progress.get(p)
            if prog != src_end[p]:
                problems.append("partition %d: progress %s, source end offset %d" % (p, prog, src_end[p]))
            hi = tgt_wm.get(p, (0, 0))[1]
            if hi < src_count[p]:
                problems.append("partition %d: target stable offset %d < %d source records"
                                % (p, hi, src_count[p]))
        consumed = None
        if a.verify_consume and not problems:
            consumed = count_records(dst, remote, a.partitions)
            for p in range(a.partitions):
                if consumed.get(p, 0) != src_count[p]:
                    problems.append("partition %d: %d records read on the target, %d on the source"
                                    % (p, consumed.get(p, 0), src_count[p]))

        # ---------------------------------------------------- figures
        nbytes = a.records * a.size
        per_kind_rss, kind_sum_rss, tree_rss = sampler.rss_peaks()
        kinds = cpu_done["kinds"]
        elapsed = (done_at or time.monotonic()) - t0
        steady = (done_at - first_hw_at) if done_at and first_hw_at else None
        src_cpu = kinds.get("source", 0.0)
        tree_cpu = sum(kinds.values())
        gb = nbytes / 1e9
        hw_total = sum(hi for lo, hi in tgt_wm.values())
        result = {
            "ok": not problems and done_at is not None,
            "problems": problems,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "host": socket.gethostname(), "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load0],
            "loadavg_before_catchup": [round(x, 2) for x in load_before],
            "loadavg_after_catchup": [round(x, 2) for x in load_after],
            "config": {"records": a.records, "size": a.size, "partitions": a.partitions,
                       "compression": a.compression, "target_compression": tcomp,
                       "payload": a.payload, "tasks": a.tasks, "topic": topic,
                       "flow": flow, "producer": prod_props, "consumer": cons_props,
                       "kafka": a.kafka_version, "broker_heap": a.broker_heap,
                       "kmirrord": a.kmirrord, "kmirrord_mtime": binary_mtime(a.kmirrord),
                       "repo_head": git_head(), "label": a.label},
            "preload": load,
            "catchup_s": round(elapsed, 3),
            "first_record_s": round(first_hw_at - t0, 3) if first_hw_at else None,
            "first_progress_s": round(progress.first_at - t0, 3) if progress.first_at else None,
            "steady_s": round(steady, 3) if steady else None,
            "mb_per_s": round(nbytes / elapsed / 1e6, 2) if done_at else None,
            "records_per_s": round(a.records / elapsed) if done_at else None,
            "steady_mb_per_s": round(nbytes / steady / 1e6, 2) if steady else None,
            "steady_records_per_s": round(a.records / steady) if steady else None,
            "cpu_s": {k: round(v, 3) for k, v in sorted(kinds.items())},
            "cpu_s_tree": round(tree_cpu, 3),
            "cpu_s_brokers": {k: round(v, 3) for k, v in cpu_done["brokers"].items()},
            "cpu_s_bench_script": round(cpu_done["bench"], 3),
            "cpu_s_before_first_record": ({k: round(v, 3) for k, v in cpu_at_first["kinds"].items()}
                                          if cpu_at_first else None),
            "source_cpu_s_per_gb": round(src_cpu / gb, 2) if gb else None,
            "tree_cpu_s_per_gb": round(tree_cpu / gb, 2) if gb else None,
            "source_cores": round(src_cpu / elapsed, 3),
            "rss_peak_kb": per_kind_rss,
            "rss_peak_sum_by_kind_kb": kind_sum_rss,
            "rss_peak_tree_kb": tree_rss,
            "target_stable_offsets": hw_total,
            "target_control_records": hw_total - a.records,
            "progress_records_read": progress.records,
            "consumed_records": sum(consumed.values()) if consumed is not None else None,
            "processes": sampler.process_table(),
            "timeline_fields": ["t_s", "progress_records", "target_stable_offsets",
                                "source_cpu_s", "target_broker_cpu_s"],
            "timeline": timeline,
            "run_dir": run_dir,
        }
        result["abort_reason"] = abort_reason
        result["log_errors"], result["log_warnings"] = log_counts(log_path)
        if status is not None:
            ws = [w for f in status.get("flows", []) for w in f.get("workers", [])]
            result["worker_states"] = [(w.get("role"), w.get("index"), w.get("state"),
                                        w.get("restarts")) for w in ws]
            src_st = [w.get("status") or {} for w in ws if w.get("role") == "source"]

            def total(key):
                vals = [int(x[key]) for x in src_st if str(x.get(key, "")).lstrip("-").isdigit()]
                return sum(vals) if vals else None
            result["source_status"] = {k: total(k) for k in (
                "records", "bytes", "txn_commits", "txn_aborts", "txn_commit_ms", "starved", "refetches", "offset_syncs", "offset_gaps",
                "latency_max_ms")}
            if result["source_status"].get("latency_max_ms") is not None:
                result["source_status"]["latency_max_ms"] = max(
                    int(x.get("latency_max_ms", 0) or 0) for x in src_st)
            nc = result["source_status"].get("txn_commits")
            if nc:
                result["records_per_txn"] = round(a.records / nc)
        print_table(result, a)
        line = json.dumps(result, sort_keys=True)
        print(line)
        if a.json:
            with open(a.json, "a") as f:
                f.write(line + "\n")
        rc = 0 if result["ok"] else 1
        if problems:
            for pr in problems[:20]:
                log("VERIFY FAILED: %s", pr)
        if done_at is None:
            log("catch-up did not complete; kmirrord log: %s", log_path)
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    except Exception as e:
        log("error: %s", e)
        rc = 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if progress is not None:
            progress.close()
        if sup is not None:
            with contextlib.suppress(Exception):
                kill_tree(sup, sup_pids | children_of([sup.pid]))
        # clean the topics up when the clusters stay
        if created and (a.keep or a.reuse) and not a.keep_topics:
            for c, t in ((clusters[0], topic), (clusters[1], remote)):
                delete_topics(c, [t])
        stop_clusters(clusters, started, a.keep, a.workdir)
    return rc


def count_records(cluster, topic, partitions, timeout=600):
    """Read every committed record of `topic` and count them per partition."""
    from confluent_kafka import TopicPartition, OFFSET_BEGINNING, KafkaError
    cons = consumer(cluster, **{"enable.partition.eof": True, "fetch.max.bytes": 52428800})
    wm = watermarks(cons, topic, partitions, timeout=10)
    pending = {p for p, (lo, hi) in wm.items() if hi > lo}
    counts = {p: 0 for p in range(partitions)}
    cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for m in cons.consume(num_messages=10000, timeout=0.5):
            e = m.error()
            if e is not None:
                if e.code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                continue
            counts[m.partition()] += 1
    cons.close()
    return counts


def log_counts(path):
    """(error lines, warning lines) of the kmirrord log."""
    e = w = 0
    with contextlib.suppress(OSError), open(path, errors="replace") as f:
        for line in f:
            if " error: " in line or " crit: " in line:
                e += 1
            elif " warn: " in line or " warning: " in line:
                w += 1
    return e, w


def binary_mtime(path):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.stat(path).st_mtime))
    except OSError:
        return None


def git_head():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        return None


def print_table(r, a):
    c = r["config"]
    rows = [
        ("config", "%d x %d B over %d partitions, payload %s, compression %s/%s, tasks=%d"
         % (c["records"], c["size"], c["partitions"], c["payload"], c["compression"],
            c["target_compression"], c["tasks"])),
        ("flow", c["flow"]),
        ("kmirrord", "%s (built %s; repo HEAD %s%s)" % (
            c["kmirrord"], c["kmirrord_mtime"], c["repo_head"],
            "; " + c["label"] if c["label"] else "")),
        ("load average", "start %s / before catch-up %s / after %s (%d CPUs)"
         % (r["loadavg_start"], r["loadavg_before_catchup"], r["loadavg_after_catchup"],
            r["cpus"])),
        ("pre-load", "%.2f s: %d records/s, %.1f MB/s" % (r["preload"]["seconds"],
                                                         r["preload"]["records_per_s"],
                                                         r["preload"]["mb_per_s"])),
        ("catch-up", "%.2f s (from kmirrord start to the last progress)" % r["catchup_s"]),
        ("throughput", "%s MB/s, %s records/s" % (r["mb_per_s"], r["records_per_s"])),
        ("first record", "%s s after start (first stable record on the target; progress %s s)"
         % (r["first_record_s"], r["first_progress_s"])),
        ("steady", "%s MB/s, %s records/s (from first record to the end, %s s)"
         % (r["steady_mb_per_s"], r["steady_records_per_s"], r["steady_s"])),
        ("CPU s", ", ".join("%s %.2f" % kv for kv in r["cpu_s"].items()) +
         "; tree %.2f; brokers %s; this script %.2f" % (
             r["cpu_s_tree"], ", ".join("%s %.2f" % kv for kv in r["cpu_s_brokers"].items()),
             r["cpu_s_bench_script"])),
        ("CPU s/GB", "source workers %s, whole tree %s (source workers averaged %.2f cores)"
         % (r["source_cpu_s_per_gb"], r["tree_cpu_s_per_gb"], r["source_cores"])),
        ("peak RSS", "; ".join("%s %s" % (k, fmt_mb(v)) for k, v in sorted(r["rss_peak_kb"].items()))
         + "; whole tree %s" % fmt_mb(r["rss_peak_tree_kb"])),
        ("transactions", "%s commits, %s aborts, %s records per transaction; max latency %s ms"
         % ((r.get("source_status") or {}).get("txn_commits"),
            (r.get("source_status") or {}).get("txn_aborts"), r.get("records_per_txn"),
            (r.get("source_status") or {}).get("latency_max_ms"))),
        ("target", "stable offsets %d = %d records + %d offsets of transaction markers "
         "and aborted records" % (r["target_stable_offsets"], c["records"],
                                  r["target_control_records"])),
        ("log", "%d error lines, %d warnings in %s" % (
            r["log_errors"], r["log_warnings"], os.path.join(r["run_dir"], "kmirrord.log"))),
        ("verify", "OK" if r["ok"] else "FAILED: " + "; ".join(
            r["problems"][:3] or [r.get("abort_reason") or "incomplete"])),
    ]
    w = max(len(k) for k, _ in rows)
    print("=" * 78)
    for k, v in rows:
        print("%-*s  %s" % (w, k, v))
    print("=" * 78)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
