#!/usr/bin/env python3
"""compare.py: kmirrord against Apache MirrorMaker 2, side by side.

On two local test-bed clusters (kmtestbed), for each catch-up workload
(record size x partitions x topics x compression x N records), runs in turn
on identical pre-loaded data:

  mm2        Apache MM2 4.3.1, dedicated mode, on mm2.properties (MM2's defaults)
  mm2-tuned  the same file plus the throughput settings MM2's documentation
             recommends: tasks.max matched to the partitions and cores,
             producer linger.ms / batch.size, consumer fetch sizes,
             compression as on the source, a larger heap
  kmirrord   `kmirrord -d -m` on the very same mm2.properties as `mm2`
  kmirrord-tuned  `kmirrord -d -m` on the very same file as `mm2-tuned`
  producer   the ceiling: a plain librdkafka producer (confluent_kafka, the
             pre-load producer of replicate.py) writing the same data to the
             target alone

and measures for each: catch-up MB/s and records/s (start of the process to
the last record on the target), the same from the first record on (steady),
time to the first record on the target, CPU seconds of the whole process tree
per GB, peak RSS of the tree.

Then, for each latency workload (SIZExPARTITIONS@RATE), runs mm2, mm2-tuned,
kmirrord and kmirrord-tuned on an empty source topic, produces at a fixed
rate from a separate process (after a warm-up) and measures the end-to-end
latency (the producer's send time, written in the value, to the moment a
read_committed consumer of the remote topic on the target receives it):
p50, p99, max; every record must arrive.

Writes docs/benchmarks.md (a targets summary, the catch-up and latency
tables, the machine, load averages, versions, command), docs/benchmarks.png
(catch-up chart) and docs/benchmarks-latency.png (latency chart).

Workloads: SIZExPARTITIONS[tTOPICS][+lz4]:RECORDS, e.g. 1024x32:1000000,
1024x1t500:300000 (500 topics of 1 partition, 300,000 records in all),
1024x32+lz4:1000000 (compressible text values, source and tuned target lz4).

Every run copies its own source topics (pre-loaded with the same seed: the
same bytes in the same order), so no run sees another's data or committed
offsets. Completion: for MM2 and the producer, the remote topics' high
watermarks add up to N; for kmirrord (transactional: markers take offsets),
its progress topic reaches the source end offset of every partition of every
topic, as in replicate.py. See contrib/bench/README.md.

    python3 contrib/bench/compare.py            # everything, ~25-35 min on 2 CPUs
    python3 contrib/bench/compare.py --quick    # smoke run, small N, ~10-18 min
    python3 contrib/bench/compare.py --render-json runs.json   # tables again, no runs
    python3 contrib/bench/compare.py --workloads 1024x8:300000 --tools mm2,kmirrord --latency ''
"""

import argparse
import contextlib
import json
import os
import platform
import re
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "contrib", "mm2"))

import replicate  # noqa: E402  (also puts contrib/testbed on sys.path)
import kmtestbed  # noqa: E402
import mm2run  # noqa: E402
from replicate import (Sampler, TopicsProgressReader, consumer, create_topics,  # noqa: E402
                       delete_topics, end_offsets, kill_tree, log, preload_topics,
                       wait_group_empty)

TOOLS = ("mm2", "mm2-tuned", "kmirrord", "kmirrord-tuned", "producer")
LATENCY_TOOLS = ("mm2", "mm2-tuned", "kmirrord", "kmirrord-tuned", "producer")
LABELS = {"mm2": "MM2 defaults", "mm2-tuned": "MM2 tuned", "kmirrord": "kmirrord -m",
          "kmirrord-tuned": "kmirrord -m, MM2-tuned file", "producer": "producer alone (ceiling)"}
LAT_LABELS = dict(LABELS, producer="producer to the target directly (floor)")
SRC, DST = "src", "dst"
DEFAULT_WORKLOADS = ("1024x1:500000,1024x32:1000000,100x1:2000000,100x32:3000000,"
                     "1024x1t500:300000,1024x32+lz4:1000000")
DEFAULT_LATENCY = "1024x8@5000"
QUICK_WORKLOADS = ("1024x1:20000,1024x32:40000,100x1:100000,100x32:100000,"
                   "1024x1t500:20000,1024x32+lz4:40000")
QUICK_LATENCY = "1024x8@2000"
# the targets for kmirrord (its better run) against the better MM2 run
TARGET_X = 3.0            # catch-up throughput >= 3x
TARGET_CEIL = 0.8         # >= 80% of the producer-alone ceiling (1 KB records)
TARGET_CPU = 10.0         # CPU s/GB <= 1/10 of MM2's
TARGET_RSS = 10.0         # peak RSS <= 1/10 of MM2's
TARGET_P99 = 3.0          # latency p99 <= 1/3 of MM2's
TARGET_FIRST_S = 2.0      # first record on the target <= 2 s after start
LAT_HEADER = struct.Struct(">cxxxqq")    # phase b"w"/b"m", sequence, send time (ns)


# ---------------------------------------------------------------- mm2.properties


def mm2_properties(src, dst, topics_regex, run_dir):
    """The operator's file: one flow src->dst for `topics_regex` (MM2's
    `topics`: comma-separated regular expressions, each matching a whole
    topic name; kmirrord -m reads it the same way), MM2's defaults
    otherwise (test-bed replication factors 1), plus kmirrord's own keys
    (MM2 ignores kmirrord.* with a warning)."""
    return """# written by contrib/bench/compare.py
clusters = {S}, {T}
{S}.bootstrap.servers = {A}
{T}.bootstrap.servers = {B}
{S}->{T}.enabled = true
{S}->{T}.topics = {topic}

{rf}
# --- kmirrord's own settings (MM2 ignores them)
kmirrord.pidfile = {d}/kmirrord.pid
kmirrord.control_socket = {d}/kmirrord.sock
kmirrord.status_interval_ms = 500
""".format(S=SRC, T=DST, A=src.bootstrap(), B=dst.bootstrap(), topic=topics_regex, d=run_dir,
           rf=kmtestbed.MM2_RF_PROPERTIES)


def tuned_tasks(a, total_partitions):
    """tasks.max of the tuned file: the partitions to copy, at most
    --tuned-tasks (default 4 per CPU: enough tasks to keep every core busy
    while others wait on fetches and acks; more only add consumers,
    producers and buffer memory on the same cores)."""
    cap = a.tuned_tasks or 4 * (os.cpu_count() or 1)
    return max(1, min(total_partitions, cap))


def mm2_tuning(tasks, compression):
    """MM2's throughput settings (Kafka docs, geo-replication: tasks.max up
    to the partitions; producer batching; consumer fetch sizes; compression
    as on the source)."""
    return """
# --- MM2 tuned for throughput
tasks.max = {P}
{S}.consumer.fetch.max.bytes = 52428800
{S}.consumer.max.partition.fetch.bytes = 10485760
{S}.consumer.max.poll.records = 10000
{S}.consumer.receive.buffer.bytes = 1048576
{T}.producer.linger.ms = 50
{T}.producer.batch.size = 524288
{T}.producer.buffer.memory = 134217728
{T}.producer.max.request.size = 10485760
{T}.producer.send.buffer.bytes = 1048576
{T}.producer.compression.type = {C}
""".format(P=tasks, S=SRC, T=DST, C=compression)


def topic_set(w, tool, kind="cmp"):
    """(source topic names, the `topics` regex) of one run."""
    base = "%s-%db-%dp-%dt%s-%s-%s" % (kind, w["size"], w["partitions"], w["topics"],
                                       "-lz4" if w["lz4"] else "", tool.replace("-", ""),
                                       time.strftime("%H%M%S"))
    if w["topics"] == 1:
        return [base], base
    return ["%s-t%d" % (base, i) for i in range(w["topics"])], base + "-t[0-9]+"


def safe_end_offsets(admin, topics, partitions, committed):
    try:
        return end_offsets(admin, topics, partitions, committed=committed, timeout=5)
    except Exception:
        return {}


# ---------------------------------------------------------------- one run


class Run:
    """Start a replicator (or the producer), sample its process tree, and
    wait for N records of the remote topics on the target."""

    def __init__(self, a, tool, src, dst, w, topics, regex, run_dir):
        self.a, self.tool, self.src, self.dst, self.w = a, tool, src, dst, w
        self.topics, self.regex, self.run_dir = topics, regex, run_dir
        self.remotes = ["%s.%s" % (SRC, t) for t in topics] if tool != "producer" else topics
        self.proc = None
        self.mm2 = None
        self.progress = None
        self.sampler = None
        self.tasks = None

    def start(self):
        a, w = self.a, self.w
        props = os.path.join(self.run_dir, "mm2.properties")
        if self.tool != "producer":
            text = mm2_properties(self.src, self.dst, self.regex, self.run_dir)
            self.tasks = 1
            if self.tool.endswith("-tuned"):
                self.tasks = tuned_tasks(a, w["partitions"] * w["topics"])
                text += mm2_tuning(self.tasks, w["compression"])
            with open(props, "w") as f:
                f.write(text)
        if self.tool.startswith("kmirrord"):
            chk = subprocess.run([a.kmirrord, "-n", "-m", props], capture_output=True, text=True)
            if chk.returncode != 0:
                raise RuntimeError("kmirrord -n rejects %s:\n%s%s" % (props, chk.stdout, chk.stderr))
            wait_group_empty(self.dst, "kmirror.%s.%s" % (SRC, DST), 60, self.tasks)
            self.progress = TopicsProgressReader(self.dst, "kmirror-progress.%s.internal" % SRC,
                                                 self.topics)
        if self.tool.startswith("mm2"):
            mm2run.fetch(a.mm2_version)
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        if self.tool.startswith("mm2"):
            self.mm2 = mm2run.MM2(props, self.run_dir, version=a.mm2_version,
                                  heap=a.mm2_tuned_heap if self.tool == "mm2-tuned" else a.mm2_heap)
            self.mm2.start()
            self.pid = self.mm2.pid
        elif self.tool.startswith("kmirrord"):
            logf = open(os.path.join(self.run_dir, "kmirrord.log"), "ab")
            self.proc = subprocess.Popen([a.kmirrord, "-d", "-m", props], stdout=logf,
                                         stderr=subprocess.STDOUT)
            logf.close()
            self.pid = self.proc.pid
        else:
            logf = open(os.path.join(self.run_dir, "producer.log"), "ab")
            job = {"workdir": a.workdir, "cluster": self.dst.name, "topics": self.topics,
                   "records": w["records"], "size": w["size"], "partitions": w["partitions"],
                   "compression": w["compression"], "payload": w["payload"], "seed": a.seed}
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--_produce", json.dumps(job)],
                stdout=logf, stderr=subprocess.STDOUT)
            logf.close()
            self.pid = self.proc.pid
        self.sampler = Sampler(self.pid, {"source_broker": self.src.pid,
                                          "target_broker": self.dst.pid}, a.sample_ms / 1000.0)
        self.sampler.sample()
        self.sampler.start()

    def alive(self):
        if self.mm2 is not None:
            return self.mm2.running()
        return self.proc.poll() is None or (self.tool == "producer" and self.proc.returncode == 0)

    def dead_reason(self):
        return "%s exited (%s)" % (self.tool, self.proc.returncode if self.proc
                                   else "see mm2.log")

    def wait(self, src_end):
        """Until complete, failed or timed out; returns the figures."""
        a, w = self.a, self.w
        n = w["records"]
        admin = self.dst.admin()
        poll_s = a.poll_ms / 1000.0 if len(self.remotes) == 1 else max(a.poll_ms / 1000.0, 0.5)
        first_at = done_at = None
        abort = None
        timeline = []
        last_report = self.t0
        while True:
            now = time.monotonic()
            if now - self.t0 > a.timeout:
                abort = "timeout after %.0fs" % a.timeout
                break
            if not self.alive():
                abort = self.dead_reason()
                break
            count = 0
            if self.progress is None or first_at is None:
                count = sum(safe_end_offsets(admin, self.remotes, w["partitions"], True).values())
                now = time.monotonic()
                if first_at is None and count > 0:
                    first_at = now
            if self.progress is not None:
                self.progress.poll(now)
                prog = self.progress.progress
                copied = sum(min(prog.get(k, 0), e) for k, e in src_end.items())
                done = all(prog.get(k, -1) >= e for k, e in src_end.items())
            else:
                copied = count
                done = count >= n
            if now - last_report >= 1.0:
                last_report = now
                timeline.append((round(now - self.t0, 2), min(copied, n)))
                log("  %s t=%5.1fs %d/%d (%.0f%%)", self.tool, now - self.t0, copied, n,
                    100.0 * copied / n)
            if done:
                done_at = now
                timeline.append((round(now - self.t0, 2), n))
                break
            time.sleep(max(0.0, poll_s - (time.monotonic() - now)))
        snap = self.sampler.snapshot()
        self.sampler.sample()
        _, _, tree_rss = self.sampler.rss_peaks()
        if self.mm2 is not None:
            tree_rss = max(tree_rss, self.mm2.peak_rss_kb())
        cpu = sum(snap["kinds"].values())
        nbytes = n * w["size"]
        elapsed = (done_at or time.monotonic()) - self.t0
        steady = done_at - first_at if done_at and first_at and done_at > first_at else None
        return {
            "tool": self.tool, "ok": done_at is not None, "abort": abort,
            "tasks": self.tasks,
            "catchup_s": round(elapsed, 3),
            "first_record_s": round(first_at - self.t0, 3) if first_at else None,
            "mb_per_s": round(nbytes / elapsed / 1e6, 2) if done_at else None,
            "records_per_s": round(n / elapsed) if done_at else None,
            "steady_mb_per_s": round(nbytes / steady / 1e6, 2) if steady else None,
            "steady_records_per_s": round(n / steady) if steady else None,
            "cpu_s": round(cpu, 2),
            "cpu_s_per_gb": round(cpu / (nbytes / 1e9), 1) if done_at else None,
            "cores": round(cpu / elapsed, 2),
            "rss_peak_kb": tree_rss,
            "cpu_s_brokers": {k: round(v, 2) for k, v in snap["brokers"].items()},
            "processes": self.sampler.process_table(),
            "timeline": timeline,
            "run_dir": self.run_dir,
        }

    def figures_now(self):
        """CPU s and peak RSS (kB) of the tree so far (latency runs)."""
        snap = self.sampler.snapshot()
        _, _, tree_rss = self.sampler.rss_peaks()
        if self.mm2 is not None:
            tree_rss = max(tree_rss, self.mm2.peak_rss_kb())
        return round(sum(snap["kinds"].values()), 2), tree_rss

    def stop(self):
        if self.sampler is not None:
            with contextlib.suppress(Exception):
                self.sampler.stop()
        if self.progress is not None:
            self.progress.close()
        if self.mm2 is not None:
            with contextlib.suppress(Exception):
                self.mm2.stop(timeout=30)
        elif self.proc is not None:
            if self.tool.startswith("kmirrord"):
                tree = {p["pid"] for p in self.sampler.process_table()} if self.sampler else set()
                kill_tree(self.proc, tree | replicate.children_of([self.proc.pid]))
            else:
                # the producer ends by itself once flushed: let it, for its
                # own CPU and RSS figures (getrusage), which the sampler may
                # miss in its last 100 ms
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(60)
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait(10)


def kmirrord_txn_figures(run_dir, kmirrord):
    """Source workers' transaction counters from kmirrorctl, if it answers."""
    ctl = os.path.join(os.path.dirname(kmirrord), "kmirrorctl")
    st = replicate.ctl_status(ctl, os.path.join(run_dir, "kmirrord.sock"))
    if not st:
        return None
    out = {}
    for f in st.get("flows", []):
        for wk in f.get("workers", []):
            if wk.get("role") == "source":
                for k in ("records", "txn_commits", "txn_aborts", "latency_max_ms"):
                    v = str((wk.get("status") or {}).get(k, ""))
                    if v.lstrip("-").isdigit():
                        out[k] = out.get(k, 0) + int(v)
    return out


def new_run_dir(a, tool, kind="run"):
    d = os.path.join(a.workdir, "%s-%s-%s-%d" % (kind, time.strftime("%Y%m%d-%H%M%S"), tool,
                                                 os.getpid()))
    os.makedirs(d)
    return d


def make_topics(cluster, names, partitions):
    if len(names) == 1:
        cluster.create_topic(names[0], partitions)
    else:
        create_topics(cluster, names, partitions)


def run_one(a, tool, src, dst, w):
    topics, regex = topic_set(w, tool)
    run_dir = new_run_dir(a, tool)
    src_end = {}
    if tool == "producer":
        make_topics(dst, topics, w["partitions"])
        cleanup = [(dst, topics)]
    else:
        make_topics(src, topics, w["partitions"])
        cleanup = [(src, topics), (dst, ["%s.%s" % (SRC, t) for t in topics])]
        log("pre-loading %d x %d B over %d topic(s) x %d partition(s) (%s, %s values) into %s ...",
            w["records"], w["size"], w["topics"], w["partitions"], w["compression"],
            w["payload"], regex)
        ld = preload_topics(src, topics, w["records"], w["size"], w["partitions"],
                            w["compression"], w["payload"], a.seed)
        log("pre-load: %.1fs, %.1f MB/s", ld["seconds"], ld["mb_per_s"])
        src_end = end_offsets(src.admin(), topics, w["partitions"], timeout=30)
        if sum(src_end.values()) != w["records"] or \
                len(src_end) != w["topics"] * w["partitions"]:
            raise RuntimeError("source holds %d records in %d partitions, expected %d in %d"
                               % (sum(src_end.values()), len(src_end), w["records"],
                                  w["topics"] * w["partitions"]))
    time.sleep(a.settle)
    load_before = os.getloadavg()
    r = Run(a, tool, src, dst, w, topics, regex, run_dir)
    log("%s: %s on %s (run dir %s)", w["name"], LABELS[tool], regex, run_dir)
    try:
        r.start()
        res = r.wait(src_end)
        if tool.startswith("kmirrord"):
            time.sleep(0.8)
            res["transactions"] = kmirrord_txn_figures(run_dir, a.kmirrord)
    finally:
        r.stop()
    if tool == "producer":
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(os.path.join(run_dir, "producer.log")) as f:
                own = json.loads([l for l in f if l.startswith("{")][-1])
            nbytes = w["records"] * w["size"]
            res["cpu_s"] = round(max(res["cpu_s"], own["cpu_s"]), 2)
            res["cpu_s_per_gb"] = round(res["cpu_s"] / (nbytes / 1e9), 1) if res["ok"] else None
            res["rss_peak_kb"] = max(res["rss_peak_kb"], own["maxrss_kb"])
    res["loadavg_before"] = [round(x, 2) for x in load_before]
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    res["topics"] = regex
    res["workload"] = w["name"]
    if tool == "mm2" or tool == "mm2-tuned":
        res["mm2_log_errors"] = sum(1 for l in r.mm2.log_text(whole=True).splitlines()
                                    if " ERROR " in l)
    if not a.keep_topics:
        for c, t in cleanup:
            delete_topics(c, t, timeout=60)
    log("%s %s: %s", w["name"], tool, "%.1f s, %s MB/s, %s records/s, first record %s s, "
        "CPU %s s/GB, RSS %.0f MB%s" % (res["catchup_s"], res["mb_per_s"], res["records_per_s"],
                                        res["first_record_s"], res["cpu_s_per_gb"],
                                        res["rss_peak_kb"] / 1024.0,
                                        "" if res["ok"] else " FAILED: %s" % res["abort"]))
    return res


# ---------------------------------------------------------------- latency


class DirectRun:
    """The latency floor: no replicator, the paced producer writes to the
    target itself, the consumer reads that topic (tool "producer")."""

    tasks = None

    def __init__(self):
        self.t0 = time.monotonic()
        self.t0_wall = time.time()

    def start(self):
        pass

    def alive(self):
        return True

    def figures_now(self):
        return None, None

    def stop(self):
        pass


def run_latency(a, tool, src, dst, lw):
    """One latency run: the replicator on an empty topic, a paced producer
    process and a consumer process on the remote topic (see pace_child and
    latency_consumer_child). Tool "producer": the floor, the paced producer
    writing to the target directly."""
    w = {"size": lw["size"], "partitions": lw["partitions"], "topics": 1, "lz4": False,
         "compression": "none", "payload": "random", "records": 0}
    topics, regex = topic_set(w, tool, "lat")
    direct = tool == "producer"
    topic, remote = topics[0], topics[0] if direct else "%s.%s" % (SRC, topics[0])
    run_dir = new_run_dir(a, tool, "lat")
    (dst if direct else src).create_topic(topic, lw["partitions"])
    time.sleep(a.settle)
    load_before = os.getloadavg()
    r = DirectRun() if direct else Run(a, tool, src, dst, w, topics, regex, run_dir)
    log("latency %s: %s on %s (run dir %s)", lw["name"], LAT_LABELS[tool], topic, run_dir)
    procs = []
    res = {"tool": tool, "workload": lw["name"], "ok": False, "abort": None, "run_dir": run_dir}
    max_wait = a.latency_start_timeout
    cpu_s, rss = None, None
    try:
        r.start()
        cons_job = {"workdir": a.workdir, "cluster": dst.name, "topic": remote,
                    "partitions": lw["partitions"], "run_dir": run_dir,
                    "deadline_s": max_wait + a.latency_warmup + a.latency_seconds + 60,
                    "drain_s": a.latency_drain}
        prod_job = {"workdir": a.workdir, "cluster": (dst if direct else src).name,
                    "topic": topic,
                    "partitions": lw["partitions"], "size": lw["size"], "rate": lw["rate"],
                    "warmup_s": a.latency_warmup, "seconds": a.latency_seconds,
                    "run_dir": run_dir, "max_wait_s": max_wait}
        for kind, job in (("_latcons", cons_job), ("_pace", prod_job)):
            logf = open(os.path.join(run_dir, kind.strip("_") + ".log"), "ab")
            procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                           "--" + kind, json.dumps(job)],
                                          stdout=logf, stderr=subprocess.STDOUT))
            logf.close()
        cons, prod = procs
        deadline = time.monotonic() + max_wait + a.latency_warmup + a.latency_seconds + 60
        said = set()
        while prod.poll() is None and time.monotonic() < deadline:
            if not r.alive():
                res["abort"] = r.dead_reason()
                break
            for f, msg in (("first", "a record of every partition on the target after %.1f s"),
                           ("measuring", "warm-up done, measuring for %.0f s")):
                if f not in said and os.path.exists(os.path.join(run_dir, f)):
                    said.add(f)
                    log("  %s: " + msg, tool, time.monotonic() - r.t0
                        if f == "first" else a.latency_seconds)
            time.sleep(0.2)
        if prod.poll() is None:
            res["abort"] = res["abort"] or "producer did not finish in time"
        cpu_s, rss = r.figures_now()
        with contextlib.suppress(subprocess.TimeoutExpired):
            cons.wait(a.latency_drain + 15)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        r.stop()
    produced = read_json(os.path.join(run_dir, "produced.json")) or {}
    got = read_json(os.path.join(run_dir, "latency.json")) or {}
    res.update({k: got.get(k) for k in ("received", "duplicates", "warmup_received",
                                        "p50_ms", "p99_ms", "max_ms", "mean_ms",
                                        "first_at_wall")})
    res["produced"] = produced.get("measured")
    res["rate"] = produced.get("rate")
    res["behind_max_ms"] = produced.get("behind_max_ms")
    res["first_record_s"] = round(got["first_at_wall"] - r.t0_wall, 2) \
        if got.get("first_at_wall") and getattr(r, "t0_wall", None) else None
    res["cpu_s"], res["rss_peak_kb"], res["tasks"] = cpu_s, rss, r.tasks
    if res["abort"] is None:
        if produced.get("error"):
            res["abort"] = produced["error"]
        elif not produced:
            res["abort"] = "no producer result"
        elif not got:
            res["abort"] = "no consumer result"
        elif got.get("received") != produced.get("measured"):
            res["abort"] = "%s of %s records arrived" % (got.get("received"),
                                                         produced.get("measured"))
    res["ok"] = res["abort"] is None
    res["loadavg_before"] = [round(x, 2) for x in load_before]
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if not a.keep_topics:
        delete_topics(src, [topic])
        delete_topics(dst, [remote])
    log("latency %s %s: p50 %s ms, p99 %s ms, max %s ms, %s/%s records, %s/s%s", lw["name"],
        tool, res["p50_ms"], res["p99_ms"], res["max_ms"], res["received"], res["produced"],
        res["rate"], "" if res["ok"] else " FAILED: %s" % res["abort"])
    return res


def failed_result(tool, workload, why):
    """The row of a run that raised (set-up failed): every figure empty."""
    load = [round(x, 2) for x in os.getloadavg()]
    res = {k: None for k in ("catchup_s", "first_record_s", "mb_per_s", "records_per_s",
                             "steady_mb_per_s", "steady_records_per_s", "cpu_s",
                             "cpu_s_per_gb", "tasks", "p50_ms", "p99_ms", "max_ms",
                             "received", "produced", "rate")}
    res.update({"tool": tool, "workload": workload, "ok": False, "abort": why,
                "rss_peak_kb": None, "loadavg_before": load, "loadavg_after": load})
    return res


def read_json(path):
    with contextlib.suppress(OSError, ValueError):
        with open(path) as f:
            return json.load(f)
    return None


def touch(path):
    with open(path, "w") as f:
        f.write("%.6f\n" % time.time())


def pace_child(job):
    """--_pace JOB: the latency run's producer, in a process of its own.
    Phase 1: 20 records/s (b"w") until the consumer has seen one from every
    partition (file `first`), at most max_wait_s; phase 2: `rate` records/s for
    warmup_s (b"w"); phase 3: `rate` records/s for `seconds` (b"m"), each
    value starting with (phase, sequence, time.time_ns() at produce()).
    acks=1, linger.ms=0. Writes produced.json."""
    from confluent_kafka import Producer
    run_dir = job["run_dir"]
    c = kmtestbed.Cluster.from_state(job["cluster"], job["workdir"])
    errors = []

    def on_err(err, msg):
        if err is not None:
            errors.append(str(err))
    conf = c.client_config("PLAINTEXT")
    conf.update({"acks": "1", "enable.idempotence": False, "linger.ms": 0,
                 "compression.type": "none", "message.timeout.ms": 60000,
                 "delivery.report.only.error": True, "on_delivery": on_err,
                 "logger": kmtestbed._quiet_logger()})
    prod = Producer(conf)
    parts, size, rate = job["partitions"], job["size"], float(job["rate"])
    pad = os.urandom(max(0, size - LAT_HEADER.size))
    seq = [0]

    def send(phase):
        i = seq[0]
        seq[0] += 1
        v = LAT_HEADER.pack(phase, i, time.time_ns()) + pad
        while True:
            try:
                prod.produce(job["topic"], v, partition=i % parts)
                break
            except BufferError:
                prod.poll(0.01)
        prod.poll(0)

    def paced(phase, r, seconds, until=None):
        n = int(r * seconds)
        t0 = time.monotonic()
        behind = 0.0
        for i in range(n):
            d = t0 + i / r - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                behind = max(behind, -d)
            send(phase)
            if until is not None and (i % 4) == 0 and os.path.exists(until):
                return i + 1, time.monotonic() - t0, behind
        return n, time.monotonic() - t0, behind

    out = {}
    first = os.path.join(run_dir, "first")
    n, dt, _ = paced(b"w", 20.0, job["max_wait_s"], until=first)
    out["probe_records"] = n
    if not os.path.exists(first):
        out["error"] = "no record on the target after %.0f s" % dt
    else:
        n, dt, _ = paced(b"w", rate, job["warmup_s"])
        out["warmup_records"] = n
        touch(os.path.join(run_dir, "measuring"))
        seq_start = seq[0]
        n, dt, behind = paced(b"m", rate, job["seconds"])
        left = prod.flush(60)
        out.update({"measured": n, "first_seq": seq_start, "seconds": round(dt, 3),
                    "rate": round(n / dt), "behind_max_ms": round(behind * 1000, 1),
                    "undelivered": left, "errors": errors[:5]})
        if left or errors:
            out["error"] = "producer: %d undelivered, %d errors" % (left, len(errors))
    prod.flush(30)
    with open(os.path.join(run_dir, "produced.json.tmp"), "w") as f:
        json.dump(out, f)
    os.rename(os.path.join(run_dir, "produced.json.tmp"), os.path.join(run_dir, "produced.json"))
    print(json.dumps(out), flush=True)
    return 0


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def latency_consumer_child(job):
    """--_latcons JOB: consumes the remote topic (read_committed,
    fetch.wait.max.ms 10) from the beginning and computes, for every
    measured record (b"m"), receive time - send time written in the value.
    Ends when produced.json says how many were measured and all arrived,
    or drain_s after that, or at deadline_s. Writes latency.json."""
    from confluent_kafka import TopicPartition, OFFSET_BEGINNING
    run_dir = job["run_dir"]
    c = kmtestbed.Cluster.from_state(job["cluster"], job["workdir"])
    cons = consumer(c, **{"isolation.level": "read_committed", "fetch.wait.max.ms": 10,
                          "fetch.error.backoff.ms": 10, "topic.metadata.refresh.interval.ms": 1000})
    t_end = time.monotonic() + job["deadline_s"]
    topic, parts = job["topic"], job["partitions"]
    while time.monotonic() < t_end:
        if replicate.topic_exists(cons, topic):
            md = cons.list_topics(topic=topic, timeout=5)
            if len(md.topics[topic].partitions) >= parts:
                break
        time.sleep(0.1)
    cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(parts)])
    lat, seen = [], set()
    dups = warm = 0
    first_at = None
    parts_seen = set()
    measured = None
    drain_end = None
    next_check = 0.0
    produced_path = os.path.join(run_dir, "produced.json")
    while time.monotonic() < t_end:
        msgs = cons.consume(num_messages=10000, timeout=0.05)
        now = time.time_ns()
        for m in msgs:
            if m.error():
                continue
            v = m.value()
            if not v or len(v) < LAT_HEADER.size:
                continue
            phase, i, sent = LAT_HEADER.unpack_from(v)
            # the probe ends once every partition delivered a record: a
            # replicator still taking partitions is not measured
            if first_at is None:
                parts_seen.add(m.partition())
                if len(parts_seen) >= parts:
                    first_at = now / 1e9
                    touch(os.path.join(run_dir, "first"))
            if phase != b"m":
                warm += 1
            elif i in seen:
                dups += 1
            else:
                seen.add(i)
                lat.append((now - sent) / 1e6)
        mono = time.monotonic()
        if mono >= next_check:
            next_check = mono + 0.2
            if measured is None:
                p = read_json(produced_path)
                if p is not None:
                    measured = p.get("measured", 0)
                    drain_end = mono + job["drain_s"]
        if measured is not None and (len(seen) >= measured or mono >= drain_end):
            break
    cons.close()
    lat.sort()
    out = {"received": len(seen), "duplicates": dups, "warmup_received": warm,
           "first_at_wall": first_at,
           "p50_ms": round(percentile(lat, 0.50), 1) if lat else None,
           "p99_ms": round(percentile(lat, 0.99), 1) if lat else None,
           "max_ms": round(lat[-1], 1) if lat else None,
           "mean_ms": round(sum(lat) / len(lat), 1) if lat else None}
    with open(os.path.join(run_dir, "latency.json"), "w") as f:
        json.dump(out, f)
    print(json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------- output


def versions(a, dst):
    v = {"kafka_brokers": a.kafka_version, "mm2": a.mm2_version}
    with contextlib.suppress(Exception):
        v["kmirrord"] = subprocess.run([a.kmirrord, "-V"], capture_output=True,
                                       text=True).stdout.strip().replace("\n", "; ")
    with contextlib.suppress(Exception):
        v["java"] = subprocess.run(["java", "-version"], capture_output=True,
                                   text=True).stderr.splitlines()[0]
    with contextlib.suppress(Exception):
        import confluent_kafka
        cv = confluent_kafka.version()
        v["confluent_kafka"] = "%s (librdkafka %s)" % (cv[0] if isinstance(cv, tuple) else cv,
                                                       confluent_kafka.libversion()[0])
    v["python"] = platform.python_version()
    v["repo_head"] = replicate.git_head()
    return v


def machine():
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // (1024 * 1024)
    return {"host": socket.gethostname(), "cpu": model, "cpus": os.cpu_count(),
            "mem_gb": mem, "kernel": platform.release()}


def fmt(v, f="%.1f"):
    return "-" if v is None else (f % v)


def best_of(rows, tools, key="mb_per_s", low=False):
    m = [r for r in rows if r["tool"] in tools and r["ok"] and r.get(key) is not None]
    if not m:
        return None
    return (min if low else max)(m, key=lambda r: r[key])


def best_mm2(rows):
    return best_of(rows, ("mm2", "mm2-tuned"))


def best_kmirrord(rows):
    return best_of(rows, ("kmirrord", "kmirrord-tuned"))


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(value, ok, f):
    if value is None:
        return "-"
    return ("yes (%s)" if ok else "**no** (%s)") % (f % value)


def catchup_targets(w, rows):
    """The issue's catch-up targets for one workload: kmirrord's better run
    (by MB/s) against MM2's better run (by MB/s)."""
    k, m = best_kmirrord(rows), best_mm2(rows)
    ceil = next((x for x in rows if x["tool"] == "producer" and x["ok"]), None)
    t = {"kmirrord": k and k["tool"], "mm2": m and m["tool"]}
    x = ratio(k and k["mb_per_s"], m and m["mb_per_s"])
    t["x"] = verdict(x, x is not None and x >= TARGET_X, "%.3gx")
    c = ratio(k and k["mb_per_s"], ceil and ceil["mb_per_s"])
    if w.get("size", 0) >= 1024:
        t["ceil"] = verdict(c and 100 * c, c is not None and c >= TARGET_CEIL, "%.0f%%")
    else:
        t["ceil"] = "n/a (%s)" % fmt(c and 100 * c, "%.0f%%")
    cpu = ratio(m and m["cpu_s_per_gb"], k and k["cpu_s_per_gb"])
    t["cpu"] = verdict(cpu, cpu is not None and cpu >= TARGET_CPU, "1/%.3g")
    rss = ratio(m and m["rss_peak_kb"], k and k["rss_peak_kb"])
    t["rss"] = verdict(rss, rss is not None and rss >= TARGET_RSS, "1/%.3g")
    fr = k and k["first_record_s"]
    t["first"] = verdict(fr, fr is not None and fr <= TARGET_FIRST_S, "%.2f s")
    return t


def latency_targets(rows):
    k = best_of(rows, ("kmirrord", "kmirrord-tuned"), "p99_ms", low=True)
    m = best_of(rows, ("mm2", "mm2-tuned"), "p99_ms", low=True)
    r = ratio(m and m["p99_ms"], k and k["p99_ms"])
    return {"kmirrord": k and k["tool"], "mm2": m and m["tool"],
            "p99": verdict(r, r is not None and r >= TARGET_P99, "1/%.3g")}


def write_markdown(path, results, lat_results, meta, lat_chart):
    L = []
    L.append("# kmirrord against Apache MirrorMaker 2: catch-up and latency benchmark\n")
    L.append("Written by `contrib/bench/compare.py` on %s. Reproduce with:\n" % meta["when"])
    L.append("```sh\nmake\npython3 -m pip install -r contrib/bench/requirements.txt\n%s\n```\n"
             % meta["command"])
    L.append("## Targets\n")
    L.append("kmirrord's better run (on the default file or on the MM2-tuned file, whichever "
             "copied faster) against MM2's better run (defaults or tuned, whichever copied "
             "faster); every figure below comes from those two runs of the workload. "
             "Latency: the lower p99 of each side. A dash: a run needed for the figure failed "
             "or was not run.\n")
    L.append("| workload | kmirrord run | MM2 run | throughput >= %gx MM2 | >= %.0f%% of ceiling "
             "(1 KB) | CPU s/GB <= 1/%g of MM2 | peak RSS <= 1/%g of MM2 | first record <= "
             "%g s |" % (TARGET_X, 100 * TARGET_CEIL, TARGET_CPU, TARGET_RSS, TARGET_FIRST_S))
    L.append("|---|---|---|---|---|---|---|---|")
    for wname, rows in results:
        t = catchup_targets(next((r["config"] for r in rows if r.get("config")), {}), rows)
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            wname, LABELS.get(t["kmirrord"], "-"), LABELS.get(t["mm2"], "-"), t["x"],
            t["ceil"], t["cpu"], t["rss"], t["first"]))
    if lat_results:
        L.append("")
        L.append("| latency workload | kmirrord run | MM2 run | p99 <= 1/%g of MM2's |"
                 % TARGET_P99)
        L.append("|---|---|---|---|")
        for lname, rows in lat_results:
            t = latency_targets(rows)
            L.append("| %s | %s | %s | %s |" % (lname, LABELS.get(t["kmirrord"], "-"),
                                                LABELS.get(t["mm2"], "-"), t["p99"]))
    L.append("")
    L.append("## Setup\n")
    m = meta["machine"]
    L.append("- **Machine**: %s, %d CPUs (%s), %d GB RAM, Linux %s. Both brokers, the "
             "replicator and the harness share these CPUs." % (m["host"], m["cpus"], m["cpu"],
                                                                m["mem_gb"], m["kernel"]))
    L.append("- **Load average** at the start: %s; at the end: %s (per run in the tables)."
             % (meta["loadavg_start"], meta["loadavg_end"]))
    v = meta["versions"]
    L.append("- **Versions**: brokers Apache Kafka %s (kmtestbed, single-node KRaft, 1 GB heap "
             "each); Apache MirrorMaker 2 %s (dedicated mode, `connect-mirror` from Maven "
             "Central, %s); %s; load and ceiling producer confluent_kafka %s; repo %s."
             % (v.get("kafka_brokers"), v.get("mm2"), v.get("java"), v.get("kmirrord"),
                v.get("confluent_kafka"), v.get("repo_head")))
    L.append("- **Data**: every run copies its own source topics, pre-loaded with the same "
             "values (same seed), no key, round-robin over the topics and partitions. Values "
             "are incompressible random bytes, compression none, except for the `lz4` "
             "workloads: log-like text values (lz4 compresses them about 2-4x), pre-loaded "
             "with lz4. MB = 10^6 bytes of record values, before compression. `N topics`: N "
             "topics of the given partitions each, the N records spread evenly over them, "
             "one `topics` regular expression matching all of them.")
    L.append("- **Configurations**: `mm2` and `kmirrord` run the very same mm2.properties "
             "(one flow src->dst for the topics, MM2's defaults, replication factors 1; "
             "`tasks.max` unset = 1). `mm2-tuned` adds `tasks.max` = the partitions to copy "
             "(topics x partitions), at most %d (%s on this %d-CPU machine), consumer "
             "`fetch.max.bytes` 50 MB, `max.partition.fetch.bytes` 10 MB, `max.poll.records` "
             "10000, producer `linger.ms` 50, `batch.size` 512 KB, `buffer.memory` 128 MB, "
             "`compression.type` as on the source (lz4 for the lz4 workloads, else none), "
             "and a %s heap (default runs: %s). `kmirrord -m, MM2-tuned file` runs kmirrord on "
             "that tuned file (so `tasks.max` source worker processes; librdkafka takes "
             "`max.partition.fetch.bytes`, `fetch.max.bytes`, `linger.ms`, `batch.size`, "
             "`compression.type` and names the others in its warning). `producer` is the "
             "ceiling: one confluent_kafka producer process writing the same records to the "
             "target alone (acks=1, linger.ms 20, 1 MB batches, the source's compression)."
             % (meta["tasks_cap"], meta["tasks_cap_why"], m["cpus"], meta["mm2_tuned_heap"],
                meta["mm2_heap"]))
    L.append("")
    L.append("## Catch-up\n")
    L.append("| workload | tool | tasks | catch-up s | MB/s | records/s | steady MB/s | first "
             "record s | CPU s | CPU s/GB | peak RSS MB | load before | vs best MM2 | of "
             "ceiling | MM2 CPU/GB ÷ this | MM2 RSS ÷ this |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for wname, rows in results:
        b = best_mm2(rows)
        ceil = next((x for x in rows if x["tool"] == "producer" and x["ok"]), None)
        for r in rows:
            of_ceil = "%.0f%%" % (100.0 * r["mb_per_s"] / ceil["mb_per_s"]) \
                if ceil and r["ok"] and r is not ceil else "-"
            rx = cpu_r = rss_r = "-"
            if b and r is b:
                rx = "best MM2"
            elif b and r["ok"]:
                rx = "%.1fx" % (r["mb_per_s"] / b["mb_per_s"])
                if r["tool"].startswith("kmirrord"):
                    cpu_r = fmt(ratio(b["cpu_s_per_gb"], r["cpu_s_per_gb"]), "%.3g")
                    rss_r = fmt(ratio(b["rss_peak_kb"], r["rss_peak_kb"]), "%.3g")
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                     "| %s | %s |" % (
                         wname, LABELS[r["tool"]] + ("" if r["ok"] else
                                                     " (FAILED: %s)" % r["abort"]),
                         r.get("tasks") or "-", fmt(r["catchup_s"]), fmt(r["mb_per_s"]),
                         fmt(r["records_per_s"], "%d"), fmt(r["steady_mb_per_s"]),
                         fmt(r["first_record_s"], "%.2f"), fmt(r["cpu_s"]),
                         fmt(r["cpu_s_per_gb"], "%.0f"),
                         fmt(r["rss_peak_kb"] and r["rss_peak_kb"] / 1024.0, "%.0f"),
                         r["loadavg_before"][0], rx, of_ceil, cpu_r, rss_r))
    L.append("")
    L.append("Columns: *tasks* = `tasks.max` of the file (kmirrord: source worker processes); "
             "*catch-up* from starting the process until the target holds all N records "
             "(includes JVM/worker start-up, group joins, topic creation); *MB/s*, *records/s* "
             "= N / catch-up; *steady* = data / (catch-up - first record); *first record* = "
             "seconds from start until a remote topic has a (committed) record; *CPU s* = "
             "user+system CPU of the whole process tree (all threads, all workers, JVM start-up "
             "included) until completion; *CPU s/GB* per 10^9 value bytes (1000 / it = MB/s "
             "per core); *peak RSS* = largest sum of VmRSS over the tree (sampled every %d ms; "
             "for MM2 also its VmHWM); *vs best MM2* = MB/s over the faster MM2 run's; *of "
             "ceiling* = MB/s over the producer's; the last two columns divide the faster MM2 "
             "run's CPU s/GB and peak RSS by this kmirrord run's (10 = a tenth). Broker CPU is "
             "not counted; it is in the JSON." % meta["sample_ms"])
    L.append("")
    L.append("Completion: for MM2 (not transactional) and the producer, the sum of the remote "
             "topics' high watermarks reaches N; for kmirrord (transactional: commit markers "
             "take offsets) its progress topic, committed in the same transaction as the "
             "records, reaches the source end offset of every partition of every topic.")
    if lat_results:
        L.append("")
        L.append("## End-to-end latency\n")
        L.append("| workload | tool | tasks | p50 ms | p99 ms | max ms | records received / "
                 "produced | rate/s | first record s | CPU s | peak RSS MB | load before | "
                 "p99: best MM2 ÷ this |")
        L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for lname, rows in lat_results:
            bm = best_of(rows, ("mm2", "mm2-tuned"), "p99_ms", low=True)
            for r in rows:
                rr = "-"
                if bm and r is bm:
                    rr = "best MM2"
                elif bm and r["ok"] and r["tool"].startswith("kmirrord"):
                    rr = fmt(ratio(bm["p99_ms"], r["p99_ms"]), "%.3g")
                L.append("| %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | "
                         "%s |" % (
                             lname, LAT_LABELS[r["tool"]] + ("" if r["ok"] else
                                                         " (FAILED: %s)" % r["abort"]),
                             r.get("tasks") or "-", fmt(r["p50_ms"]), fmt(r["p99_ms"]),
                             fmt(r["max_ms"]), fmt(r["received"], "%d"),
                             fmt(r["produced"], "%d"), fmt(r["rate"], "%d"),
                             fmt(r["first_record_s"], "%.2f"), fmt(r["cpu_s"]),
                             fmt(r["rss_peak_kb"] and r["rss_peak_kb"] / 1024.0, "%.0f"),
                             r["loadavg_before"][0], rr))
        L.append("")
        L.append("Method: the replicator starts on an empty source topic; a separate producer "
                 "process (confluent_kafka, acks=1, linger.ms 0, compression none) sends 20 "
                 "records/s until one from every partition is read on the target, then the rate "
                 "for %g s "
                 "of warm-up, then the rate for %g s, paced on a fixed schedule. Every value "
                 "starts with its sequence number and the producer's wall-clock time at "
                 "`produce()`. A consumer process reads the remote topic (read_committed, "
                 "`fetch.wait.max.ms` 10) and takes, for every measured record, the wall-clock "
                 "time when `consume()` returned it minus that send time: source append "
                 "(including the produce request, about a millisecond on loopback) to "
                 "availability on the target. Both run on the same machine, so the clocks "
                 "agree. Warm-up records are not counted. A run in which a measured record "
                 "did not arrive within %g s after the last was produced is marked failed. "
                 "*first record* = seconds from the replicator's start until a record of every "
                 "partition was read on the target (at 20 records/s); *CPU s*, *peak RSS*: the process tree "
                 "over the whole run." % (meta["latency_warmup"], meta["latency_seconds"],
                                          meta["latency_drain"]))
    if meta.get("notes"):
        L.append("")
        L.append("## Notes\n")
        L.extend(meta["notes"])
    L.append("")
    L.append("![catch-up throughput, CPU per GB and peak RSS](%s)" % meta["chart_name"])
    if lat_results and lat_chart:
        L.append("")
        L.append("![end-to-end latency](%s)" % lat_chart)
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


COLORS = {"mm2": "#b0b0b0", "mm2-tuned": "#707070", "kmirrord": "#1f77b4",
          "kmirrord-tuned": "#9ecae1", "producer": "#2ca02c"}


def write_chart(path, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tools = [t for t in TOOLS if any(r["tool"] == t for _, rows in results for r in rows)]
    names = [w for w, _ in results]
    fig, axes = plt.subplots(1, 3, figsize=(max(15, 3.2 * len(names)), 5.2))
    panels = (("mb_per_s", "catch-up MB/s (higher is better)"),
              ("cpu_s_per_gb", "CPU s per GB, process tree (lower is better)"),
              ("rss_peak_kb", "peak RSS MB, process tree (lower is better)"))
    width = 0.8 / max(1, len(tools))
    for ax, (key, title) in zip(axes, panels):
        for i, t in enumerate(tools):
            vals = []
            for _, rows in results:
                r = next((x for x in rows if x["tool"] == t), None)
                v = r.get(key) if r and r["ok"] else None
                if v is not None and key == "rss_peak_kb":
                    v = v / 1024.0
                vals.append(v or 0)
            xs = [j + (i - (len(tools) - 1) / 2) * width for j in range(len(names))]
            bars = ax.bar(xs, vals, width, label=LABELS[t], color=COLORS[t])
            for b, v in zip(bars, vals):
                if v:
                    ax.annotate("%.0f" % v, (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=6)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=7, rotation=30, ha="right")
        ax.set_title(title, fontsize=10)
        if key != "mb_per_s":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("Catch-up of N pre-loaded records: Apache MM2 vs kmirrord vs producer alone")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_latency_chart(path, lat_results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(lat_results), figsize=(7 * len(lat_results), 4.6),
                             squeeze=False)
    for ax, (lname, rows) in zip(axes[0], lat_results):
        stats = ("p50_ms", "p99_ms", "max_ms")
        width = 0.8 / len(stats)
        for i, k in enumerate(stats):
            vals = [r.get(k) or 0 if r["ok"] else 0 for r in rows]
            xs = [j + (i - 1) * width for j in range(len(rows))]
            bars = ax.bar(xs, vals, width, label=k.replace("_ms", ""),
                          color=("#9ecae1", "#1f77b4", "#08306b")[i])
            for b, v in zip(bars, vals):
                if v:
                    ax.annotate("%.0f" % v, (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([LAT_LABELS[r["tool"]] + ("" if r["ok"] else " (failed)")
                            for r in rows], fontsize=8, rotation=15, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("ms (log scale, lower is better)")
        ax.set_title("end-to-end latency, %s" % lname, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main


def size_name(size):
    if size % 1024 == 0:
        return "%d KB" % (size // 1024)
    return "%d B" % size


def parse_workloads(spec):
    out = []
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        mt = re.fullmatch(r"\s*(\d+)x(\d+)(?:t(\d+))?(\+lz4)?:(\d+)\s*", item)
        if not mt:
            raise SystemExit("--workloads: expected SIZExPARTITIONS[tTOPICS][+lz4]:RECORDS, "
                             "got %r" % item)
        size, parts, topics, lz4, n = mt.groups()
        size, parts, topics, n = int(size), int(parts), int(topics or 1), int(n)
        if size < 1 or parts < 1 or topics < 1 or n < topics * parts:
            raise SystemExit("--workloads: %r: need at least one record per partition" % item)
        name = size_name(size)
        if topics > 1:
            name += " x %d topics" % topics + ("" if parts == 1 else " x %dp" % parts)
        else:
            name += " x %dp" % parts
        if lz4:
            name += " lz4"
        out.append({"size": size, "partitions": parts, "topics": topics, "lz4": bool(lz4),
                    "compression": "lz4" if lz4 else "none",
                    "payload": "text" if lz4 else "random", "records": n, "name": name,
                    "spec": item.strip()})
    return out


def parse_latency(spec):
    out = []
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        mt = re.fullmatch(r"\s*(\d+)x(\d+)@(\d+)\s*", item)
        if not mt:
            raise SystemExit("--latency: expected SIZExPARTITIONS@RATE, got %r" % item)
        size, parts, rate = map(int, mt.groups())
        if size < LAT_HEADER.size or rate < 1:
            raise SystemExit("--latency: %r: records of at least %d bytes, rate >= 1"
                             % (item, LAT_HEADER.size))
        out.append({"size": size, "partitions": parts, "rate": rate,
                    "name": "%s x %dp @ %d/s" % (size_name(size), parts, rate)})
    return out


def produce_child(job):
    """--_produce JOB: the ceiling run, in a process of its own so its CPU
    and RSS are measured alone."""
    c = kmtestbed.Cluster.from_state(job["cluster"], job["workdir"])
    r = preload_topics(c, job["topics"], job["records"], job["size"], job["partitions"],
                       job["compression"], job["payload"], job["seed"])
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    r["cpu_s"] = ru.ru_utime + ru.ru_stime
    r["maxrss_kb"] = ru.ru_maxrss
    print(json.dumps(r), flush=True)
    return 0


def write_outputs(a, results, lat_results, meta):
    """The charts and the Markdown (and the meta line of --json)."""
    meta["chart_name"] = os.path.relpath(a.chart, os.path.dirname(os.path.abspath(a.markdown)))
    lat_chart_name = None
    try:
        if results:
            write_chart(a.chart, results)
            log("wrote %s", a.chart)
        if lat_results:
            write_latency_chart(a.latency_chart, lat_results)
            lat_chart_name = os.path.relpath(a.latency_chart, os.path.dirname(
                os.path.abspath(a.markdown)))
            log("wrote %s", a.latency_chart)
    except ImportError:
        log("no matplotlib: no chart (pip install -r contrib/bench/requirements.txt)")
    write_markdown(a.markdown, results, lat_results, meta, lat_chart_name)
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({"meta": meta}, sort_keys=True) + "\n")
    log("wrote %s", a.markdown)


def render_json(a):
    """--render-json: rebuild the tables of the last run recorded in FILE."""
    pending, runs, meta = [], [], None
    with open(a.render_json) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if "meta" in r:          # the end of one run of compare.py
                runs, meta, pending = pending, r["meta"], []
            else:
                pending.append(r)
    if meta is None:
        raise SystemExit("%s: no meta line (written at the end of a run)" % a.render_json)
    results, lat_results = [], []
    for r in runs:
        out = lat_results if "p99_ms" in r else results
        if not out or out[-1][0] != r["workload"]:
            out.append((r["workload"], []))
        out[-1][1].append(r)
    meta["notes"] = list(a.note) or meta.get("notes") or []
    if a.notes_file:
        with open(a.notes_file) as f:
            meta["notes"] = meta["notes"] + [f.read().rstrip("\n")]
    a.json = None
    write_outputs(a, results, lat_results, meta)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    children = {"--_produce": produce_child, "--_pace": pace_child,
                "--_latcons": latency_consumer_child}
    if argv[:1] and argv[0] in children:
        return children[argv[0]](json.loads(argv[1]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--workloads", default=None,
                    help="comma list of SIZExPARTITIONS[tTOPICS][+lz4]:RECORDS (default %s; "
                    "with --quick %s; '' for none)" % (DEFAULT_WORKLOADS, QUICK_WORKLOADS))
    ap.add_argument("--latency", default=None,
                    help="comma list of SIZExPARTITIONS@RATE latency workloads (default %s; "
                    "with --quick %s; '' for none)" % (DEFAULT_LATENCY, QUICK_LATENCY))
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: small N, 5 s latency runs, 1 s settle")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma list of " + ", ".join(TOOLS)
                    + " (in the latency phase, producer is the floor: the paced producer "
                    "writing to the target directly)")
    ap.add_argument("--latency-seconds", type=float, default=None,
                    help="measured seconds per latency run (default 30; --quick 5)")
    ap.add_argument("--latency-warmup", type=float, default=None,
                    help="seconds at the rate before measuring (default 5; --quick 2)")
    ap.add_argument("--latency-drain", type=float, default=30,
                    help="seconds after the last produced record for all to arrive")
    ap.add_argument("--latency-start-timeout", type=float, default=120,
                    help="seconds for the first record to reach the target")
    ap.add_argument("--tuned-tasks", type=int, default=None,
                    help="cap of tasks.max in the tuned file (default 4 x CPUs)")
    ap.add_argument("--kmirrord", default=os.path.join(REPO, "build", "kmirrord"))
    ap.add_argument("--mm2-version", default=mm2run.DEFAULT_VERSION)
    ap.add_argument("--mm2-heap", default="512m", help="-Xmx of the default MM2 run (mm2run's)")
    ap.add_argument("--mm2-tuned-heap", default="1g", help="-Xmx of the tuned MM2 run")
    ap.add_argument("--kafka-version", default=kmtestbed.DEFAULT_VERSION)
    ap.add_argument("--broker-heap", default="1g")
    ap.add_argument("--workdir", default="/tmp/kmirror-compare")
    ap.add_argument("--source-port", type=int, default=26092)
    ap.add_argument("--target-port", type=int, default=26192)
    ap.add_argument("--keep", action="store_true", help="leave the clusters running")
    ap.add_argument("--reuse", action="store_true", help="reuse clusters left by --keep")
    ap.add_argument("--keep-topics", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300, help="per catch-up run, seconds")
    ap.add_argument("--settle", type=float, default=None,
                    help="seconds of quiet after each pre-load, before the clock starts "
                    "(default 3; --quick 1)")
    ap.add_argument("--sample-ms", type=int, default=100)
    ap.add_argument("--poll-ms", type=int, default=100)
    ap.add_argument("--markdown", default=os.path.join(REPO, "docs", "benchmarks.md"))
    ap.add_argument("--chart", default=os.path.join(REPO, "docs", "benchmarks.png"))
    ap.add_argument("--latency-chart", default=None,
                    help="PNG of the latency phase (default: --chart with -latency)")
    ap.add_argument("--json", default=None, help="append every run's JSON line to FILE")
    ap.add_argument("--render-json", default=None, metavar="FILE",
                    help="run nothing: write the Markdown and charts from a --json FILE "
                    "of an earlier run (its last run's lines)")
    ap.add_argument("--note", action="append", default=[],
                    help="a paragraph added under Notes in the Markdown (repeatable)")
    ap.add_argument("--notes-file", default=None,
                    help="a Markdown file whose text is added under Notes")
    a = ap.parse_args(argv)
    if a.workloads is None:
        a.workloads = QUICK_WORKLOADS if a.quick else DEFAULT_WORKLOADS
    if a.latency is None:
        a.latency = QUICK_LATENCY if a.quick else DEFAULT_LATENCY
    if a.latency_seconds is None:
        a.latency_seconds = 5.0 if a.quick else 30.0
    if a.latency_warmup is None:
        a.latency_warmup = 2.0 if a.quick else 5.0
    if a.settle is None:
        a.settle = 1.0 if a.quick else 3.0
    if a.latency_chart is None:
        root, ext = os.path.splitext(a.chart)
        a.latency_chart = root + "-latency" + (ext or ".png")
    if a.render_json:
        return render_json(a)
    workloads = parse_workloads(a.workloads)
    lat_workloads = parse_latency(a.latency)
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in tools:
        if t not in TOOLS:
            ap.error("unknown tool %r" % t)
    lat_tools = [t for t in tools if t in LATENCY_TOOLS]
    if any(t.startswith("kmirrord") for t in tools) and not os.access(a.kmirrord, os.X_OK):
        ap.error("no kmirrord at %s (make, or --kmirrord)" % a.kmirrord)

    import logging
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.makedirs(a.workdir, exist_ok=True)
    load0 = [round(x, 2) for x in os.getloadavg()]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t_start = time.monotonic()
    clusters, started = [], []
    results, lat_results = [], []
    vers = {}
    rc = 0

    def record(res, cfg):
        res["config"] = dict(cfg)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(res, sort_keys=True) + "\n")
        return res["ok"]

    try:
        replicate.open_clusters(clusters, started, a.workdir,
                                (("cmp-src", a.source_port), ("cmp-dst", a.target_port)),
                                a.kafka_version, ["-Xmx%s" % a.broker_heap,
                                                  "-Xms%s" % a.broker_heap], a.reuse, a.keep)
        src, dst = clusters
        if any(t.startswith("mm2") for t in tools):
            log("fetching MM2 %s (once) ...", a.mm2_version)
            mm2run.fetch(a.mm2_version)
        vers = versions(a, dst)
        for kind, items, tl, fn, out in (("", workloads, tools, run_one, results),
                                         ("latency ", lat_workloads, lat_tools, run_latency,
                                          lat_results)):
            for w in items:
                rows = []
                for t in tl:
                    try:
                        res = fn(a, t, src, dst, w)
                    except Exception as e:
                        log("%s%s %s: error: %s", kind, w["name"], t, e)
                        res = failed_result(t, w["name"], "error: %s" % str(e).splitlines()[0])
                    rows.append(res)
                    if not record(res, w):
                        rc = 1
                if rows:
                    out.append((w["name"], rows))
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    finally:
        replicate.stop_clusters(clusters, started, a.keep, a.workdir)
    log("all runs took %.1f min", (time.monotonic() - t_start) / 60)
    if results or lat_results:
        cap = a.tuned_tasks or 4 * (os.cpu_count() or 1)
        meta = {"when": when, "machine": machine(), "versions": vers,
                "loadavg_start": load0, "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                "command": "python3 contrib/bench/compare.py " + " ".join(
                    x if re.fullmatch(r"[\w@%+=:,./-]+", x) else "'%s'" % x for x in argv),
                "sample_ms": a.sample_ms, "mm2_heap": a.mm2_heap,
                "mm2_tuned_heap": a.mm2_tuned_heap, "notes": list(a.note),
                "tasks_cap": cap,
                "tasks_cap_why": "--tuned-tasks" if a.tuned_tasks else "4 per CPU",
                "latency_seconds": a.latency_seconds, "latency_warmup": a.latency_warmup,
                "latency_drain": a.latency_drain,
                "chart_name": os.path.relpath(a.chart, os.path.dirname(
                    os.path.abspath(a.markdown)))}
        if a.notes_file:
            with open(a.notes_file) as f:
                meta["notes"] = meta["notes"] + [f.read().rstrip("\n")]
        write_outputs(a, results, lat_results, meta)
        for wname, rows in results:
            for r in rows:
                print("%-22s %-14s %s" % (wname, r["tool"], json.dumps(
                    {k: r.get(k) for k in ("ok", "catchup_s", "mb_per_s", "records_per_s",
                                           "steady_mb_per_s", "first_record_s", "cpu_s",
                                           "cpu_s_per_gb", "rss_peak_kb", "transactions",
                                           "loadavg_before")})))
        for lname, rows in lat_results:
            for r in rows:
                print("%-22s %-14s %s" % (lname, r["tool"], json.dumps(
                    {k: r.get(k) for k in ("ok", "p50_ms", "p99_ms", "max_ms", "received",
                                           "produced", "rate", "first_record_s", "abort")})))
    return rc


if __name__ == "__main__":
    sys.exit(main())
