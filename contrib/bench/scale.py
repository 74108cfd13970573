#!/usr/bin/env python3
"""scale.py: scale benchmark of kmirrord (one flow over 10,000 partitions).

Starts two local single-node KRaft clusters with kmtestbed (source and
target), runs `kmirrord -d -m` on an mm2.properties with one flow src->dst
whose `topics` is the regex `scale\\..*`, then creates 1,000 topics x 10
partitions on the source and measures:

  - how long kmirrord takes to notice them and create the 1,000 remote
    topics `src.scale.NNNN` on the target (first, 500th, last);
  - that the flow really covers every partition: a few records are produced
    to each of the 10,000 source partitions and the run waits until
    kmirrord's progress topic says all of them are replicated (then the
    remote topics' stable offsets are checked too);
  - memory: RSS of the kmirrord process tree (supervisor + every worker)
    before the topics exist and once all partitions are replicated and idle,
    hence memory per partition;
  - idle CPU: CPU seconds of the tree over an idle window (no produce), as %
    of one core, and the brokers' CPU in the same window (not counted).

Writes the results as Markdown (docs/scale.md unless --markdown) and prints
them. See contrib/bench/README.md.

    python3 contrib/bench/scale.py                         # the full run
    python3 contrib/bench/scale.py --topics 50 --idle-s 20 --markdown /tmp/s.md

Exit status: 0 ok, 1 a case failed (timeout, incomplete, kmirrord died),
2 usage/setup error.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import replicate  # noqa: E402  (also puts contrib/testbed on sys.path)
import kmtestbed  # noqa: E402
from replicate import (Sampler, children_of, ctl_status, kill_tree, log, proc_rss_kb,  # noqa: E402
                       wait_group_empty, worker_kind)

SRC, DST = "src", "dst"

# Broker settings for 10,000+ partitions on one node. Every partition's
# active segment has an offset index and a time index, preallocated (sparse)
# to log.index.size.max.bytes and mmapped: the default 10 MB makes 20,000
# maps of 10 MB each. 64 KB is plenty for a few records per partition (the
# segment rolls when its index is full) and keeps the maps small; the map
# count (2 per partition) stays below vm.max_map_count (65530 by default).
# log.segment.bytes is not preallocated (log.preallocate=false), so it stays.
BROKER_PROPS = {
    "log.index.size.max.bytes": "65536",
}


# ---------------------------------------------------------------- helpers


def now():
    return time.monotonic()


class Failure(Exception):
    """A case failed: the message says what and where to look."""


def tree_rss(sup_pid):
    """{pid: (kind, rss_kb)} of the live kmirrord tree, read now."""
    out = {}
    for pid in {sup_pid} | children_of([sup_pid]):
        rss = proc_rss_kb(pid)
        if rss is None:
            continue
        out[pid] = (worker_kind(pid, sup_pid), rss)
    return out


def status_workers(st):
    return [w for f in (st or {}).get("flows", []) for w in f.get("workers", [])]


def check_alive(sup, ctl, sock, log_path):
    """Raise Failure if kmirrord exited or a worker failed for good; return
    the status (or None when the control socket did not answer)."""
    if sup.poll() is not None:
        raise Failure("kmirrord exited with %s; log %s ends:\n%s"
                      % (sup.returncode, log_path, log_tail(log_path)))
    st = ctl_status(ctl, sock)
    bad = [w for w in status_workers(st) if w.get("state") in ("failed", "fatal")]
    if bad:
        raise Failure("%s worker %s is %s: %s; log %s ends:\n%s" % (
            bad[0].get("role"), bad[0].get("index"), bad[0].get("state"),
            bad[0].get("last_error") or bad[0].get("last_exit"), log_path, log_tail(log_path)))
    return st


def log_tail(path, n=15):
    with contextlib.suppress(OSError), open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])
    return "(no log)"


def log_lines(path, pattern):
    rx = re.compile(pattern)
    out = []
    with contextlib.suppress(OSError), open(path, errors="replace") as f:
        for line in f:
            if rx.search(line):
                out.append(line.rstrip("\n"))
    return out


def admin(cluster):
    a = cluster.admin(**{"socket.timeout.ms": 60000})
    a.list_topics(timeout=15)          # connect first
    return a


def list_topics(adm, timeout=30):
    return adm.list_topics(timeout=timeout).topics


def delete_prefix(cluster, names_rx, what, timeout=300):
    """Delete every topic of `cluster` whose name matches `names_rx`, in
    batches, and wait (bounded) until they are gone."""
    adm = admin(cluster)
    rx = re.compile(names_rx)
    todo = sorted(t for t in list_topics(adm) if rx.fullmatch(t))
    if not todo:
        return 0
    log("deleting %d %s topics on %s ...", len(todo), what, cluster.name)
    for i in range(0, len(todo), 200):
        futs = adm.delete_topics(todo[i:i + 200], operation_timeout=60, request_timeout=90)
        for t, f in futs.items():
            try:
                f.result(120)
            except Exception as e:
                log("cannot delete %s on %s: %s", t, cluster.name, e)
    deadline = now() + timeout
    while now() < deadline:
        left = [t for t in list_topics(adm) if rx.fullmatch(t)]
        if not left:
            return len(todo)
        time.sleep(1)
    raise Failure("%d %s topics still on %s after %ds" % (len(left), what, cluster.name, timeout))


def end_offsets(adm, tps, committed=True, timeout=120):
    """{(topic, p): end offset} of the given (topic, p), one ListOffsets
    call per 2,000 partitions; -1 where it failed."""
    from confluent_kafka import TopicPartition, IsolationLevel
    from confluent_kafka.admin import OffsetSpec
    out = {}
    iso = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    tps = list(tps)
    for i in range(0, len(tps), 2000):
        req = {TopicPartition(t, p): OffsetSpec.latest() for t, p in tps[i:i + 2000]}
        futs = adm.list_offsets(req, isolation_level=iso, request_timeout=timeout)
        for tp, f in futs.items():
            try:
                out[(tp.topic, tp.partition)] = f.result(timeout + 10).offset
            except Exception:
                out[(tp.topic, tp.partition)] = -1
    return out


class TargetWatcher(threading.Thread):
    """Polls the target's topic list every `interval` s and notes when each
    wanted remote topic was first seen, and first seen with all its
    partitions."""

    def __init__(self, cluster, wanted, partitions, interval=0.5):
        super().__init__(daemon=True)
        self.adm = admin(cluster)
        self.wanted = set(wanted)
        self.partitions = partitions
        self.interval = interval
        self.seen = {}        # topic -> first time it was listed
        self.full = {}        # topic -> first time it had all partitions
        self.polls = 0
        self.errors = 0
        self.last_error = None
        self.poll_s_max = 0.0
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop_ev.is_set():
            t = now()
            try:
                topics = self.adm.list_topics(timeout=20).topics
                seen_at = now()
                with self.lock:
                    for name in self.wanted.intersection(topics):
                        md = topics[name]
                        if md.error is not None:
                            continue
                        self.seen.setdefault(name, seen_at)
                        if len(md.partitions) >= self.partitions:
                            self.full.setdefault(name, seen_at)
                    self.polls += 1
                    self.poll_s_max = max(self.poll_s_max, seen_at - t)
                    if len(self.full) == len(self.wanted):
                        return
            except Exception as e:
                self.errors += 1
                self.last_error = str(e)
            self.stop_ev.wait(max(0.0, self.interval - (now() - t)))

    def counts(self):
        with self.lock:
            return len(self.seen), len(self.full)

    def stop(self):
        self.stop_ev.set()
        self.join(30)


# ---------------------------------------------------------------- clusters


def open_clusters(a, clusters, started):
    """Start both clusters (or take over those left by --keep with --reuse)
    with BROKER_PROPS; fills `clusters` and `started`."""
    replicate.open_clusters(clusters, started, a.workdir,
                            (("scale-src", a.source_port), ("scale-dst", a.target_port)),
                            a.kafka_version, ["-Xmx%s" % a.broker_heap,
                                              "-Xms%s" % a.broker_heap], a.reuse, a.keep,
                            extra_config=BROKER_PROPS, start_timeout=180)


def broker_limits(pid):
    """Max open files of the broker process and the host's map limit."""
    out = {}
    with contextlib.suppress(OSError), open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                out["nofile"] = int(line.split()[3])
    with contextlib.suppress(OSError, ValueError), open("/proc/sys/vm/max_map_count") as f:
        out["max_map_count"] = int(f.read())
    return out


def broker_usage(pid):
    """Open files, memory maps and RSS of a broker JVM now."""
    out = {}
    with contextlib.suppress(OSError):
        out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    with contextlib.suppress(OSError), open("/proc/%d/maps" % pid) as f:
        out["maps"] = sum(1 for _ in f)
    out["rss_kb"] = proc_rss_kb(pid)
    return out


# ---------------------------------------------------------------- one case


def mm2_properties(a, src, dst, run_dir, prefix, tasks):
    text = """# written by contrib/bench/scale.py
clusters = {S}, {T}
{S}.bootstrap.servers = {A}
{T}.bootstrap.servers = {B}
{S}->{T}.enabled = true
{S}->{T}.topics = {prefix}\\..*
{tasks}
{rf}
# how often new topics are looked for: MM2's default is 600 s
refresh.topics.interval.seconds = {refresh}

# --- kmirrord's own settings (MM2 ignores them)
kmirrord.pidfile = {d}/kmirrord.pid
kmirrord.control_socket = {d}/kmirrord.sock
kmirrord.status_interval_ms = {status}
""".format(S=SRC, T=DST, A=src.bootstrap(), B=dst.bootstrap(), prefix=prefix,
           tasks="tasks.max = %d\n" % tasks if tasks != 1 else "", refresh=a.refresh_s,
           d=run_dir, status=a.status_interval_ms, rf=kmtestbed.MM2_RF_PROPERTIES)
    for line in a.mm2_set or []:
        text += line + "\n"
    return text


def run_case(a, src, dst, tasks, prefix):
    """One case: start kmirrord, baseline, create topics, wait, produce,
    wait, idle window. Returns the result dict (ok or not)."""
    run_dir = os.path.join(a.workdir, "run-%s-t%d-%d" % (time.strftime("%Y%m%d-%H%M%S"), tasks,
                                                        os.getpid()))
    os.makedirs(run_dir)
    ntop, nparts = a.topics, a.partitions
    total_parts = ntop * nparts
    width = max(4, len(str(ntop - 1)))
    names = ["%s.%0*d" % (prefix, width, i) for i in range(ntop)]
    remotes = ["%s.%s" % (SRC, n) for n in names]
    topic_rx = re.escape(prefix) + r"\..*"
    res = {"tasks": tasks, "prefix": prefix, "topics": ntop, "partitions_per_topic": nparts,
           "partitions": total_parts, "run_dir": run_dir, "ok": False, "failure": None}
    props = os.path.join(run_dir, "mm2.properties")
    with open(props, "w") as f:
        f.write(mm2_properties(a, src, dst, run_dir, prefix, tasks))
    chk = subprocess.run([a.kmirrord, "-n", "-m", props], capture_output=True, text=True)
    if chk.returncode != 0:
        raise Failure("kmirrord -n rejects %s:\n%s%s" % (props, chk.stdout, chk.stderr))
    log_path = os.path.join(run_dir, "kmirrord.log")
    ctl = os.path.join(os.path.dirname(a.kmirrord), "kmirrorctl")
    sock = os.path.join(run_dir, "kmirrord.sock")

    # leftovers of an earlier run (--reuse) would be "already there"
    delete_prefix(src, topic_rx, "leftover source")
    delete_prefix(dst, re.escape(SRC) + r"\." + topic_rx, "leftover remote")
    wait_group_empty(dst, "kmirror.%s.%s" % (SRC, DST), 60, tasks)

    sadm, tadm = admin(src), admin(dst)
    sup = sampler = watcher = progress = None
    try:
        # ------------------------------------------------ start, ready
        logf = open(log_path, "ab")
        t_start = now()
        sup = subprocess.Popen([a.kmirrord, "-d", "-m", props], stdout=logf,
                               stderr=subprocess.STDOUT)
        logf.close()
        res["kmirrord_pid"] = sup.pid
        sampler = Sampler(sup.pid, {"source_broker": src.pid, "target_broker": dst.pid},
                          a.sample_ms / 1000.0)
        sampler.sample()
        sampler.start()
        log("case tasks=%d: kmirrord started (pid %d), run dir %s", tasks, sup.pid, run_dir)
        deadline = t_start + a.ready_timeout
        while True:
            st = check_alive(sup, ctl, sock, log_path)
            ws = status_workers(st)
            srcw = [w for w in ws if w.get("role") == "source"]
            owned = set()
            for w in srcw:
                for s in str((w.get("status") or {}).get("shards", "")).split(","):
                    if s.strip().isdigit():
                        owned.add(int(s))
            if ws and all(w.get("state") == "running" for w in ws) and \
                    len(srcw) == tasks and owned >= set(range(tasks)):
                break
            if now() > deadline:
                raise Failure("kmirrord not ready in %ds (workers %s, shards owned %s); log %s"
                              % (a.ready_timeout, [(w.get("role"), w.get("index"),
                                                    w.get("state")) for w in ws],
                                 sorted(owned), log_path))
            time.sleep(0.5)
        res["ready_s"] = round(now() - t_start, 2)
        log("ready after %.1fs: %d workers (%s)", res["ready_s"], len(ws),
            ", ".join("%s.%s" % (w.get("role"), w.get("index")) for w in ws))

        # ------------------------------------------------ baseline memory
        base = measure_window(sup, sampler, a.baseline_s, ctl, sock, log_path)
        res["baseline"] = base
        log("baseline (%ds, no scale topics): tree RSS %.1f MB", a.baseline_s,
            base["tree_rss_kb"] / 1024.0)

        # ------------------------------------------------ create topics
        from confluent_kafka.admin import NewTopic
        watcher = TargetWatcher(dst, remotes, nparts, a.watch_interval)
        watcher.start()
        log("creating %d topics x %d partitions on the source (batches of %d) ...",
            ntop, nparts, a.batch)
        res["loadavg_before_create"] = [round(x, 2) for x in os.getloadavg()]
        t_c0 = now()
        for i in range(0, ntop, a.batch):
            futs = sadm.create_topics([NewTopic(n, nparts, 1) for n in names[i:i + a.batch]],
                                      operation_timeout=120, request_timeout=150)
            for n, f in futs.items():
                try:
                    f.result(180)
                except Exception as e:
                    raise Failure("cannot create source topic %s: %s" % (n, e))
        t_c1 = now()
        res["create_source_s"] = round(t_c1 - t_c0, 2)
        log("source topics created and acknowledged in %.1fs (%.0f topics/s)",
            t_c1 - t_c0, ntop / max(1e-6, t_c1 - t_c0))

        # ------------------------------------------------ remote topics
        deadline = t_c1 + a.create_timeout
        next_health = next_log = now()
        while True:
            seen, full = watcher.counts()
            if full == ntop:
                break
            t = now()
            if t >= next_health:
                check_alive(sup, ctl, sock, log_path)
                next_health = t + 2
            if t >= next_log:
                log("  t=%5.1fs remote topics on the target: %d listed, %d with %d partitions",
                    t - t_c1, seen, full, nparts)
                next_log = t + 5
            if t > deadline:
                raise Failure("only %d of %d remote topics complete on the target %ds after "
                              "the source topics were created; log %s"
                              % (full, ntop, a.create_timeout, log_path))
            if not watcher.is_alive():
                raise Failure("target watcher stopped: %s" % watcher.last_error)
            time.sleep(0.5)
        watcher.stop()
        res["loadavg_after_create"] = [round(x, 2) for x in os.getloadavg()]
        full_t = sorted(watcher.full.values())
        seen_t = sorted(watcher.seen.values())
        res["remote_topics"] = {
            "first_s": round(full_t[0] - t_c1, 2),
            "half_s": round(full_t[(ntop + 1) // 2 - 1] - t_c1, 2),
            "all_s": round(full_t[-1] - t_c1, 2),
            "first_listed_s": round(seen_t[0] - t_c1, 2),
            "first_from_first_request_s": round(full_t[0] - t_c0, 2),
            "all_from_first_request_s": round(full_t[-1] - t_c0, 2),
            "rate_topics_per_s": round(ntop / max(1e-6, full_t[-1] - full_t[0]), 1)
            if ntop > 1 else None,
            "watch_polls": watcher.polls, "watch_errors": watcher.errors,
            "watch_poll_s_max": round(watcher.poll_s_max, 2),
        }
        rt = res["remote_topics"]
        log("all %d remote topics complete: first %.1fs, %d-th %.1fs, last %.1fs after the "
            "source creation was acknowledged", ntop, rt["first_s"], (ntop + 1) // 2,
            rt["half_s"], rt["all_s"])

        # ------------------------------------------------ produce, replicate
        progress = replicate.TopicsProgressReader(dst, "kmirror-progress.%s.internal" % SRC,
                                                  topic_rx=topic_rx)
        tps = [(n, p) for n in names for p in range(nparts)]
        t_p0 = now()
        produce_all(src, names, nparts, a.records_per_partition, a.size)
        t_p1 = now()
        src_end = end_offsets(sadm, tps, committed=False)
        bad = [tp for tp, o in src_end.items() if o < a.records_per_partition]
        if bad:
            raise Failure("%d source partitions hold fewer than %d records (e.g. %s: %s)"
                          % (len(bad), a.records_per_partition, bad[0], src_end[bad[0]]))
        nrec = sum(src_end.values())
        res["produce_s"] = round(t_p1 - t_p0, 2)
        res["records"] = nrec
        log("produced %d records (%d per partition, %d B) to %d partitions in %.1fs",
            nrec, a.records_per_partition, a.size, total_parts, t_p1 - t_p0)
        deadline = t_p1 + a.replicate_timeout
        next_health = next_log = now()
        while True:
            progress.poll(budget=1.0, wait=0.1)
            done = sum(1 for tp, e in src_end.items() if progress.progress.get(tp, -1) >= e)
            t = now()
            if done == total_parts:
                break
            if t >= next_health:
                check_alive(sup, ctl, sock, log_path)
                next_health = t + 2
            if t >= next_log:
                log("  t=%5.1fs partitions fully replicated (progress topic): %d/%d",
                    t - t_p1, done, total_parts)
                next_log = t + 5
            if t > deadline:
                raise Failure("only %d of %d partitions replicated %ds after the produce "
                              "(progress topic); log %s" % (done, total_parts,
                                                             a.replicate_timeout, log_path))
        t_r = now()
        res["replicate_s"] = round(t_r - t_p1, 2)
        res["progress_records_read"] = progress.records
        # the records are on the target: stable offsets of the remote topics
        # (one more per partition per transaction: commit markers)
        tgt_end = end_offsets(tadm, [("%s.%s" % (SRC, t), p) for t, p in tps])
        short = [(t, p) for (t, p), o in tgt_end.items()
                 if o < src_end[(t[len(SRC) + 1:], p)]]
        res["target_stable_offsets"] = sum(max(0, o) for o in tgt_end.values())
        if short:
            raise Failure("%d remote partitions hold fewer stable offsets than the source "
                          "records (e.g. %s: %s)" % (len(short), short[0], tgt_end[short[0]]))
        log("all %d partitions replicated %.1fs after the produce; remote stable offsets "
            "%d for %d records", total_parts, t_r - t_p1, res["target_stable_offsets"], nrec)

        # ------------------------------------------------ idle
        progress.close()
        progress = None
        settle_end = now() + a.settle_s
        while now() < settle_end:          # let commits, syncs, status settle
            check_alive(sup, ctl, sock, log_path)
            time.sleep(min(2.0, max(0.0, settle_end - now())))
        res["loadavg_before_idle"] = [round(x, 2) for x in os.getloadavg()]
        idle = measure_window(sup, sampler, a.idle_s, ctl, sock, log_path)
        res["idle"] = idle
        res["loadavg_after_idle"] = [round(x, 2) for x in os.getloadavg()]
        res["idle_s"] = a.idle_s
        st = check_alive(sup, ctl, sock, log_path)
        with open(os.path.join(run_dir, "status.json"), "w") as f:
            json.dump(st, f, indent=1)
        ws = status_workers(st)
        res["workers"] = [{"role": w.get("role"), "index": w.get("index"), "pid": w.get("pid"),
                           "state": w.get("state"), "restarts": w.get("restarts"),
                           "partitions_owned": (w.get("status") or {}).get("partitions_owned"),
                           "shards": (w.get("status") or {}).get("shards"),
                           "txn_commits": (w.get("status") or {}).get("txn_commits"),
                           "topics_failed": (w.get("status") or {}).get("topics_failed")}
                          for w in ws]
        owned = sum(int(w["partitions_owned"] or 0) for w in res["workers"]
                    if w["role"] == "source")
        res["partitions_owned"] = owned
        res["brokers"] = {"source": broker_usage(src.pid), "target": broker_usage(dst.pid)}
        res["mem_per_partition_kb"] = round(
            (idle["tree_rss_kb"] - base["tree_rss_kb"]) / total_parts, 2)
        res["mem_total_per_partition_kb"] = round(idle["tree_rss_kb"] / total_parts, 2)
        res["ok"] = True
        log("idle %ds: tree CPU %.2f s (%.1f%% of a core), RSS %.1f MB -> %.1f MB: %.2f kB per "
            "partition", a.idle_s, idle["tree_cpu_s"], idle["tree_cpu_pct"],
            base["tree_rss_kb"] / 1024.0, idle["tree_rss_kb"] / 1024.0,
            res["mem_per_partition_kb"])
    except Failure as e:
        res["failure"] = str(e)
        log("case tasks=%d FAILED: %s", tasks, e)
    finally:
        if watcher is not None:
            watcher.stop()
            if "remote_topics" not in res:
                res["remote_topics_partial"] = {"listed": len(watcher.seen),
                                                "complete": len(watcher.full)}
        if progress is not None:
            progress.close()
        if sampler is not None:
            sampler.stop()
        if sup is not None and "workers" not in res:
            st = ctl_status(ctl, sock) if sup.poll() is None else None
            if st is not None:
                with open(os.path.join(run_dir, "status.json"), "w") as f:
                    json.dump(st, f, indent=1)
                res["workers"] = [{"role": w.get("role"), "index": w.get("index"),
                                   "pid": w.get("pid"), "state": w.get("state"),
                                   "restarts": w.get("restarts"),
                                   "last_error": w.get("last_error")}
                                  for w in status_workers(st)]
        if sup is not None:
            tree = {p["pid"] for p in sampler.process_table()} if sampler else set()
            kill_tree(sup, tree | children_of([sup.pid]))
            res["kmirrord_exit"] = sup.returncode
    # also a worker's raw stderr (no timestamp), e.g. a library's failed assertion
    res["log_errors"] = log_lines(log_path, r" (error|crit|alert|emerg): |^kmirrord: |Assertion")
    res["log_restarts"] = log_lines(log_path, r"supervisor - warn: .* (killed by signal|exited)")
    res["log_hang_kills"] = log_lines(log_path, r"sent no STATUS")
    res["log_warnings"] = log_lines(log_path, r" warn(ing)?: ")
    res["log_created"] = len(log_lines(log_path, r"created %s\.%s" % (SRC, re.escape(prefix))))
    res["log_assign_lines"] = len(log_lines(log_path, r"replicating \d+ more partitions"))
    res["log_path"] = log_path
    return res


def measure_window(sup, sampler, seconds, ctl, sock, log_path):
    """RSS of the tree sampled every second for `seconds` (mean per process),
    CPU seconds of the tree and of the brokers over the window."""
    pt0 = {p["pid"]: p for p in sampler.process_table()}
    snap0 = sampler.snapshot()
    t0 = now()
    rss = {}                      # pid -> [kind, samples...]
    totals = []
    next_health = t0
    end = t0 + seconds
    while True:
        t = now()
        if t >= next_health:
            check_alive(sup, ctl, sock, log_path)
            next_health = t + 5
        cur = tree_rss(sup.pid)
        totals.append(sum(r for _, r in cur.values()))
        for pid, (kind, r) in cur.items():
            rss.setdefault(pid, [kind]).append(r)
        if t >= end:
            break
        time.sleep(min(1.0, max(0.0, end - now())))
    dt = now() - t0
    sampler.sample()
    snap1 = sampler.snapshot()
    pt1 = {p["pid"]: p for p in sampler.process_table()}
    procs = []
    for pid, v in sorted(rss.items()):
        kind, samples = v[0], v[1:]
        cpu = pt1.get(pid, {}).get("cpu_s", 0.0) - pt0.get(pid, {}).get("cpu_s", 0.0)
        procs.append({"pid": pid, "kind": kind, "rss_kb": round(sum(samples) / len(samples)),
                      "rss_max_kb": max(samples), "cpu_s": round(cpu, 3)})
    tree_cpu = sum(snap1["kinds"].values()) - sum(snap0["kinds"].values())
    brokers = {n: round(snap1["brokers"][n] - snap0["brokers"].get(n, 0.0), 2)
               for n in snap1["brokers"]}
    return {"seconds": round(dt, 1), "tree_rss_kb": round(sum(totals) / len(totals)),
            "tree_rss_max_kb": max(totals), "tree_cpu_s": round(tree_cpu, 3),
            "tree_cpu_pct": round(100.0 * tree_cpu / dt, 2), "procs": procs,
            "brokers_cpu_s": brokers,
            "brokers_cpu_pct": {n: round(100.0 * v / dt, 1) for n, v in brokers.items()}}


def produce_all(cluster, names, nparts, per_partition, size):
    from confluent_kafka import Producer
    errors = []

    def on_err(err, msg):
        if err is not None:
            errors.append(err)
    conf = cluster.client_config("PLAINTEXT")
    conf.update({"acks": "all", "linger.ms": 50, "message.timeout.ms": 120000,
                 "queue.buffering.max.messages": 1000000,
                 "delivery.report.only.error": True, "on_delivery": on_err,
                 "logger": kmtestbed._quiet_logger()})
    prod = Producer(conf)
    value = os.urandom(size)
    i = 0
    for n in names:
        for p in range(nparts):
            for _ in range(per_partition):
                while True:
                    try:
                        prod.produce(n, value, key=b"k%d" % i, partition=p)
                        break
                    except BufferError:
                        prod.poll(0.05)
                i += 1
        prod.poll(0)
        if errors:
            break
    left = prod.flush(180)
    if errors:
        raise Failure("produce: %d delivery errors, first: %s" % (len(errors), errors[0]))
    if left:
        raise Failure("produce: %d records not delivered in 180 s" % left)


# ---------------------------------------------------------------- output


def versions(a):
    v = {"kafka_brokers": a.kafka_version}
    with contextlib.suppress(Exception):
        v["kmirrord"] = subprocess.run([a.kmirrord, "-V"], capture_output=True,
                                       text=True, timeout=10).stdout.strip().replace("\n", "; ")
    with contextlib.suppress(Exception):
        v["java"] = subprocess.run(["java", "-version"], capture_output=True,
                                   text=True, timeout=20).stderr.splitlines()[0]
    with contextlib.suppress(Exception):
        import confluent_kafka
        cv = confluent_kafka.version()
        v["confluent_kafka"] = "%s (librdkafka %s)" % (cv[0] if isinstance(cv, tuple) else cv,
                                                       confluent_kafka.libversion()[0])
    v["repo_head"] = replicate.git_head()
    with contextlib.suppress(Exception):
        v["kmirrord_built_from"] = subprocess.run(
            ["git", "-C", os.path.dirname(os.path.dirname(os.path.abspath(a.kmirrord))),
             "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
            timeout=5).stdout.strip() or None
    return v


def machine():
    model, mem = "?", 0
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // (1024 * 1024)
    return {"host": socket.gethostname(), "cpu": model, "cpus": os.cpu_count(),
            "mem_gb": mem, "kernel": platform.release()}


def mb(kb):
    return "-" if kb is None else "%.1f" % (kb / 1024.0)


def fmt(v, f="%.1f"):
    return "-" if v is None else f % v


def proc_label(p, workers):
    w = next((x for x in workers or [] if x.get("pid") == p["pid"]), None)
    if p["kind"] == "supervisor":
        return "supervisor"
    return "%s %s" % (p["kind"], w["index"] if w else "(pid %d)" % p["pid"])


def markdown(results, meta):
    L = ["# kmirrord at scale: one flow over %s partitions\n" % "{:,}".format(
        meta["topics"] * meta["partitions"])]
    L.append("Written by `contrib/bench/scale.py` on %s (run took %.0f s). Reproduce with:\n"
             % (meta["when"], meta["duration_s"]))
    L.append("```sh\nmake\n%s\n```\n" % meta["command"])
    m, v = meta["machine"], meta["versions"]
    L.append("- **Machine**: %s, %d CPUs (%s), %d GB RAM, Linux %s; brokers, kmirrord and "
             "the harness share these CPUs. Load average at the start %s, at the end %s."
             % (m["host"], m["cpus"], m["cpu"], m["mem_gb"], m["kernel"],
                meta["loadavg_start"], meta["loadavg_end"]))
    L.append("- **Versions**: brokers Apache Kafka %s (kmtestbed, single-node KRaft, heap %s "
             "each); %s (built from %s; repo %s); harness confluent_kafka %s."
             % (v.get("kafka_brokers"), meta["broker_heap"], v.get("kmirrord"),
                v.get("kmirrord_built_from"), v.get("repo_head"), v.get("confluent_kafka")))
    L.append("- **Broker settings** added to kmtestbed's: %s. Broker limits: %s."
             % (", ".join("`%s=%s`" % kv for kv in BROKER_PROPS.items()),
                meta.get("broker_limits")))
    L.append("- **Workload**: %d topics `scale.NNNN` x %d partitions = %s partitions on the "
             "source, created with AdminClient `create_topics` in batches of %d; then %d "
             "record(s) of %d B per partition."
             % (meta["topics"], meta["partitions"], "{:,}".format(meta["topics"] *
                                                                 meta["partitions"]),
                meta["batch"], meta["records_per_partition"], meta["size"]))
    L.append("- **kmirrord** runs `kmirrord -d -m mm2.properties`: clusters `src`, `dst`, "
             "`src->dst.enabled = true`, `src->dst.topics = scale\\..*` (a Java regex, as in "
             "MM2), replication factors 1, `refresh.topics.interval.seconds = %d` (MM2's "
             "default is 600 s: with it, noticing new topics alone takes up to 10 minutes), "
             "`kmirrord.status_interval_ms = %d`; everything else MM2's defaults (heartbeats "
             "and checkpoints on, `tasks.max` 1 unless the case says otherwise)."
             % (meta["refresh_s"], meta["status_interval_ms"]))
    if meta.get("mm2_set"):
        L.append("- **Added to mm2.properties** (`--mm2-set`): %s."
                 % ", ".join("`%s`" % x for x in meta["mm2_set"]))
    L.append("")
    L.append("## Results\n")
    cases = results
    hdr = "| figure | " + " | ".join("tasks.max = %d" % r["tasks"] for r in cases) + " |"
    L.append(hdr)
    L.append("|---|" + "--:|" * len(cases))

    def row(name, fn):
        vals = []
        for r in cases:
            try:
                vals.append(fn(r))
            except (KeyError, TypeError, IndexError, ZeroDivisionError):
                vals.append("-")
        L.append("| %s | %s |" % (name, " | ".join(vals)))
    row("result", lambda r: "OK" if r["ok"] else "FAILED")
    row("kmirrord ready (s from start)", lambda r: fmt(r["ready_s"]))
    row("source topics created and acknowledged (s)", lambda r: fmt(r["create_source_s"]))
    row("first remote topic complete (s)", lambda r: fmt(r["remote_topics"]["first_s"]))
    row("%d-th remote topic complete (s)" % ((meta["topics"] + 1) // 2),
        lambda r: fmt(r["remote_topics"]["half_s"]))
    row("**all %d remote topics complete (s)**" % meta["topics"],
        lambda r: "**%s**" % fmt(r["remote_topics"]["all_s"]))
    row("remote topics created per second (first to last)",
        lambda r: fmt(r["remote_topics"]["rate_topics_per_s"]))
    row("produce of %d records (s)" % (meta["topics"] * meta["partitions"] *
                                       meta["records_per_partition"]),
        lambda r: fmt(r["produce_s"]))
    row("all partitions replicated after the produce (s)", lambda r: fmt(r["replicate_s"]))
    row("partitions owned by the source workers", lambda r: "{:,}".format(r["partitions_owned"]))
    row("tree RSS, baseline (MB)", lambda r: mb(r["baseline"]["tree_rss_kb"]))
    row("tree RSS, all partitions, idle (MB)", lambda r: mb(r["idle"]["tree_rss_kb"]))
    row("**memory per partition (kB)** = (idle - baseline) / partitions",
        lambda r: "**%.2f**" % r["mem_per_partition_kb"])
    row("whole tree per partition (kB) = idle / partitions",
        lambda r: "%.2f" % r["mem_total_per_partition_kb"])
    row("**idle CPU of the tree (% of one core)**",
        lambda r: "**%.2f%%**" % r["idle"]["tree_cpu_pct"])
    row("idle CPU of the tree (CPU s over the window)",
        lambda r: "%.2f s / %.0f s" % (r["idle"]["tree_cpu_s"], r["idle"]["seconds"]))
    row("baseline CPU of the tree, no scale topics (% of one core)",
        lambda r: "%.2f%%" % r["baseline"]["tree_cpu_pct"])
    row("source broker CPU, same idle window (% of one core)",
        lambda r: "%.1f%%" % r["idle"]["brokers_cpu_pct"]["source_broker"])
    row("target broker CPU, same idle window (% of one core)",
        lambda r: "%.1f%%" % r["idle"]["brokers_cpu_pct"]["target_broker"])
    row("load average (1 min) before the creation / after the last remote topic",
        lambda r: "%s / %s" % (r["loadavg_before_create"][0], r["loadavg_after_create"][0]))
    row("load average (1 min) before / after the idle window",
        lambda r: "%s / %s" % (r["loadavg_before_idle"][0], r["loadavg_after_idle"][0]))
    row("worker restarts", lambda r: str(sum(int(w["restarts"] or 0) for w in r["workers"])))
    row("workers killed by the hang watchdog (no STATUS)",
        lambda r: str(len(r["log_hang_kills"])))
    row("kmirrord log: error / warning lines",
        lambda r: "%d / %d" % (len(r["log_errors"]), len(r["log_warnings"])))
    L.append("")
    for r in cases:
        L.append("### tasks.max = %d: per process\n" % r["tasks"])
        if r.get("failure"):
            L.append("**Failed**: %s\n" % r["failure"].replace("\n", " ")[:2000])
        if "idle" in r and "baseline" in r:
            base = {p["pid"]: p for p in r["baseline"]["procs"]}
            L.append("| process | partitions owned | RSS baseline MB | RSS idle MB | "
                     "idle CPU s | idle CPU % of a core |")
            L.append("|---|--:|--:|--:|--:|--:|")
            for p in r["idle"]["procs"]:
                w = next((x for x in r.get("workers") or [] if x.get("pid") == p["pid"]), {})
                b = base.get(p["pid"])
                L.append("| %s | %s | %s | %s | %.2f | %.2f%% |" % (
                    proc_label(p, r.get("workers")), w.get("partitions_owned") or "-",
                    mb(b["rss_kb"]) if b else "- (restarted?)", mb(p["rss_kb"]), p["cpu_s"],
                    100.0 * p["cpu_s"] / r["idle"]["seconds"]))
            bu = r.get("brokers", {})
            L.append("")
            L.append("Brokers at the end of the idle window: source %s; target %s."
                     % (bu.get("source"), bu.get("target")))
        L.append("")
        L.append("Run directory `%s` (mm2.properties, kmirrord.log, status.json)." % r["run_dir"])
        if r.get("log_errors") or r.get("log_warnings"):
            L.append("")
            L.append("First log lines of level warning or worse:\n")
            L.append("```")
            L.extend((r["log_errors"] + [x for x in r.get("log_restarts", [])
                                         if x not in r["log_warnings"][:12]] +
                      r["log_warnings"])[:16])
            L.append("```")
        L.append("")
    L.append("## How the figures are taken\n")
    L.append("- *ready*: from spawning kmirrord until `kmirrorctl --json status` shows every "
             "worker `running` and the source workers owning all `tasks.max` shards.")
    L.append("- *baseline*: the kmirrord tree (supervisor, source, checkpoint and heartbeat "
             "workers, found by parent pid) with no `scale.*` topic on the source, RSS (VmRSS) "
             "read every second for %d s and averaged." % meta["baseline_s"])
    L.append("- *remote topics*: the clock starts when the last `create_topics` batch is "
             "acknowledged on the source; a thread lists the target's topics every %.1f s "
             "and notes when each `src.scale.NNNN` first shows with all its partitions. With "
             "`refresh.topics.interval.seconds = %d` kmirrord notices new topics within that "
             "period (topics created while the batches are still going may be noticed before "
             "the clock starts; the JSON also has the times from the first request)."
             % (meta["watch_interval"], meta["refresh_s"]))
    L.append("- *replicated*: kmirrord commits the next source offset of every partition to "
             "`kmirror-progress.src.internal` in the same transaction as the records; a "
             "read_committed consumer follows it until every one of the partitions reached "
             "its source end offset. Then the remote partitions' stable offsets are checked "
             "(ListOffsets, read_committed) to be at least the source's.")
    L.append("- *idle*: after %d s of settling, a %d s window without produce: CPU seconds "
             "(utime+stime of all threads, `/proc/PID/stat`) of the tree, as %% of one core; "
             "RSS read every second and averaged. The brokers' JVM CPU in the same window is "
             "shown apart and not counted. *memory per partition* = (idle RSS - baseline "
             "RSS) / partitions: what the partitions cost kmirrord (consumer and producer "
             "state in librdkafka, per-partition bookkeeping, metadata of 1,000 more topics "
             "on each cluster)." % (meta["settle_s"], meta["idle_s"]))
    if meta.get("notes"):
        L.append("")
        L.append("## Notes\n")
        L.extend(meta["notes"])
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------- main


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = ap.add_argument_group("workload")
    g.add_argument("--topics", type=int, default=1000)
    g.add_argument("--partitions", type=int, default=10, help="per topic")
    g.add_argument("--batch", type=int, default=100, help="topics per create_topics call")
    g.add_argument("--records-per-partition", type=int, default=1)
    g.add_argument("--size", type=int, default=100, help="bytes per record value")
    g = ap.add_argument_group("kmirrord")
    g.add_argument("--kmirrord", default=os.path.join(REPO, "build", "kmirrord"),
                   help="the binary; kmirrorctl is taken from the same directory")
    g.add_argument("--tasks", default="1",
                   help="comma list of tasks.max values, one case each (e.g. 1,2); the "
                   "first case uses topics scale.NNNN, later ones scale<k>.NNNN")
    g.add_argument("--refresh-s", type=int, default=5,
                   help="refresh.topics.interval.seconds (MM2's default is 600)")
    g.add_argument("--status-interval-ms", type=int, default=1000)
    g.add_argument("--mm2-set", action="append", metavar="LINE",
                   help="extra line for mm2.properties, e.g. 'src.consumer.fetch.wait.max.ms "
                   "= 500' (repeatable)")
    g = ap.add_argument_group("timing")
    g.add_argument("--baseline-s", type=int, default=10)
    g.add_argument("--settle-s", type=int, default=15,
                   help="quiet seconds between the end of replication and the idle window")
    g.add_argument("--idle-s", type=int, default=60)
    g.add_argument("--ready-timeout", type=int, default=120)
    g.add_argument("--create-timeout", type=int, default=900,
                   help="bound on the remote topics, from the source creation")
    g.add_argument("--replicate-timeout", type=int, default=600)
    g.add_argument("--watch-interval", type=float, default=1.0,
                   help="period of the target topic listing")
    g.add_argument("--sample-ms", type=int, default=1000, help="CPU sampling period")
    replicate.cluster_options(ap, "/tmp/kmirror-scale", 29092, "2g")
    g = ap.add_argument_group("output")
    g.add_argument("--markdown", default=os.path.join(REPO, "docs", "scale.md"))
    g.add_argument("--json", metavar="FILE", help="append the results as one JSON line")
    g.add_argument("--note", action="append", default=[],
                   help="a paragraph under Notes in the Markdown (repeatable)")
    g.add_argument("--notes-file", help="a Markdown file whose text goes under Notes")
    a = ap.parse_args(argv)

    try:
        tasks_list = [int(x) for x in a.tasks.split(",") if x.strip()]
    except ValueError:
        ap.error("--tasks: a comma list of integers")
    if not tasks_list or any(not 1 <= t <= 256 for t in tasks_list):
        ap.error("--tasks: values 1..256")
    replicate.check_cluster_options(ap, a)
    if not os.access(os.path.join(os.path.dirname(a.kmirrord), "kmirrorctl"), os.X_OK):
        ap.error("no kmirrorctl next to %s" % a.kmirrord)
    if a.topics < 1 or a.partitions < 1 or a.records_per_partition < 1 or a.batch < 1:
        ap.error("--topics, --partitions, --records-per-partition, --batch must be >= 1")

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    import logging
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.makedirs(a.workdir, exist_ok=True)
    t_begin = now()
    load0 = [round(x, 2) for x in os.getloadavg()]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    clusters, started, results = [], [], []
    rc = 0
    limits = None
    try:
        open_clusters(a, clusters, started)
        src, dst = clusters
        limits = broker_limits(src.pid)
        need = 2 * a.topics * a.partitions * len(tasks_list)
        if limits.get("nofile") and limits["nofile"] < a.topics * a.partitions + 2000:
            log("warning: the brokers may open %d files (one per partition segment) but "
                "may open only %d", a.topics * a.partitions, limits["nofile"])
        if limits.get("max_map_count") and limits["max_map_count"] < need + 10000:
            log("warning: vm.max_map_count %d may be short of %d index maps",
                limits["max_map_count"], need)
        for k, tasks in enumerate(tasks_list):
            prefix = "scale" if k == 0 else "scale%d" % (k + 1)
            try:
                r = run_case(a, src, dst, tasks, prefix)
            except Failure as e:
                r = {"tasks": tasks, "ok": False, "failure": str(e), "run_dir": "-"}
                log("case tasks=%d FAILED: %s", tasks, e)
            results.append(r)
            if not r["ok"]:
                rc = 1
            # the next case (or a later --reuse run) needs a clean cluster
            if k + 1 < len(tasks_list) or a.keep:
                with contextlib.suppress(Failure, Exception):
                    delete_prefix(src, re.escape(prefix) + r"\..*", "source")
                    delete_prefix(dst, re.escape(SRC) + r"\." + re.escape(prefix) + r"\..*",
                                  "remote")
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    except (kmtestbed.TestbedError, Failure) as e:
        log("error: %s", e)
        rc = 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        replicate.stop_clusters(clusters, started, a.keep, a.workdir)
    if results:
        notes = list(a.note)
        if a.notes_file:
            with open(a.notes_file) as f:
                notes.append(f.read().rstrip("\n"))
        meta = {"when": when, "duration_s": now() - t_begin, "machine": machine(),
                "versions": versions(a), "loadavg_start": load0,
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                "command": "python3 contrib/bench/scale.py " + " ".join(
                    x if re.fullmatch(r"[\w@%+=:,./-]+", x) else "'%s'" % x for x in argv),
                "topics": a.topics, "partitions": a.partitions, "batch": a.batch,
                "records_per_partition": a.records_per_partition, "size": a.size,
                "refresh_s": a.refresh_s, "status_interval_ms": a.status_interval_ms,
                "broker_heap": a.broker_heap, "broker_limits": limits,
                "baseline_s": a.baseline_s, "settle_s": a.settle_s, "idle_s": a.idle_s,
                "watch_interval": a.watch_interval, "notes": notes,
                "mm2_set": a.mm2_set or []}
        text = markdown(results, meta)
        os.makedirs(os.path.dirname(os.path.abspath(a.markdown)), exist_ok=True)
        with open(a.markdown, "w") as f:
            f.write(text)
        print(text)
        log("wrote %s (%.0f s in all)", a.markdown, now() - t_begin)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps({"meta": meta, "results": results}, sort_keys=True) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
