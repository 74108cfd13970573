#!/usr/bin/env python3
"""kmtestbed: local Apache Kafka clusters for kmirror's tests and benchmarks.

A module and a command-line tool. It fetches Apache Kafka jars from Maven
Central (with Maven), makes a throwaway PKI with the openssl command line,
and runs single-node KRaft clusters on loopback ports, each in its own
directory, as a plain `java ... kafka.Kafka server.properties` process.

Ports of a cluster with base port P (all bound to 127.0.0.1):
    P    PLAINTEXT   (principal User:ANONYMOUS, a super user)
    P+1  SASL_SSL    SCRAM-SHA-256 and SCRAM-SHA-512
    P+2  SSL         ssl.client.auth=required, principal = certificate CN
    P+3  CONTROLLER

SCRAM users (both mechanisms): admin/admin-secret and kmirror/kmirror-secret
(super users), limited/limited-secret (no ACLs: for permission tests).
Client certificates: "client" (CN kmirror-client, super user), "limited"
(CN limited, no ACLs) and "rogue" (CN kmirror-client, signed by a CA the
broker does not trust).

Only the standard library is needed to fetch jars, make certificates and
start or stop clusters; confluent_kafka is imported lazily by the readiness
probe and the client helpers.

CLI:
    kmtestbed.py fetch [--version V]
    kmtestbed.py pki
    kmtestbed.py start --name A --port 19092 [--version V] [--dir D]
    kmtestbed.py stop --name A [--dir D]
    kmtestbed.py status [--dir D]
"""

import argparse
import atexit
import base64
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

DEFAULT_VERSION = "3.9.2"
COMPAT_VERSION = "4.3.1"
SCALA = "2.13"

# user -> password; every user gets both SCRAM mechanisms.
USERS = {
    "admin": "admin-secret",
    "kmirror": "kmirror-secret",
    "limited": "limited-secret",
}
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SUPER_USERS = ("User:admin", "User:ANONYMOUS", "User:kmirror-client",
               "User:kmirror")
LISTENERS = ("PLAINTEXT", "SASL_SSL", "SSL", "CONTROLLER")
PORT_OFFSET = {name: i for i, name in enumerate(LISTENERS)}

JVM_HEAP = ["-Xmx512m", "-Xms256m"]
# Start-up speed matters more than peak throughput for a test broker.
JVM_OPTS = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExplicitGCInvokesConcurrent", "-XX:+UseStringDeduplication",
            "-Djava.awt.headless=true", "-Dsun.net.inetaddr.ttl=60"]
# Opt-in for tests: C1-only JIT starts two brokers on 2 cores ~2 s faster;
# leave it off for benchmarks (brokers then run fully optimised code).
QUICK_START_OPTS = ["-XX:TieredStopAtLevel=1"]
TOOL_JVM_OPTS = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                 "-Djava.awt.headless=true"]

log = logging.getLogger("kmtestbed")


# The test bed's brokers are single: every replication factor an
# mm2.properties for them names is 1 (tests and bench scripts share this).
MM2_RF_PROPERTIES = """replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset-syncs.topic.replication.factor = 1
offset.storage.replication.factor = 1
config.storage.replication.factor = 1
status.storage.replication.factor = 1
"""

class TestbedError(Exception):
    """Anything that went wrong while fetching, starting or stopping."""


# ---------------------------------------------------------------- paths


def cache_dir():
    """The cache root: $KMIRROR_CACHE or ~/.cache/kmirror."""
    d = os.environ.get("KMIRROR_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kmirror")
    return os.path.abspath(d)


def kafka_home(version):
    return os.path.join(cache_dir(), "kafka-%s" % version)


def libs_dir(version):
    return os.path.join(kafka_home(version), "libs")


def pki_dir():
    return os.path.join(cache_dir(), "pki")


def default_run_dir():
    return os.environ.get("KMIRROR_TESTBED_DIR") or "/tmp/kmirror-testbed"


def major(version):
    return int(version.split(".")[0])


@contextlib.contextmanager
def _file_lock(path):
    """An exclusive flock, so parallel fetches or PKI builds do not race."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd, cwd=None, timeout=600, env=None):
    """Run a command, raise TestbedError with its output if it fails."""
    try:
        p = subprocess.run(cmd, cwd=cwd, timeout=timeout, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    except subprocess.TimeoutExpired as e:
        raise TestbedError("timed out after %ss: %s" % (timeout, " ".join(cmd))) from e
    if p.returncode != 0:
        raise TestbedError("failed (exit %d): %s\n%s" % (
            p.returncode, " ".join(cmd), p.stdout[-4000:]))
    return p.stdout


# ---------------------------------------------------------------- fetch

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kmirror.testbed</groupId>
  <artifactId>kafka-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
%s
  </dependencies>
</project>
"""
_DEP = """    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>"""


def _mvn_copy(workdir, deps, outdir, timeout):
    with open(os.path.join(workdir, "pom.xml"), "w") as f:
        f.write(_POM % "\n".join(_DEP % d for d in deps))
    _run(["mvn", "-q", "-B", "dependency:copy-dependencies",
          "-DincludeScope=runtime", "-DoutputDirectory=" + outdir],
         cwd=workdir, timeout=timeout)


def fetched(version=DEFAULT_VERSION):
    return os.path.exists(os.path.join(kafka_home(version), ".fetched"))


def fetch(version=DEFAULT_VERSION, timeout=900):
    """Download Kafka `version` and its run-time dependencies into
    <cache>/kafka-<version>/libs with Maven. Idempotent: a completed fetch
    leaves a marker and is skipped next time. Returns the libs directory."""
    home = kafka_home(version)
    marker = os.path.join(home, ".fetched")
    if os.path.exists(marker):
        return libs_dir(version)
    if shutil.which("mvn") is None:
        raise TestbedError("mvn not found: run contrib/setup.sh")
    with _file_lock(os.path.join(cache_dir(), ".fetch.lock")):
        if os.path.exists(marker):
            return libs_dir(version)
        os.makedirs(home, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".libs-", dir=home)
        try:
            # kafka_2.13 holds kafka.Kafka and kafka.tools.StorageTool on
            # both 3.9 and 4.x; its runtime scope pulls server, raft,
            # metadata, storage, coordinators. kafka-tools is the rest of
            # the command-line tools.
            deps = [("org.apache.kafka", "kafka_" + SCALA, version),
                    ("org.apache.kafka", "kafka-tools", version)]
            _mvn_copy(home, deps, tmp, timeout)
            jars = os.listdir(tmp)
            # 3.9 brings slf4j-reload4j + reload4j (log4j 1.x API) itself.
            # 4.x brings log4j-api/-core and slf4j-api 1.7 but no binding:
            # add log4j-slf4j-impl of the same log4j version.
            if not any(j.startswith(("slf4j-reload4j", "log4j-slf4j")) for j in jars):
                core = [j for j in jars if re.match(r"log4j-core-[0-9]", j)]
                if not core:
                    raise TestbedError("no logging backend among fetched jars")
                l4jver = core[0][len("log4j-core-"):-len(".jar")]
                slf = [j for j in jars if re.match(r"slf4j-api-[0-9]", j)]
                binding = "log4j-slf4j2-impl" if slf and slf[0].startswith("slf4j-api-2") \
                    else "log4j-slf4j-impl"
                sub = tempfile.mkdtemp(prefix=".log-", dir=home)
                _mvn_copy(sub, deps + [("org.apache.logging.log4j", binding, l4jver)],
                          tmp, timeout)
                shutil.rmtree(sub, ignore_errors=True)
            for needed in ("kafka_%s-%s.jar" % (SCALA, version),
                           "kafka-tools-%s.jar" % version,
                           "kafka-clients-%s.jar" % version):
                if not os.path.exists(os.path.join(tmp, needed)):
                    raise TestbedError("fetch of %s lacks %s" % (version, needed))
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


# ---------------------------------------------------------------- pki

_CA_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = %s
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

_LEAF_EXT = """basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = %s
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
%s
"""

PKI_FILES = ("ca.pem", "ca.key", "broker.pem", "broker.key",
             "broker-keystore.pem", "client.pem", "client.key",
             "limited.pem", "limited.key", "rogue-ca.pem", "rogue-ca.key",
             "rogue.pem", "rogue.key")


def _openssl_ca(d, name, cn):
    cnf = os.path.join(d, name + ".cnf")
    with open(cnf, "w") as f:
        f.write(_CA_CNF % cn)
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
          "-keyout", os.path.join(d, name + ".key"),
          "-out", os.path.join(d, name + ".pem"),
          "-days", "3650", "-sha256", "-config", cnf, "-extensions", "v3_ca"])
    os.unlink(cnf)


def _openssl_leaf(d, name, cn, ca, eku, san=""):
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    ext = os.path.join(d, name + ".ext")
    _run(["openssl", "genpkey", "-algorithm", "RSA",
          "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
    _run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn])
    with open(ext, "w") as f:
        f.write(_LEAF_EXT % (eku, ("subjectAltName = " + san) if san else ""))
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, ca + ".pem"),
          "-CAkey", os.path.join(d, ca + ".key"), "-CAcreateserial",
          "-out", os.path.join(d, name + ".pem"), "-days", "3650", "-sha256",
          "-extfile", ext])
    os.unlink(csr)
    os.unlink(ext)


def pki_ready():
    d = pki_dir()
    if not all(os.path.exists(os.path.join(d, f)) for f in PKI_FILES):
        return False
    # Regenerate when a certificate expires within a week.
    for f in ("ca.pem", "broker.pem", "client.pem", "rogue.pem"):
        p = subprocess.run(["openssl", "x509", "-checkend", "604800", "-noout",
                            "-in", os.path.join(d, f)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if p.returncode != 0:
            return False
    return True


def make_pki(force=False):
    """Make (once) a throwaway CA, a broker certificate for localhost and
    127.0.0.1, client certificates (CN kmirror-client, CN limited), and a
    client certificate from a second, untrusted CA. All PEM, keys
    unencrypted PKCS#8. Returns a dict name -> path."""
    d = pki_dir()
    if force or not pki_ready():
        if shutil.which("openssl") is None:
            raise TestbedError("openssl not found: run contrib/setup.sh")
        with _file_lock(os.path.join(cache_dir(), ".pki.lock")):
            if force or not pki_ready():
                os.makedirs(cache_dir(), exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=".pki-", dir=cache_dir())
                try:
                    _openssl_ca(tmp, "ca", "kmirror test CA")
                    _openssl_ca(tmp, "rogue-ca", "kmirror untrusted CA")
                    _openssl_leaf(tmp, "broker", "localhost", "ca",
                                  "serverAuth,clientAuth",
                                  "DNS:localhost,IP:127.0.0.1")
                    _openssl_leaf(tmp, "client", "kmirror-client", "ca", "clientAuth")
                    _openssl_leaf(tmp, "limited", "limited", "ca", "clientAuth")
                    _openssl_leaf(tmp, "rogue", "kmirror-client", "rogue-ca",
                                  "clientAuth")
                    # Kafka's PEM key store: private key, then the chain.
                    with open(os.path.join(tmp, "broker-keystore.pem"), "w") as out:
                        for f in ("broker.key", "broker.pem", "ca.pem"):
                            with open(os.path.join(tmp, f)) as inp:
                                out.write(inp.read())
                    for f in os.listdir(tmp):
                        os.chmod(os.path.join(tmp, f), 0o644)
                    if os.path.exists(d):
                        shutil.rmtree(d)
                    os.rename(tmp, d)
                finally:
                    if os.path.exists(tmp):
                        shutil.rmtree(tmp, ignore_errors=True)
    return {f: os.path.join(d, f) for f in PKI_FILES}


def pki_path(name):
    """Path of a PKI file, e.g. pki_path("ca.pem")."""
    return os.path.join(pki_dir(), name)


# ---------------------------------------------------------------- processes


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def pids_using(path):
    """Live pids whose command line mentions `path` (e.g. a server.properties)."""
    needle = os.fsencode(path)
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            if any(needle in a for a in cmdline(int(entry))) and pid_alive(int(entry)):
                found.append(int(entry))
    return found


def _port_in_use(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _failure_excerpt(path, marker="### kmtestbed: starting", errors=6, tail=25):
    """The first ERROR/FATAL lines of the last start in a broker log and its
    last lines: the cause is usually near the first error, not at the end
    (a failed broker logs pages of shutdown noise)."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log at %s)" % path
    text = text[max(0, text.rfind(marker)):]
    lines = text.splitlines()
    first = [l for l in lines if re.search(r"\b(ERROR|FATAL)\b|^Caused by:|^Error", l)][:errors]
    out = []
    if first:
        out += ["first errors:"] + ["  " + l[:400] for l in first] + ["last lines:"]
    return "\n".join(out + ["  " + l[:400] for l in lines[-tail:]])


def _ephemeral_ports():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _cluster_id():
    """A Kafka-style random Uuid: 16 bytes, url-safe base64, no leading '-'."""
    while True:
        s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not s.startswith("-"):
            return s


def _java():
    jh = os.environ.get("JAVA_HOME")
    if jh and os.path.exists(os.path.join(jh, "bin", "java")):
        return os.path.join(jh, "bin", "java")
    j = shutil.which("java")
    if j is None:
        raise TestbedError("java not found: run contrib/setup.sh")
    return j


def _quiet_logger():
    lg = logging.getLogger("kmtestbed.librdkafka")
    lg.propagate = False
    lg.addHandler(logging.NullHandler())
    return lg


@dataclasses.dataclass
class Record:
    """One consumed record."""
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list          # list of (str, bytes) or None
    timestamp: int         # milliseconds
    timestamp_type: int    # confluent_kafka TIMESTAMP_* constant


_LOG4J1 = """# written by kmtestbed: everything to this cluster's own log file
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.kafka.authorizer.logger=INFO
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
"""

_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<!-- written by kmtestbed: everything to this cluster's own log file -->
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="{log}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Logger name="kafka.authorizer.logger" level="info"/>
    <Logger name="org.apache.kafka.common.utils.AppInfoParser" level="warn"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""

# Clusters started by this process and not detached: killed at exit.
_OWNED = set()
_OWNED_LOCK = threading.Lock()


@atexit.register
def _kill_owned():
    with _OWNED_LOCK:
        owned = list(_OWNED)
    for c in owned:
        with contextlib.suppress(Exception):
            c.kill()


class Cluster:
    """One single-node KRaft cluster (broker+controller, node.id 1) in
    <workdir>/<name>, listening on base_port..base_port+3 of 127.0.0.1."""

    def __init__(self, name, base_port, version=DEFAULT_VERSION, workdir=None,
                 keep_data=False, extra_config=None, heap=None, jvm_opts=None):
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            raise ValueError("bad cluster name %r" % name)
        self.name = name
        self.base_port = int(base_port)
        self.version = version
        self.workdir = os.path.abspath(workdir or default_run_dir())
        self.dir = os.path.join(self.workdir, name)
        self.keep_data = keep_data
        self.extra_config = dict(extra_config or {})
        self.heap = list(heap or JVM_HEAP)
        self.jvm_opts = list(jvm_opts or [])
        self.data_dir = os.path.join(self.dir, "data")
        self.properties = os.path.join(self.dir, "server.properties")
        self.log_file = os.path.join(self.dir, "kafka.log")
        self.state_file = os.path.join(self.dir, "state.json")
        self.cluster_id = None
        self.proc = None
        self.pid = None
        self.start_seconds = None     # wall time of the last start()
        self.format_seconds = None    # part of it spent formatting storage

    def __repr__(self):
        return "Cluster(%r, %d, version=%r)" % (self.name, self.base_port, self.version)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ addresses

    def port(self, listener="PLAINTEXT"):
        return self.base_port + PORT_OFFSET[listener.upper()]

    def bootstrap(self, listener="PLAINTEXT"):
        """The address "127.0.0.1:port" of PLAINTEXT, SASL_SSL or SSL."""
        listener = listener.upper()
        if listener not in ("PLAINTEXT", "SASL_SSL", "SSL"):
            raise ValueError("no client listener %r" % listener)
        return "127.0.0.1:%d" % self.port(listener)

    def client_config(self, listener="PLAINTEXT", user="kmirror",
                      mechanism="SCRAM-SHA-256", password=None, cert="client",
                      **extra):
        """A confluent_kafka / librdkafka configuration dict for `listener`.
        SASL_SSL: `user` with `mechanism` (password from USERS unless
        given). SSL: client certificate `cert` ("client", "limited" or
        "rogue"). Extra keyword arguments are added with '_' turned into
        '.' (e.g. client_id="x"); pass a dict via **{"a.b": v} too."""
        listener = listener.upper()
        conf = {"bootstrap.servers": self.bootstrap(listener),
                "security.protocol": listener}
        if listener in ("SASL_SSL", "SSL"):
            conf["ssl.ca.location"] = pki_path("ca.pem")
            conf["ssl.endpoint.identification.algorithm"] = "https"
        if listener == "SASL_SSL":
            conf["sasl.mechanism"] = mechanism
            conf["sasl.username"] = user
            conf["sasl.password"] = password if password is not None else USERS[user]
        if listener == "SSL":
            conf["ssl.certificate.location"] = pki_path(cert + ".pem")
            conf["ssl.key.location"] = pki_path(cert + ".key")
        for k, v in extra.items():
            conf[k.replace("_", ".") if "." not in k else k] = v
        return conf

    # ------------------------------------------------------------ config

    def _server_properties(self):
        p = self.base_port
        ks = pki_path("broker-keystore.pem")
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": "1@127.0.0.1:%d" % (p + 3),
            "listeners": "PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,"
                         "SSL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
                         % (p, p + 1, p + 2, p + 3),
            "advertised.listeners": "PLAINTEXT://127.0.0.1:%d,"
                                    "SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d"
                                    % (p, p + 1, p + 2),
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": self.data_dir,
            # Security.
            "authorizer.class.name":
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": ";".join(SUPER_USERS),
            "allow.everyone.if.no.acl.found": "false",
            "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS + ("PLAIN",)),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": ks,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": pki_path("ca.pem"),
            "ssl.client.auth": "none",
            "listener.name.ssl.ssl.client.auth": "required",
            "ssl.principal.mapping.rules":
                "RULE:^.*CN=([^,]+).*$/$1/,DEFAULT",
            # Test-friendly.
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.dedupe.buffer.size": "8388608",
            "log.cleaner.threads": "1",
            "socket.request.max.bytes": "104857600",
            "delete.topic.enable": "true",
        }
        for m in SCRAM_MECHANISMS:
            props["listener.name.sasl_ssl.%s.sasl.jaas.config" % m.lower()] = \
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        # SASL PLAIN too (deployments that reach a managed service with it):
        # the same users, their passwords in the broker's JAAS config
        props["listener.name.sasl_ssl.plain.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required " +
            " ".join('user_%s="%s"' % (u, p) for u, p in sorted(USERS.items())) + ";")
        if major(self.version) >= 4:
            props.update({
                "share.coordinator.state.topic.replication.factor": "1",
                "share.coordinator.state.topic.min.isr": "1",
                "share.coordinator.state.topic.num.partitions": "1",
            })
        props.update({k: str(v) for k, v in self.extra_config.items()})
        return props

    def _write_config(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.properties, "w") as f:
            f.write("# written by kmtestbed for cluster %s (Kafka %s)\n"
                    % (self.name, self.version))
            for k, v in self._server_properties().items():
                f.write("%s=%s\n" % (k, v))
        if major(self.version) >= 4:
            self.log_config = os.path.join(self.dir, "log4j2.xml")
            text, jvm = _LOG4J2, "-Dlog4j2.configurationFile=" + self.log_config
        else:
            self.log_config = os.path.join(self.dir, "log4j.properties")
            text, jvm = _LOG4J1, "-Dlog4j.configuration=file:" + self.log_config
        with open(self.log_config, "w") as f:
            f.write(text.replace("{log}", self.log_file))
        return jvm

    def _java_cmd(self, log_opt, main, args, opts):
        return ([_java()] + opts + [log_opt, "-Dkafka.logs.dir=" + self.dir,
                                    "-cp", os.path.join(libs_dir(self.version), "*"),
                                    main] + args)

    def _format(self, log_opt):
        """Format the storage (KRaft metadata log) with the SCRAM users."""
        if self.keep_data and os.path.exists(os.path.join(self.data_dir, "meta.properties")):
            return
        if os.path.exists(self.data_dir):
            shutil.rmtree(self.data_dir)
        self.cluster_id = _cluster_id()
        args = ["format", "-t", self.cluster_id, "-c", self.properties]
        for user, pw in USERS.items():
            for m in SCRAM_MECHANISMS:
                args += ["--add-scram", "%s=[name=%s,password=%s]" % (m, user, pw)]
        t0 = time.monotonic()
        out = _run(self._java_cmd(log_opt, "kafka.tools.StorageTool", args,
                                  TOOL_JVM_OPTS), timeout=120)
        self.format_seconds = time.monotonic() - t0
        with open(self.log_file, "a") as f:
            f.write("### kmtestbed: storage formatted (%s)\n%s\n" % (
                self.cluster_id, out.strip()))

    # ------------------------------------------------------------ lifecycle

    def running(self):
        return self.pid is not None and pid_alive(self.pid)

    def start(self, timeout=60, detach=False):
        """Format storage and start the broker; return when a metadata
        request on the PLAINTEXT listener lists this broker. Raises
        TestbedError with the log's tail on timeout or if the JVM dies.
        detach=True: do not kill it when this Python process exits."""
        if self.running():
            raise TestbedError("%s is already running (pid %d)" % (self.name, self.pid))
        if not fetched(self.version):
            fetch(self.version)
        make_pki()
        lo, hi = _ephemeral_ports()
        if self.base_port + 3 >= lo and self.base_port <= hi:
            log.warning("cluster %s: ports %d-%d lie in the ephemeral range %d-%d; a "
                        "client socket may hold one and make the broker fail to bind",
                        self.name, self.base_port, self.base_port + 3, lo, hi)
        busy = [p for p in range(self.base_port, self.base_port + 4) if _port_in_use(p)]
        if busy:
            raise TestbedError("cluster %s: ports %s already in use (a leftover "
                               "cluster? try: kmtestbed.py status)" % (self.name, busy))
        leftovers = pids_using(self.properties)
        if leftovers:
            raise TestbedError("cluster %s: processes %s still use %s"
                               % (self.name, leftovers, self.properties))
        t0 = time.monotonic()
        log_opt = self._write_config()
        with open(self.log_file, "a") as f:
            f.write("### kmtestbed: starting %s (Kafka %s) at %s\n" % (
                self.name, self.version, time.strftime("%Y-%m-%d %H:%M:%S")))
        self._format(log_opt)
        cmd = self._java_cmd(log_opt, "kafka.Kafka", [self.properties],
                             self.heap + JVM_OPTS + self.jvm_opts)
        logf = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
        finally:
            logf.close()
        self.pid = self.proc.pid
        if not detach:
            with _OWNED_LOCK:
                _OWNED.add(self)
        try:
            self._wait_ready(t0 + timeout)
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.monotonic() - t0
        self._write_state()
        log.info("cluster %s (Kafka %s) started in %.1fs", self.name, self.version,
                 self.start_seconds)
        return self

    def _wait_ready(self, deadline):
        def dead():
            if self.proc.poll() is not None:
                raise TestbedError("cluster %s: JVM exited with %s during start-up; "
                                   "log %s ends:\n%s" % (self.name, self.proc.returncode,
                                                         self.log_file, _failure_excerpt(self.log_file)))
        # Wait for the port first: keeps librdkafka's connect errors away.
        while not _port_in_use(self.port("PLAINTEXT")):
            dead()
            if time.monotonic() > deadline:
                raise TestbedError("cluster %s: PLAINTEXT port %d not open in time; "
                                   "log %s ends:\n%s" % (self.name, self.port(),
                                                         self.log_file, _failure_excerpt(self.log_file)))
            time.sleep(0.1)
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.bootstrap(),
                             "logger": _quiet_logger()})
        last = None
        while True:
            dead()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestbedError("cluster %s: no metadata in time (%s); log %s ends:\n%s"
                                   % (self.name, last, self.log_file, _failure_excerpt(self.log_file)))
            try:
                md = admin.list_topics(timeout=max(0.2, min(2.0, left)))
                if 1 in md.brokers:
                    return
                last = "brokers %s" % list(md.brokers)
            except Exception as e:  # KafkaException: not yet
                last = e
                time.sleep(0.1)

    def _write_state(self):
        state = {"name": self.name, "version": self.version, "pid": self.pid,
                 "base_port": self.base_port, "dir": self.dir,
                 "properties": self.properties, "log": self.log_file,
                 "cluster_id": self.cluster_id,
                 "bootstrap": {l: self.bootstrap(l) for l in ("PLAINTEXT", "SASL_SSL", "SSL")},
                 "start_seconds": self.start_seconds,
                 "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.state_file)

    @classmethod
    def from_state(cls, name, workdir=None):
        """A Cluster object for one started earlier (e.g. by the CLI)."""
        path = os.path.join(os.path.abspath(workdir or default_run_dir()), name,
                            "state.json")
        with open(path) as f:
            st = json.load(f)
        c = cls(st["name"], st["base_port"], version=st["version"],
                workdir=os.path.dirname(st["dir"]))
        c.pid = st["pid"]
        c.cluster_id = st.get("cluster_id")
        c.start_seconds = st.get("start_seconds")
        return c

    def _signal_group(self, sig):
        # Only signal a pid that is still ours: its command line names our
        # server.properties (guards against pid reuse).
        if self.pid is None or not pid_alive(self.pid):
            return
        if not any(os.fsencode(self.properties) in a for a in cmdline(self.pid)):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)   # start_new_session: pgid == pid

    def _wait_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=0.1)
            if self.pid is None or not pid_alive(self.pid):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout=20):
        """SIGTERM the process group, wait at most `timeout` seconds, then
        SIGKILL; then check that no process of this cluster is left (by pid
        and by scanning /proc for its server.properties)."""
        self._signal_group(signal.SIGTERM)
        if not self._wait_gone(timeout):
            log.warning("cluster %s did not stop in %ss: SIGKILL", self.name, timeout)
            self._signal_group(signal.SIGKILL)
            self._wait_gone(10)
        self._finish()

    def kill(self):
        """Stop at once with SIGKILL."""
        self._signal_group(signal.SIGKILL)
        self._wait_gone(10)
        self._finish()

    def _finish(self):
        for pid in pids_using(self.properties):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pids_using(self.properties) and time.monotonic() < deadline:
            time.sleep(0.05)
        with _OWNED_LOCK:
            _OWNED.discard(self)
        left = pids_using(self.properties)
        if self.pid is not None and pid_alive(self.pid):
            left.append(self.pid)
        if left:
            raise TestbedError("cluster %s: processes %s survived stop"
                               % (self.name, sorted(set(left))))
        self.proc = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.state_file)

    # ------------------------------------------------------------ clients

    def admin(self, listener="PLAINTEXT", **kw):
        from confluent_kafka.admin import AdminClient
        conf = self.client_config(listener, **kw)
        conf.setdefault("logger", _quiet_logger())
        return AdminClient(conf)

    def probe(self, listener="PLAINTEXT", timeout=15, **client_kw):
        """Try a metadata request as the given client. Returns None if it
        succeeds, else the first error librdkafka reports (a KafkaError:
        _AUTHENTICATION for bad SCRAM credentials, _TRANSPORT or _SSL for a
        refused certificate). Raises TestbedError if neither happens within
        `timeout` seconds."""
        from confluent_kafka import KafkaError, Producer
        errors = []
        conf = self.client_config(listener, **client_kw)
        conf.update({"logger": _quiet_logger(), "error_cb": errors.append,
                     "reconnect.backoff.ms": 100})
        prod = Producer(conf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                prod.list_topics(timeout=0.5)
                return None
            except Exception:
                pass
            prod.poll(0.1)          # serves error_cb
            real = [e for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN]
            if real:
                return real[0]
        if errors:
            return errors[0]
        raise TestbedError("probe of %s: neither success nor error in %ss"
                           % (listener, timeout))

    def create_topic(self, name, partitions=1, config=None, timeout=30):
        """Create a topic (replication factor 1) and wait until its
        metadata shows every partition with a leader."""
        from confluent_kafka.admin import NewTopic
        admin = self.admin()
        fut = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                            replication_factor=1,
                                            config={k: str(v) for k, v in
                                                    (config or {}).items()})],
                                  operation_timeout=timeout, request_timeout=timeout)
        fut[name].result(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            md = admin.list_topics(topic=name, timeout=5)
            t = md.topics.get(name)
            if t is not None and t.error is None and len(t.partitions) == partitions \
                    and all(p.leader >= 0 for p in t.partitions.values()):
                return
            time.sleep(0.05)
        raise TestbedError("topic %s not ready in %ss" % (name, timeout))

    def delete_topic(self, name, timeout=30):
        self.admin().delete_topics([name], operation_timeout=timeout)[name].result(timeout)

    def list_topics(self, internal=False, timeout=10):
        """Sorted topic names (without __internal ones unless asked)."""
        md = self.admin().list_topics(timeout=timeout)
        return sorted(t for t in md.topics if internal or not t.startswith("__"))

    def produce(self, topic, records, partition=None, listener="PLAINTEXT",
                timeout=30, config=None, **client_kw):
        """Produce records and wait for every delivery. A record is a value
        (bytes/str/None), a (key, value) tuple, or a dict with any of
        key, value, headers, timestamp, partition. Returns [(partition,
        offset)] in order; raises confluent_kafka.KafkaException with the
        first delivery error."""
        from confluent_kafka import KafkaException, Producer
        conf = self.client_config(listener, **client_kw)
        conf.update({"logger": _quiet_logger(), "linger.ms": 5,
                     "message.timeout.ms": int(timeout * 1000)})
        conf.update(config or {})
        prod = Producer(conf)
        results, errors = [], []

        def on_delivery(i):
            def cb(err, msg):
                if err is not None:
                    errors.append(err)
                else:
                    results[i] = (msg.partition(), msg.offset())
            return cb

        for i, r in enumerate(records):
            if isinstance(r, dict):
                kw = {k: r[k] for k in ("key", "value", "headers", "timestamp",
                                         "partition") if k in r}
            elif isinstance(r, tuple):
                kw = {"key": r[0], "value": r[1]}
            else:
                kw = {"value": r}
            if partition is not None:
                kw.setdefault("partition", partition)
            results.append(None)
            while True:
                try:
                    prod.produce(topic, on_delivery=on_delivery(i), **kw)
                    break
                except BufferError:
                    prod.poll(0.1)
            prod.poll(0)
        left = prod.flush(timeout + 5)
        if errors:
            raise KafkaException(errors[0])
        if left:
            raise TestbedError("%d records not delivered in %ss" % (left, timeout))
        return results

    def consume_all(self, topic, partition=None, timeout=30, listener="PLAINTEXT",
                    isolation="read_committed", config=None, **client_kw):
        """Read `topic` (or one partition) from the beginning up to the high
        watermark seen at the call, without a consumer group join (explicit
        assignment). Returns Records sorted by (partition, offset). Raises
        TestbedError if the end is not reached within `timeout` seconds."""
        from confluent_kafka import Consumer, KafkaError, KafkaException, \
            TopicPartition, OFFSET_BEGINNING
        conf = self.client_config(listener, **client_kw)
        conf.update({"logger": _quiet_logger(),
                     "group.id": "kmtestbed-%s" % uuid.uuid4().hex[:12],
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "isolation.level": isolation, "auto.offset.reset": "earliest"})
        conf.update(config or {})
        deadline = time.monotonic() + timeout
        cons = Consumer(conf)
        try:
            md = cons.list_topics(topic=topic, timeout=timeout)
            t = md.topics.get(topic)
            if t is None or t.error is not None:
                raise KafkaException(t.error if t is not None else KafkaError(
                    KafkaError.UNKNOWN_TOPIC_OR_PART))
            parts = sorted(t.partitions) if partition is None else [partition]
            high = {}
            for p in parts:
                lo, hi = cons.get_watermark_offsets(
                    TopicPartition(topic, p),
                    timeout=max(1, deadline - time.monotonic()),
                    cached=False)
                if hi > lo:
                    high[p] = hi
            out = []
            if high:
                cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in high])
            pending = set(high)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestbedError("consume_all(%s): partitions %s not read to the "
                                       "end in %ss" % (topic, sorted(pending), timeout))
                for m in cons.consume(num_messages=1000, timeout=min(0.5, left)):
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            if m.offset() >= high.get(m.partition(), 0):
                                pending.discard(m.partition())
                            continue
                        raise KafkaException(err)
                    ts_type, ts = m.timestamp()
                    out.append(Record(m.topic(), m.partition(), m.offset(), m.key(),
                                      m.value(), m.headers(), ts, ts_type))
                    if m.offset() + 1 >= high[m.partition()]:
                        pending.discard(m.partition())
            out.sort(key=lambda r: (r.partition, r.offset))
            return out
        finally:
            cons.close()


def start_parallel(clusters, timeout=90, detach=False):
    """Start several clusters at once (threads); on any failure stop them
    all and re-raise the first error. Returns the wall time taken.
    `detach`: as Cluster.start (the brokers outlive this process)."""
    errors = []
    t0 = time.monotonic()

    def run(c):
        try:
            c.start(timeout=timeout, detach=detach)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in clusters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for c in clusters:
            with contextlib.suppress(Exception):
                c.kill()
        raise errors[0]
    return time.monotonic() - t0


# ---------------------------------------------------------------- CLI


def _cmd_fetch(a):
    print(fetch(a.version))


def _cmd_pki(a):
    files = make_pki(force=a.force)
    print(pki_dir())
    for k in sorted(files):
        print("  %s" % files[k])


def _cmd_start(a):
    c = Cluster(a.name, a.port, version=a.version, workdir=a.dir, keep_data=a.keep_data,
                jvm_opts=QUICK_START_OPTS if a.quick else None)
    c.start(timeout=a.timeout, detach=True)
    print("cluster %s (Kafka %s) started in %.1fs, pid %d, dir %s"
          % (c.name, c.version, c.start_seconds, c.pid, c.dir))
    for l in ("PLAINTEXT", "SASL_SSL", "SSL"):
        print("  %-9s %s" % (l, c.bootstrap(l)))
    print("  CA        %s" % pki_path("ca.pem"))


def _cmd_stop(a):
    try:
        c = Cluster.from_state(a.name, a.dir)
    except FileNotFoundError:
        c = Cluster(a.name, 0, workdir=a.dir)   # still sweep /proc
    c.stop(timeout=a.timeout)
    print("cluster %s stopped" % a.name)


def _cmd_status(a):
    d = os.path.abspath(a.dir or default_run_dir())
    print("cache %s" % cache_dir())
    for v in sorted(os.listdir(cache_dir())) if os.path.isdir(cache_dir()) else []:
        if v.startswith("kafka-"):
            print("  %s %s" % (v, "fetched" if fetched(v[6:]) else "incomplete"))
    print("  pki %s" % ("ready" if pki_ready() else "missing"))
    print("clusters in %s" % d)
    if not os.path.isdir(d):
        return
    for name in sorted(os.listdir(d)):
        st = os.path.join(d, name, "state.json")
        if os.path.exists(st):
            c = Cluster.from_state(name, d)
            alive = c.running() and pids_using(c.properties)
            print("  %-12s %-8s Kafka %-6s pid %-7s %s" % (
                name, "running" if alive else "DEAD", c.version, c.pid,
                c.bootstrap("PLAINTEXT")))
        elif os.path.exists(os.path.join(d, name, "server.properties")):
            left = pids_using(os.path.join(d, name, "server.properties"))
            print("  %-12s %s" % (name, ("ORPHAN pids %s" % left) if left else "stopped"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fetch", help="download Kafka jars from Maven Central")
    p.add_argument("--version", default=DEFAULT_VERSION)
    p.set_defaults(fn=_cmd_fetch)
    p = sub.add_parser("pki", help="make the test CA and certificates")
    p.add_argument("--force", action="store_true")
    p.set_defaults(fn=_cmd_pki)
    p = sub.add_parser("start", help="start a cluster and leave it running")
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, required=True, help="base port (PLAINTEXT)")
    p.add_argument("--version", default=DEFAULT_VERSION)
    p.add_argument("--dir", default=None, help="run directory (default %s)"
                   % default_run_dir())
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--quick", action="store_true",
                   help="C1-only JIT: faster start, slower broker")
    p.add_argument("--timeout", type=float, default=90)
    p.set_defaults(fn=_cmd_start)
    p = sub.add_parser("stop", help="stop a cluster started with `start`")
    p.add_argument("--name", required=True)
    p.add_argument("--dir", default=None)
    p.add_argument("--timeout", type=float, default=20)
    p.set_defaults(fn=_cmd_stop)
    p = sub.add_parser("status", help="show fetched versions and clusters")
    p.add_argument("--dir", default=None)
    p.set_defaults(fn=_cmd_status)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        a.fn(a)
    except TestbedError as e:
        print("kmtestbed: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
