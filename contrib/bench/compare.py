#!/usr/bin/env python3
"""compare.py: kmirrord against Apache MirrorMaker 2, side by side (catch-up).

On two local test-bed clusters (kmtestbed), for each workload (record size x
partitions x N records), runs in turn on identical pre-loaded data:

  mm2        Apache MM2 4.3.1, dedicated mode, on mm2.properties (MM2's defaults)
  mm2-tuned  the same file plus the throughput settings MM2's documentation
             recommends: tasks.max = partitions, larger producer linger.ms /
             batch.size, larger consumer fetch sizes, a larger heap
  kmirrord   `kmirrord -d -m` on the very same mm2.properties as `mm2`
  kmirrord-tuned  `kmirrord -d -m` on the very same file as `mm2-tuned`
  producer   the ceiling: a plain librdkafka producer (confluent_kafka, the
             pre-load producer of replicate.py) writing the same data to the
             target alone

and measures for each: catch-up MB/s and records/s (start of the process to
the last record on the target), the same from the first record on (steady),
time to the first record on the target, CPU seconds of the whole process tree
per GB, peak RSS of the tree. Writes docs/benchmarks.md (Markdown table with
the machine, load averages, versions, command) and docs/benchmarks.png.

Every run copies its own source topic (pre-loaded with the same seed: the
same bytes in the same order), so no run sees another's data or committed
offsets. Completion: for MM2 and the producer, the remote topic's high
watermarks add up to N; for kmirrord (transactional: markers take offsets),
its progress topic reaches the source end offset of every partition, as in
replicate.py. See contrib/bench/README.md.

    python3 contrib/bench/compare.py            # all workloads, ~10-20 min
    python3 contrib/bench/compare.py --workloads 1024x8:300000 --tools mm2,kmirrord
"""

import argparse
import contextlib
import json
import os
import platform
import re
import socket
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
from replicate import (Sampler, ProgressReader, consumer, delete_topics, kill_tree, log,  # noqa: E402
                       preload, topic_exists, wait_group_empty, watermarks)

TOOLS = ("mm2", "mm2-tuned", "kmirrord", "kmirrord-tuned", "producer")
LABELS = {"mm2": "MM2 defaults", "mm2-tuned": "MM2 tuned", "kmirrord": "kmirrord -m",
          "kmirrord-tuned": "kmirrord -m, MM2-tuned file", "producer": "producer alone (ceiling)"}
SRC, DST = "src", "dst"
DEFAULT_WORKLOADS = "1024x1:500000,1024x8:500000,100x8:2000000"


# ---------------------------------------------------------------- mm2.properties


def mm2_properties(src, dst, topic, run_dir):
    """The operator's file: one flow src->dst for `topic`, MM2's defaults
    otherwise (test-bed replication factors 1), plus kmirrord's own keys
    (MM2 ignores kmirrord.* with a warning)."""
    return """# written by contrib/bench/compare.py
clusters = {S}, {T}
{S}.bootstrap.servers = {A}
{T}.bootstrap.servers = {B}
{S}->{T}.enabled = true
{S}->{T}.topics = {topic}

replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset-syncs.topic.replication.factor = 1
offset.storage.replication.factor = 1
config.storage.replication.factor = 1
status.storage.replication.factor = 1

# --- kmirrord's own settings (MM2 ignores them)
kmirrord.pidfile = {d}/kmirrord.pid
kmirrord.control_socket = {d}/kmirrord.sock
kmirrord.status_interval_ms = 500
""".format(S=SRC, T=DST, A=src.bootstrap(), B=dst.bootstrap(), topic=topic, d=run_dir)


def mm2_tuning(partitions):
    """MM2's throughput settings (Kafka docs, geo-replication: tasks.max up
    to the partitions; producer batching; consumer fetch sizes; compression
    as on the source: none here)."""
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
{T}.producer.compression.type = none
""".format(P=partitions, S=SRC, T=DST)


# ---------------------------------------------------------------- one run


class Run:
    """Start a replicator (or the producer), sample its process tree, and
    wait for N records of `remote` on the target."""

    def __init__(self, a, tool, src, dst, w, topic, run_dir):
        self.a, self.tool, self.src, self.dst, self.w = a, tool, src, dst, w
        self.topic, self.run_dir = topic, run_dir
        self.remote = "%s.%s" % (SRC, topic) if tool != "producer" else topic
        self.proc = None
        self.mm2 = None
        self.progress = None

    def start(self):
        a, w = self.a, self.w
        props = os.path.join(self.run_dir, "mm2.properties")
        if self.tool != "producer":
            text = mm2_properties(self.src, self.dst, self.topic, self.run_dir)
            if self.tool.endswith("-tuned"):
                text += mm2_tuning(w["partitions"])
            with open(props, "w") as f:
                f.write(text)
        if self.tool.startswith("kmirrord"):
            chk = subprocess.run([a.kmirrord, "-n", "-m", props], capture_output=True, text=True)
            if chk.returncode != 0:
                raise RuntimeError("kmirrord -n rejects %s:\n%s%s" % (props, chk.stdout, chk.stderr))
            wait_group_empty(self.dst, "kmirror.%s.%s" % (SRC, DST), 60,
                             w["partitions"] if self.tool == "kmirrord-tuned" else 1)
            self.progress = ProgressReader(self.dst, "kmirror-progress.%s.internal" % SRC,
                                           self.topic)
        if self.tool.startswith("mm2"):
            mm2run.fetch(a.mm2_version)
        self.t0 = time.monotonic()
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
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--_produce", a.workdir, self.dst.name,
                 self.topic, str(w["records"]), str(w["size"]), str(w["partitions"]),
                 str(a.seed)], stdout=logf, stderr=subprocess.STDOUT)
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

    def wait(self, src_end):
        """Until complete, failed or timed out; returns the figures."""
        a, w = self.a, self.w
        n = w["records"]
        tcons = consumer(self.dst, **{"isolation.level": "read_committed"})
        first_at = done_at = None
        abort = None
        timeline = []
        last_report = self.t0
        try:
            while True:
                now = time.monotonic()
                if now - self.t0 > a.timeout:
                    abort = "timeout after %.0fs" % a.timeout
                    break
                if not self.alive():
                    abort = "%s exited (%s)" % (self.tool, self.proc.returncode if self.proc
                                                 else "see mm2.log")
                    break
                hw = {}
                if first_at is not None or topic_exists(tcons, self.remote):
                    hw = watermarks(tcons, self.remote, w["partitions"], timeout=2)
                count = sum(hi - lo for lo, hi in hw.values())
                if first_at is None and count > 0:
                    first_at = now
                if self.progress is not None:
                    self.progress.poll(now)
                    copied = sum(min(self.progress.progress.get(p, 0), e)
                                 for p, e in src_end.items())
                    done = all(self.progress.progress.get(p, -1) >= e for p, e in src_end.items())
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
                time.sleep(a.poll_ms / 1000.0)
            snap = self.sampler.snapshot()
            self.sampler.sample()
        finally:
            tcons.close()
        _, _, tree_rss = self.sampler.rss_peaks()
        if self.mm2 is not None:
            tree_rss = max(tree_rss, self.mm2.peak_rss_kb())
        cpu = sum(snap["kinds"].values())
        nbytes = n * w["size"]
        elapsed = (done_at or time.monotonic()) - self.t0
        steady = done_at - first_at if done_at and first_at and done_at > first_at else None
        return {
            "tool": self.tool, "ok": done_at is not None, "abort": abort,
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

    def stop(self):
        with contextlib.suppress(Exception):
            self.sampler.stop()
        if self.progress is not None:
            self.progress.close()
        if self.mm2 is not None:
            with contextlib.suppress(Exception):
                self.mm2.stop(timeout=30)
        elif self.proc is not None:
            if self.tool.startswith("kmirrord"):
                tree = {p["pid"] for p in self.sampler.process_table()}
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


def run_one(a, tool, src, dst, w):
    stamp = time.strftime("%H%M%S")
    topic = "cmp-%db-%dp-%s-%s" % (w["size"], w["partitions"], tool.replace("-", ""), stamp)
    run_dir = os.path.join(a.workdir, "run-%s-%s-%d" % (time.strftime("%Y%m%d-%H%M%S"), tool,
                                                        os.getpid()))
    os.makedirs(run_dir)
    src_end = {}
    if tool == "producer":
        dst.create_topic(topic, w["partitions"])
        topics = [(dst, topic)]
    else:
        src.create_topic(topic, w["partitions"])
        topics = [(src, topic), (dst, "%s.%s" % (SRC, topic))]
        log("pre-loading %d x %d B over %d partitions into %s ...", w["records"], w["size"],
            w["partitions"], topic)
        ld = preload(src, topic, w["records"], w["size"], w["partitions"], "none", "random",
                     a.seed)
        log("pre-load: %.1fs, %.1f MB/s", ld["seconds"], ld["mb_per_s"])
        scons = consumer(src)
        src_end = {p: hi for p, (lo, hi) in watermarks(scons, topic, w["partitions"]).items()}
        scons.close()
        if sum(src_end.values()) != w["records"]:
            raise RuntimeError("source holds %d records, expected %d"
                               % (sum(src_end.values()), w["records"]))
    time.sleep(a.settle)
    load_before = os.getloadavg()
    r = Run(a, tool, src, dst, w, topic, run_dir)
    log("%s: %s on %s (run dir %s)", w["name"], LABELS[tool], topic, run_dir)
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
    res["topic"] = topic
    res["workload"] = w["name"]
    if tool == "mm2" or tool == "mm2-tuned":
        res["mm2_log_errors"] = sum(1 for l in r.mm2.log_text(whole=True).splitlines()
                                    if " ERROR " in l)
    if not a.keep_topics:
        for c, t in topics:
            delete_topics(c, [t])
    log("%s %s: %s", w["name"], tool, "%.1f s, %s MB/s, %s records/s, first record %s s, "
        "CPU %s s/GB, RSS %.0f MB%s" % (res["catchup_s"], res["mb_per_s"], res["records_per_s"],
                                        res["first_record_s"], res["cpu_s_per_gb"],
                                        res["rss_peak_kb"] / 1024.0,
                                        "" if res["ok"] else " FAILED: %s" % res["abort"]))
    return res


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


def best_mm2(rows):
    m = [r for r in rows if r["tool"] in ("mm2", "mm2-tuned") and r["ok"]]
    return max(m, key=lambda r: r["mb_per_s"]) if m else None


def write_markdown(path, results, meta):
    L = []
    L.append("# kmirrord against Apache MirrorMaker 2: catch-up benchmark\n")
    L.append("Written by `contrib/bench/compare.py` on %s. Reproduce with:\n" % meta["when"])
    L.append("```sh\nmake\npython3 -m pip install -r contrib/bench/requirements.txt\n%s\n```\n"
             % meta["command"])
    m = meta["machine"]
    L.append("- **Machine**: %s, %d CPUs (%s), %d GB RAM, Linux %s. Both brokers, the "
             "replicator and the harness share these CPUs." % (m["host"], m["cpus"], m["cpu"],
                                                                m["mem_gb"], m["kernel"]))
    L.append("- **Load average** at the start: %s; at the end: %s (per run in the table)."
             % (meta["loadavg_start"], meta["loadavg_end"]))
    v = meta["versions"]
    L.append("- **Versions**: brokers Apache Kafka %s (kmtestbed, single-node KRaft, 1 GB heap "
             "each); Apache MirrorMaker 2 %s (dedicated mode, `connect-mirror` from Maven "
             "Central, %s); %s; load and ceiling producer confluent_kafka %s; repo %s."
             % (v.get("kafka_brokers"), v.get("mm2"), v.get("java"), v.get("kmirrord"),
                v.get("confluent_kafka"), v.get("repo_head")))
    L.append("- **Data**: every run copies its own source topic, pre-loaded with the same "
             "incompressible values (same seed), no key, round-robin over the partitions, "
             "compression none. MB = 10^6 bytes of record values.")
    L.append("- **Configurations**: `mm2` and `kmirrord` run the very same mm2.properties "
             "(one flow src->dst for the topic, MM2's defaults, replication factors 1; "
             "`tasks.max` unset = 1). `mm2-tuned` adds `tasks.max` = partitions, consumer "
             "`fetch.max.bytes` 50 MB, `max.partition.fetch.bytes` 10 MB, `max.poll.records` "
             "10000, producer `linger.ms` 50, `batch.size` 512 KB, `buffer.memory` 128 MB, "
             "and a %s heap (default runs: %s). `kmirrord -m, MM2-tuned file` runs kmirrord on "
             "that tuned file (so `tasks.max` source worker processes; librdkafka takes "
             "`max.partition.fetch.bytes`, `fetch.max.bytes`, `linger.ms`, `batch.size` "
             "and names the other four in its warning). `producer` is the ceiling: one "
             "confluent_kafka producer process writing the same records to the target alone "
             "(acks=1, linger.ms 20, 1 MB batches)." % (meta["mm2_tuned_heap"], meta["mm2_heap"]))
    L.append("")
    L.append("## Results\n")
    L.append("| workload | tool | catch-up s | MB/s | records/s | steady MB/s | first record s "
             "| CPU s | CPU s/GB | peak RSS MB | load before | vs best MM2 | of ceiling |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for wname, rows in results:
        b = best_mm2(rows)
        ceil = next((x for x in rows if x["tool"] == "producer" and x["ok"]), None)
        for r in rows:
            of_ceil = "%.0f%%" % (100.0 * r["mb_per_s"] / ceil["mb_per_s"]) \
                if ceil and r["ok"] and r is not ceil else "-"
            ratio = "-"
            if b and r["ok"] and r["tool"] != b["tool"]:
                ratio = "%.1fx" % (r["mb_per_s"] / b["mb_per_s"])
            elif b and r is b:
                ratio = "best MM2"
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %s | %s |" % (
                wname, LABELS[r["tool"]] + ("" if r["ok"] else " (FAILED: %s)" % r["abort"]),
                fmt(r["catchup_s"]), fmt(r["mb_per_s"]),
                fmt(r["records_per_s"], "%d"),
                fmt(r["steady_mb_per_s"]), fmt(r["first_record_s"], "%.2f"),
                fmt(r["cpu_s"]), fmt(r["cpu_s_per_gb"], "%.0f"), r["rss_peak_kb"] / 1024.0,
                r["loadavg_before"][0], ratio, of_ceil))
    L.append("")
    L.append("Columns: *catch-up* from starting the process until the target holds all N "
             "records (includes JVM/worker start-up, group joins, topic creation); *MB/s*, "
             "*records/s* = N / catch-up; *steady* = data / (catch-up - first record); *first "
             "record* = seconds from start until the remote topic has a (committed) record; "
             "*CPU s* = user+system CPU of the whole process tree (all threads, all workers, "
             "JVM start-up included) until completion; *CPU s/GB* per 10^9 value bytes (1000 / "
             "it = MB/s per core); *peak RSS* = largest sum of VmRSS over the tree (sampled every "
             "%d ms; for MM2 also its VmHWM). Broker CPU is not counted; it is in the JSON."
             % meta["sample_ms"])
    L.append("")
    L.append("Completion: for MM2 (not transactional) and the producer, the sum of the remote "
             "topic's high watermarks reaches N; for kmirrord (transactional: commit markers "
             "take offsets) its progress topic, committed in the same transaction as the "
             "records, reaches the source end offset of every partition.")
    if meta.get("notes"):
        L.append("")
        L.append("## Notes\n")
        L.extend(meta["notes"])
    L.append("")
    L.append("![catch-up throughput, CPU per GB and peak RSS](benchmarks.png)")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_chart(path, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tools = [t for t in TOOLS if any(r["tool"] == t for _, rows in results for r in rows)]
    colors = {"mm2": "#b0b0b0", "mm2-tuned": "#707070", "kmirrord": "#1f77b4",
              "kmirrord-tuned": "#9ecae1", "producer": "#2ca02c"}
    names = [w for w, _ in results]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
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
            bars = ax.bar(xs, vals, width, label=LABELS[t], color=colors[t])
            for b, v in zip(bars, vals):
                if v:
                    ax.annotate("%.0f" % v, (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_title(title, fontsize=10)
        if key != "mb_per_s":
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Catch-up of N pre-loaded records: Apache MM2 vs kmirrord vs producer alone")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main


def parse_workloads(spec):
    out = []
    for item in spec.split(","):
        mt = re.fullmatch(r"\s*(\d+)x(\d+):(\d+)\s*", item)
        if not mt:
            raise SystemExit("--workloads: expected SIZExPARTITIONS:RECORDS, got %r" % item)
        size, parts, n = map(int, mt.groups())
        name = "%s x %dp" % ("1 KB" if size == 1024 else "%d B" % size, parts)
        out.append({"size": size, "partitions": parts, "records": n, "name": name})
    return out


def produce_child(argv):
    """--_produce WORKDIR CLUSTER TOPIC N SIZE PARTITIONS SEED: the ceiling
    run, in a process of its own so its CPU and RSS are measured alone."""
    workdir, name, topic, n, size, parts, seed = argv
    c = kmtestbed.Cluster.from_state(name, workdir)
    r = preload(c, topic, int(n), int(size), int(parts), "none", "random", int(seed))
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    r["cpu_s"] = ru.ru_utime + ru.ru_stime
    r["maxrss_kb"] = ru.ru_maxrss
    print(json.dumps(r), flush=True)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_produce"]:
        return produce_child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--workloads", default=DEFAULT_WORKLOADS,
                    help="comma list of SIZExPARTITIONS:RECORDS")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma list of " + ", ".join(TOOLS))
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
    ap.add_argument("--timeout", type=float, default=300, help="per run, seconds")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds of quiet after each pre-load, before the clock starts")
    ap.add_argument("--sample-ms", type=int, default=100)
    ap.add_argument("--poll-ms", type=int, default=100)
    ap.add_argument("--markdown", default=os.path.join(REPO, "docs", "benchmarks.md"))
    ap.add_argument("--chart", default=os.path.join(REPO, "docs", "benchmarks.png"))
    ap.add_argument("--json", default=None, help="append every run's JSON line to FILE")
    ap.add_argument("--note", action="append", default=[],
                    help="a paragraph added under Notes in the Markdown (repeatable)")
    ap.add_argument("--notes-file", default=None,
                    help="a Markdown file whose text is added under Notes")
    a = ap.parse_args(argv)
    workloads = parse_workloads(a.workloads)
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in tools:
        if t not in TOOLS:
            ap.error("unknown tool %r" % t)
    if any(t.startswith("kmirrord") for t in tools) and not os.access(a.kmirrord, os.X_OK):
        ap.error("no kmirrord at %s (make, or --kmirrord)" % a.kmirrord)

    import logging
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.makedirs(a.workdir, exist_ok=True)
    load0 = [round(x, 2) for x in os.getloadavg()]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    clusters, started = [], []
    results = []
    rc = 0
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
        for w in workloads:
            rows = []
            for t in tools:
                res = run_one(a, t, src, dst, w)
                res["config"] = dict(w)
                rows.append(res)
                if a.json:
                    with open(a.json, "a") as f:
                        f.write(json.dumps(res, sort_keys=True) + "\n")
                if not res["ok"]:
                    rc = 1
            results.append((w["name"], rows))
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    finally:
        replicate.stop_clusters(clusters, started, a.keep, a.workdir)
    if results:
        meta = {"when": when, "machine": machine(), "versions": vers,
                "loadavg_start": load0, "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                "command": "python3 contrib/bench/compare.py " + " ".join(
                    x if re.fullmatch(r"[\w@%+=:,./-]+", x) else "'%s'" % x for x in argv),
                "sample_ms": a.sample_ms, "mm2_heap": a.mm2_heap,
                "mm2_tuned_heap": a.mm2_tuned_heap, "notes": a.note}
        if a.notes_file:
            with open(a.notes_file) as f:
                meta["notes"] = meta["notes"] + [f.read().rstrip("\n")]
        write_markdown(a.markdown, results, meta)
        log("wrote %s", a.markdown)
        try:
            write_chart(a.chart, results)
            log("wrote %s", a.chart)
        except ImportError:
            log("no matplotlib: no chart (pip install -r contrib/bench/requirements.txt)")
        for wname, rows in results:
            for r in rows:
                print("%-12s %-10s %s" % (wname, r["tool"], json.dumps(
                    {k: r.get(k) for k in ("ok", "catchup_s", "mb_per_s", "records_per_s",
                                           "steady_mb_per_s", "first_record_s", "cpu_s",
                                           "cpu_s_per_gb", "rss_peak_kb", "transactions",
                                           "loadavg_before")})))
    return rc


if __name__ == "__main__":
    sys.exit(main())
