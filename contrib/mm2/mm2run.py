#!/usr/bin/env python3
"""mm2run: Apache Kafka MirrorMaker 2 (dedicated mode) for kmirror's tests
and benchmarks.

A module and a command-line tool. It fetches MirrorMaker 2
(`org.apache.kafka:connect-mirror` and its run-time dependencies:
connect-runtime, connect-mirror-client, kafka-clients, ..., plus a log4j2
logging backend) from Maven Central with Maven, the same way
contrib/testbed/kmtestbed.py fetches Kafka: a throwaway pom and
`mvn dependency:copy-dependencies` into <cache>/mm2-<version>/libs, where
<cache> is $KMIRROR_CACHE or ~/.cache/kmirror. A completed fetch leaves a
marker and is not repeated.

It runs MM2 as a plain JVM process, in its own process group, exactly as
`connect-mirror-maker.sh` would:

    java -Xmx512m -cp 'libs/*' org.apache.kafka.connect.mirror.MirrorMaker mm2.properties

with MM2's log (log4j2, INFO) in <workdir>/mm2.log.

Python API:

    m = MM2("/path/mm2.properties", workdir="/tmp/x")   # version="4.3.1", heap="512m"
    m.start()                      # returns at once; the JVM starts in the background
    m.wait_until_replicating()     # a source task polls (or: a topic has N records)
    m.stop()                       # TERM, bounded wait, KILL; proves no process is left
    m.rss_kb(), m.peak_rss_kb(), m.cpu_seconds(), m.log_text()

Only the standard library is needed to fetch and run; confluent_kafka is
imported lazily by wait_until_replicating(target=..., topic=...).

CLI:
    mm2run.py fetch [--version V]
    mm2run.py classpath [--version V]
    mm2run.py run mm2.properties [--workdir D] [--version V] [--heap 512m]
        (runs MM2 until Ctrl-C or SIGTERM, then stops it cleanly)
"""

import argparse
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "testbed"))
# the test bed's cache, locking, Maven and /proc helpers serve here too
from kmtestbed import (TestbedError, cache_dir, _file_lock, _mvn_copy,  # noqa: E402
                       pid_alive, cmdline, _java)

DEFAULT_VERSION = "4.3.1"
MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
# The log4j2 version Apache Kafka ships with each release (its libs/ has
# log4j-api, log4j-core and log4j-slf4j-impl of this version). Maven's
# connect-mirror brings slf4j-api only, no backend: we add these three.
LOG4J_VERSIONS = {"4.3.1": "2.25.4"}
LOG4J_DEFAULT = "2.25.4"

log = logging.getLogger("mm2run")


class MM2Error(TestbedError):
    """Anything that went wrong while fetching, starting or stopping MM2."""


# ---------------------------------------------------------------- paths


def mm2_home(version=DEFAULT_VERSION):
    return os.path.join(cache_dir(), "mm2-%s" % version)


def libs_dir(version=DEFAULT_VERSION):
    return os.path.join(mm2_home(version), "libs")


# ---------------------------------------------------------------- fetch

def fetched(version=DEFAULT_VERSION):
    return os.path.exists(os.path.join(mm2_home(version), ".fetched"))


def fetch(version=DEFAULT_VERSION, timeout=900):
    """Download MirrorMaker 2 `version` and everything it needs at run time
    into <cache>/mm2-<version>/libs with Maven. Idempotent: a completed
    fetch leaves a marker and is skipped next time. Returns the libs
    directory."""
    home = mm2_home(version)
    marker = os.path.join(home, ".fetched")
    if os.path.exists(marker):
        return libs_dir(version)
    if shutil.which("mvn") is None:
        raise MM2Error("mvn not found: run contrib/setup.sh")
    with _file_lock(os.path.join(cache_dir(), ".fetch-mm2.lock")):
        if os.path.exists(marker):
            return libs_dir(version)
        os.makedirs(home, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".libs-", dir=home)
        try:
            l4j = LOG4J_VERSIONS.get(version, LOG4J_DEFAULT)
            # connect-mirror's runtime scope pulls connect-runtime,
            # connect-mirror-client, connect-api/json/transforms,
            # kafka-clients, Jetty/Jersey (Connect REST classes are loaded
            # even with the REST server off) and slf4j-api 1.7; the log4j2
            # backend and its slf4j 1.x binding are added here.
            deps = [("org.apache.kafka", "connect-mirror", version),
                    ("org.apache.logging.log4j", "log4j-api", l4j),
                    ("org.apache.logging.log4j", "log4j-core", l4j),
                    ("org.apache.logging.log4j", "log4j-slf4j-impl", l4j)]
            _mvn_copy(home, deps, tmp, timeout)
            jars = os.listdir(tmp)
            for needed in ("connect-mirror-%s.jar" % version,
                           "connect-mirror-client-%s.jar" % version,
                           "connect-runtime-%s.jar" % version,
                           "kafka-clients-%s.jar" % version,
                           "log4j-core-%s.jar" % l4j):
                if needed not in jars:
                    raise MM2Error("fetch of MM2 %s lacks %s" % (version, needed))
            slf = [j for j in jars if re.match(r"slf4j-api-[0-9]", j)]
            if slf and slf[0].startswith("slf4j-api-2"):
                # an slf4j 2 API needs the slf4j2 binding instead
                raise MM2Error("MM2 %s uses %s: add log4j-slf4j2-impl to mm2run.fetch"
                               % (version, slf[0]))
            libs = libs_dir(version)
            if os.path.exists(libs):
                shutil.rmtree(libs)
            os.rename(tmp, libs)
            with open(marker, "w") as f:
                f.write("%s %d jars\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"),
                                           len(os.listdir(libs))))
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
    return libs_dir(version)


# ---------------------------------------------------------------- /proc


def mm2_pids(properties_path=None):
    """Live MirrorMaker JVMs (main class in the command line), optionally
    only those running `properties_path`. kmirrord -m on the same file is
    not matched: it is not a java process with MM2's main class."""
    main = MAIN_CLASS.encode()
    want = os.fsencode(os.path.abspath(properties_path)) if properties_path else None
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        cmd = cmdline(int(entry))
        if main in cmd and (want is None or want in cmd) and pid_alive(int(entry)):
            out.append(int(entry))
    return out


def _group_members(pgid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                st = f.read()
            fields = st.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<!-- written by mm2run: everything to this MM2's own log file -->
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="{log}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="org.apache.kafka.common.utils.AppInfoParser" level="warn"/>
    <Logger name="org.reflections" level="error"/>
    <Root level="{level}"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""

# The log line of MirrorSourceTask.start(): "<thread> replicating N
# topic-partitions A->B: [...]".
TASK_STARTED = re.compile(r"replicating (\d+) topic-partitions (\S+)->(\S+):")
STARTED = "Kafka MirrorMaker started"


# ---------------------------------------------------------------- MM2


class MM2:
    """One MirrorMaker 2 dedicated-mode process running `properties_path`,
    with its files (log4j2.xml, mm2.log) in `workdir`."""

    def __init__(self, properties_path, workdir, version=DEFAULT_VERSION, heap="512m",
                 jvm_opts=None, log_level="INFO"):
        self.properties = os.path.abspath(properties_path)
        self.workdir = os.path.abspath(workdir)
        self.version = version
        self.heap = heap
        self.jvm_opts = list(jvm_opts or [])
        self.log_level = log_level
        self.log_file = os.path.join(self.workdir, "mm2.log")
        self.log_config = os.path.join(self.workdir, "log4j2.xml")
        self.proc = None
        self.pid = None
        self.started_at = None      # time.monotonic() of start()
        self.stop_seconds = None
        self._log_offset = 0        # where this start's part of mm2.log begins
        self._peak_rss_kb = 0

    def __repr__(self):
        return "MM2(%s, pid %s)" % (self.properties, self.pid)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def command(self):
        cmd = [_java()]
        if self.heap:
            cmd.append("-Xmx" + self.heap)
        cmd += ["-Djava.awt.headless=true",
                "-Dlog4j2.configurationFile=file:" + self.log_config,
                "-Dkafka.logs.dir=" + self.workdir]
        cmd += self.jvm_opts
        cmd += ["-cp", os.path.join(libs_dir(self.version), "*"), MAIN_CLASS,
                self.properties]
        return cmd

    def running(self):
        return self.pid is not None and pid_alive(self.pid)

    def start(self):
        """Start the JVM (fetching MM2 first if needed) and return at once;
        use wait_until_started() or wait_until_replicating() to wait."""
        if self.running():
            raise MM2Error("MM2 is already running (pid %d)" % self.pid)
        if not os.path.exists(self.properties):
            raise MM2Error("no such file: %s" % self.properties)
        fetch(self.version)
        left = mm2_pids(self.properties)
        if left:
            raise MM2Error("MirrorMaker processes %s already run %s" % (left, self.properties))
        os.makedirs(self.workdir, exist_ok=True)
        with open(self.log_config, "w") as f:
            f.write(_LOG4J2.replace("{log}", self.log_file)
                    .replace("{level}", self.log_level.lower()))
        with open(self.log_file, "a") as f:
            f.write("### mm2run: starting MirrorMaker %s on %s at %s\n"
                    % (self.version, self.properties, time.strftime("%Y-%m-%d %H:%M:%S")))
        self._log_offset = os.path.getsize(self.log_file)
        self._peak_rss_kb = 0
        self.stop_seconds = None
        logf = open(self.log_file, "ab")
        try:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         cwd=self.workdir, start_new_session=True)
        finally:
            logf.close()
        self.pid = self.proc.pid
        log.info("MM2 %s started, pid %d, log %s", self.version, self.pid, self.log_file)
        return self

    # ------------------------------------------------------------ observing

    def log_text(self, whole=False):
        """This start's part of mm2.log (the whole file with whole=True)."""
        try:
            with open(self.log_file, "rb") as f:
                if not whole:
                    f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_excerpt(self, errors=8, tail=30):
        """The first ERROR lines of this start and its last lines."""
        lines = self.log_text().splitlines()
        first = [l for l in lines if re.search(r"\b(ERROR|FATAL)\b|^Caused by:|Exception", l)]
        out = []
        if first:
            out += ["first errors:"] + ["  " + l[:400] for l in first[:errors]] + ["last lines:"]
        return "\n".join(out + ["  " + l[:400] for l in lines[-tail:]])

    def seconds(self):
        """Seconds since start()."""
        return time.monotonic() - self.started_at

    def _check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise MM2Error("MM2 exited with %s; log %s:\n%s"
                           % (self.proc.returncode, self.log_file, self.log_excerpt()))

    def wait_for_log(self, pattern, timeout=120, count=1):
        """Wait until `pattern` (a regex) matches `count` times in this
        start's log; return the last match. Raises MM2Error if MM2 dies or
        on timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            self._sample()
            found = list(rx.finditer(self.log_text()))
            if len(found) >= count:
                return found[count - 1]
            self._check_alive()
            if time.monotonic() >= deadline:
                raise MM2Error("MM2: no %r in its log after %ss; log %s:\n%s"
                               % (pattern, timeout, self.log_file, self.log_excerpt()))
            time.sleep(0.2)

    def wait_until_started(self, timeout=120):
        """Until MirrorMaker logs that it started; returns seconds since start()."""
        self.wait_for_log(re.escape(STARTED), timeout=timeout)
        return self.seconds()

    def wait_until_replicating(self, target=None, topic=None, count=1, timeout=180,
                               flows=1):
        """Wait until MM2 replicates, and return the seconds since start().
        Without `topic`: until `flows` MirrorSourceTasks have started
        polling (their "replicating N topic-partitions" log line). With
        `target` (a kmtestbed.Cluster or a bootstrap string) and `topic`
        (the remote topic's name on the target): until that topic holds at
        least `count` records (sum over partitions of high - low watermark)."""
        deadline = time.monotonic() + timeout
        if topic is None:
            self.wait_for_log(TASK_STARTED.pattern, timeout=timeout, count=flows)
            return self.seconds()
        from confluent_kafka import Consumer, TopicPartition
        bootstrap = target if isinstance(target, str) else target.bootstrap()
        cons = Consumer({"bootstrap.servers": bootstrap, "group.id": "mm2run-probe",
                         "enable.auto.commit": False,
                         "logger": logging.getLogger("mm2run.librdkafka")})
        try:
            n = 0
            while True:
                self._check_alive()
                self._sample()
                try:
                    md = cons.list_topics(topic=topic, timeout=2)
                    t = md.topics.get(topic)
                    if t is not None and t.error is None and t.partitions:
                        n = 0
                        for p in t.partitions:
                            lo, hi = cons.get_watermark_offsets(
                                TopicPartition(topic, p), timeout=2, cached=False)
                            n += hi - lo
                        if n >= count:
                            return self.seconds()
                except Exception:
                    pass
                if time.monotonic() >= deadline:
                    raise MM2Error("MM2: %s has %d of %d records after %ss; log %s:\n%s"
                                   % (topic, n, count, timeout, self.log_file,
                                      self.log_excerpt()))
                time.sleep(0.2)
        finally:
            cons.close()

    def _sample(self):
        """Keep the peak RSS of the process group (VmHWM of each member)."""
        if self.running():
            self._peak_rss_kb = max(self._peak_rss_kb, self.peak_rss_kb(sample=False))

    def pids(self):
        """Live processes of MM2's process group (the JVM: one process)."""
        if self.pid is None:
            return []
        return _group_members(self.pid) if self.running() else []

    def rss_kb(self):
        """Current resident set size of MM2's process group, in KiB."""
        return sum(_status_kb(p, "VmRSS") for p in self.pids())

    def peak_rss_kb(self, sample=True):
        """Peak RSS (VmHWM, summed over the process group) seen so far, in
        KiB; kept after stop() from the last sample."""
        now = sum(_status_kb(p, "VmHWM") for p in self.pids())
        if sample:
            self._peak_rss_kb = max(self._peak_rss_kb, now)
            return self._peak_rss_kb
        return now

    def cpu_seconds(self):
        """User+system CPU seconds of the JVM so far (its threads included)."""
        if not self.running():
            return None
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    # ------------------------------------------------------------ stopping

    def _signal_group(self, sig):
        # Only signal a pid that is still ours (guards against pid reuse).
        if self.pid is None or not pid_alive(self.pid):
            return
        if os.fsencode(self.properties) not in cmdline(self.pid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)   # start_new_session: pgid == pid

    def _wait_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=0.1)
            if not self.running() and not _group_members(self.pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self, timeout=30):
        """SIGTERM MM2's process group (MM2's shutdown hook stops the
        connectors and commits their offsets), wait at most `timeout`
        seconds, then SIGKILL; then check that no process is left (by
        process group and by scanning /proc for MirrorMaker on this file).
        Returns True if it stopped on SIGTERM. Safe to call twice."""
        if self.pid is None:
            return True
        self._sample()
        t0 = time.monotonic()
        clean = True
        self._signal_group(signal.SIGTERM)
        if not self._wait_gone(timeout):
            log.warning("MM2 pid %d did not stop in %ss: SIGKILL", self.pid, timeout)
            clean = False
            self._signal_group(signal.SIGKILL)
            self._wait_gone(10)
        self.stop_seconds = time.monotonic() - t0
        self._finish()
        return clean

    def kill(self):
        """Stop at once with SIGKILL (a crash, or clean-up at a test's end)."""
        if self.pid is None:
            return
        self._sample()
        self._signal_group(signal.SIGKILL)
        self._wait_gone(10)
        self._finish()

    def _finish(self):
        for pid in mm2_pids(self.properties) + _group_members(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while (mm2_pids(self.properties) or _group_members(self.pid)) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=1)
        left = set(mm2_pids(self.properties)) | set(_group_members(self.pid))
        if pid_alive(self.pid):
            left.add(self.pid)
        if left:
            raise MM2Error("MM2: processes %s survived stop" % sorted(left))
        self.proc = None
        self.pid = None


# ---------------------------------------------------------------- CLI


def _cmd_fetch(a):
    print(fetch(a.version))


def _cmd_classpath(a):
    print(os.path.join(fetch(a.version), "*"))


def _cmd_run(a):
    workdir = a.workdir or tempfile.mkdtemp(prefix="mm2run-")
    m = MM2(a.properties, workdir, version=a.version, heap=a.heap)
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    m.start()
    print("MM2 %s pid %d, log %s" % (m.version, m.pid, m.log_file), flush=True)
    try:
        while not stopping and m.running():
            time.sleep(0.5)
    finally:
        rc = m.proc.poll() if m.proc is not None else None
        clean = m.stop()
    if rc is not None:
        print("MM2 exited by itself with %s; log ends:\n%s" % (rc, m.log_excerpt()),
              file=sys.stderr)
        return 1
    print("MM2 stopped%s in %.1fs" % ("" if clean else " (SIGKILL)", m.stop_seconds))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fetch", help="download MirrorMaker 2 jars from Maven Central")
    p.add_argument("--version", default=DEFAULT_VERSION)
    p.set_defaults(fn=_cmd_fetch)
    p = sub.add_parser("classpath", help="print the class path (fetching first)")
    p.add_argument("--version", default=DEFAULT_VERSION)
    p.set_defaults(fn=_cmd_classpath)
    p = sub.add_parser("run", help="run MM2 on an mm2.properties until Ctrl-C")
    p.add_argument("properties")
    p.add_argument("--workdir", default=None, help="for mm2.log (default: a new temp dir)")
    p.add_argument("--version", default=DEFAULT_VERSION)
    p.add_argument("--heap", default="512m")
    p.set_defaults(fn=_cmd_run)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return a.fn(a) or 0
    except MM2Error as e:
        print("mm2run: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
