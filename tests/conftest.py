"""pytest fixtures for kmirror's system tests.

Kafka clusters (contrib/testbed/kmtestbed.py), all session-scoped:
    cluster_a, cluster_b  Kafka 3.9.x (--kafka-version / $KMIRROR_KAFKA_VERSION
                          to run them on another version), base ports 19092
                          and 19192, started together in parallel on first use
    cluster_43            Kafka 4.3.1, base port 19292, started only if a
                          test asks for it
    run_dir               $KMIRROR_TEST_DIR or /tmp/kmirror-test-<pid>;
                          removed after a fully green run unless
                          $KMIRROR_TEST_KEEP is set
    pki                   dict file name -> path of the test PKI

$KMIRROR_TEST_PORT_OFFSET shifts every port (for concurrent runs).
Start times are printed in the terminal summary.
"""

import os
import re
import shutil
import signal
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS_DIR)
for _p in (os.path.join(REPO, "contrib", "testbed"), TESTS_DIR):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import kmtestbed  # noqa: E402

PORT_OFFSET = int(os.environ.get("KMIRROR_TEST_PORT_OFFSET", "0"))
CLUSTER_A_PORT = 19092 + PORT_OFFSET
CLUSTER_B_PORT = 19192 + PORT_OFFSET
CLUSTER_43_PORT = 19292 + PORT_OFFSET
COMPAT_VERSION = kmtestbed.COMPAT_VERSION          # 4.3.1
CLUSTER_START_TIMEOUT = 120

# (label, seconds) of every cluster start, for the terminal summary.
_start_times = []
_run_dir_state = {}


def pytest_addoption(parser):
    parser.addoption("--kafka-version",
                     default=os.environ.get("KMIRROR_KAFKA_VERSION",
                                            kmtestbed.DEFAULT_VERSION),
                     help="Apache Kafka version of cluster_a and cluster_b "
                          "(default %(default)s)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "heavy: hundreds of thousands of records or an Apache MM2 run; "
        "the sanitizer pass of CI leaves these out (-m 'not heavy')")
    # A CI timeout sends SIGTERM: turn it into an interrupt so that session
    # fixtures still stop the brokers (they run in their own sessions and
    # would otherwise outlive pytest).
    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, on_term)


def _reap_orphans():
    """Kill brokers left by an earlier pytest that died without teardown
    (SIGKILL): they run from /tmp/kmirror-test-<pid> of a pid now gone."""
    for pid in kmtestbed.pids_using("/tmp/kmirror-test-"):
        m = None
        for arg in kmtestbed.cmdline(pid):
            m = m or re.search(rb"/tmp/kmirror-test-(\d+)/", arg)
        if m and int(m.group(1)) != os.getpid() and not kmtestbed.pid_alive(int(m.group(1))):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------- test bed


@pytest.fixture(scope="session")
def kafka_version(request):
    return request.config.getoption("--kafka-version")


@pytest.fixture(scope="session")
def run_dir():
    d = os.environ.get("KMIRROR_TEST_DIR")
    _run_dir_state["auto"] = not d
    d = os.path.abspath(d or "/tmp/kmirror-test-%d" % os.getpid())
    _reap_orphans()
    os.makedirs(d, exist_ok=True)
    _run_dir_state["dir"] = d
    return d


@pytest.fixture(scope="session")
def pki():
    return kmtestbed.make_pki()


def _new_cluster(name, port, version, run_dir):
    # Fetch outside the timed start, so start times never include downloads.
    kmtestbed.fetch(version)
    return kmtestbed.Cluster(name, port, version=version, workdir=run_dir,
                             jvm_opts=kmtestbed.QUICK_START_OPTS)


def _start(clusters):
    """Start clusters in parallel; return the wall time."""
    try:
        return kmtestbed.start_parallel(clusters, timeout=CLUSTER_START_TIMEOUT)
    except kmtestbed.TestbedError as e:
        if "already in use" in str(e):
            raise kmtestbed.TestbedError(
                "%s\n(another pytest run using the same ports? set "
                "KMIRROR_TEST_PORT_OFFSET=1000, say, for one of them)" % e) from e
        raise


def _stop_all(clusters):
    errors = []
    for c in clusters:
        try:
            c.stop()
        except Exception as e:     # stop the others, then report
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def _clusters_ab(run_dir, pki, kafka_version):
    a = _new_cluster("a", CLUSTER_A_PORT, kafka_version, run_dir)
    b = _new_cluster("b", CLUSTER_B_PORT, kafka_version, run_dir)
    try:
        wall = _start([a, b])
        _start_times.append(("clusters a+b (Kafka %s) in parallel" % kafka_version, wall))
        _start_times.append(("  cluster a", a.start_seconds))
        _start_times.append(("  cluster b", b.start_seconds))
        yield a, b
    finally:
        _stop_all([a, b])


@pytest.fixture(scope="session")
def cluster_a(_clusters_ab):
    return _clusters_ab[0]


@pytest.fixture(scope="session")
def cluster_b(_clusters_ab):
    return _clusters_ab[1]


@pytest.fixture(scope="session")
def cluster_43(run_dir, pki):
    c = _new_cluster("k43", CLUSTER_43_PORT, COMPAT_VERSION, run_dir)
    try:
        _start([c])
        _start_times.append(("cluster k43 (Kafka %s)" % COMPAT_VERSION, c.start_seconds))
        yield c
    finally:
        _stop_all([c])


# ---------------------------------------------------------------- kmirrord
# (fixtures that build and run the kmirrord binary go here)


# ---------------------------------------------------------------- reporting


def pytest_terminal_summary(terminalreporter):
    if not _start_times:
        return
    terminalreporter.section("kmirror test bed")
    for label, secs in _start_times:
        terminalreporter.write_line("%-45s started in %5.1f s" % (label, secs))
    if _run_dir_state.get("dir") and os.path.isdir(_run_dir_state["dir"]):
        terminalreporter.write_line("run directory (logs): %s" % _run_dir_state["dir"])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    # Runs after session fixtures are torn down (clusters stopped).
    d = _run_dir_state.get("dir")
    if d and _run_dir_state.get("auto") and exitstatus == 0 \
            and not os.environ.get("KMIRROR_TEST_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- kmirrord runs


@pytest.fixture
def kmirrord(run_dir, request):
    """Factory: kmirrord(name, config_text, env=None) -> kmd.Kmirrord (not
    started). Every instance is stopped, and its processes killed, when the
    test ends."""
    import kmd
    made = []

    def make(name, text, env=None):
        k = kmd.Kmirrord(run_dir, name, text, env=env)
        made.append(k)
        return k
    yield make
    for k in made:
        k.kill()
    for k in made:
        log = k.log_text()
        for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert mark not in log, "sanitizer report in %s" % k.log
