"""Topic config and ACL sync (issue 5, docs/topic-sync.md) against real
Kafka with the StandardAuthorizer on:

- configs set on a source topic reach the remote topic within about one
  interval; a source config back at its default reverts the target to its
  own default; excluded properties are not copied, and the target's own
  value of an excluded property survives (the legacy AlterConfigs kmirror
  uses with librdkafka 2.0.2 replaces the whole set);
- ACLs: literal topic ACLs are copied (ALLOW WRITE dropped, ALLOW ALL as
  READ, DENY kept); prefixed ones are not; target ACLs are never deleted;
- no authorizer on the source: ACL sync is skipped, said once in the log
  and in STATUS, while config sync goes on;
- a change the target refuses (Kafka 4.3.1 no longer knows
  message.format.version, which 3.9 accepts) is reported with the reason,
  and the other topics of the flow keep syncing; this also proves the
  AlterConfigs approach on Kafka 4.3.1.

Each test prints how long a source change took to reach the target.
"""

import os
import time
import uuid

import pytest

import kmd
import kmtestbed
from helpers import unique_name, wait_until

INTERVAL_MS = 2000


def _admin(cluster):
    return cluster.admin()


def alter(cluster, topic, set_=None, delete=()):
    """IncrementalAlterConfigs on a topic (the test's own client is new
    enough)."""
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry,
                                       ConfigResource, ResourceType)
    entries = [ConfigEntry(k, str(v), incremental_operation=AlterConfigOpType.SET)
               for k, v in (set_ or {}).items()]
    entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                for k in delete]
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
    admin = _admin(cluster)      # alive until the results are in
    for f in admin.incremental_alter_configs([res]).values():
        f.result(timeout=30)


def configs(cluster, topic):
    """{name: (value, source name)} of a topic."""
    from confluent_kafka.admin import ConfigResource, ResourceType
    res = ConfigResource(ResourceType.TOPIC, topic)
    admin = _admin(cluster)
    got = list(admin.describe_configs([res]).values())[0].result(timeout=30)
    return {k: (e.value, e.source) for k, e in got.items()}


def dynamic(cluster, topic):
    """The topic's own (dynamic topic) configs: {name: value}."""
    from confluent_kafka.admin import ConfigSource
    return {k: v for k, (v, src) in configs(cluster, topic).items()
            if src == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def topic_exists(cluster, topic):
    return topic in cluster.list_topics()


def flow_text(run_dir, name, src, tgt, src_cluster, tgt_cluster, topics, extra=""):
    return kmd.config_text(
        run_dir, name, [kmd.cluster_block(src, src_cluster), kmd.cluster_block(tgt, tgt_cluster)],
        ['source = "%s"; target = "%s"; tasks = 1; topics = [ %s ]; '
         'emit_checkpoints_enabled = false; refresh_topics_interval_ms = 500; '
         'sync_topic_configs_interval_ms = %d; sync_topic_acls_interval_ms = %d; %s'
         % (src, tgt, ", ".join('"%s"' % t for t in topics), INTERVAL_MS, INTERVAL_MS,
            extra)])


def aliases(prefix):
    s = uuid.uuid4().hex[:6]
    return "%ss%s" % (prefix, s), "%st%s" % (prefix, s)


def source_status(k, flow):
    w = k.worker(flow, "source")
    return (w or {}).get("status") or {}


def timed(what, pred, timeout):
    """Wait for pred; print and return the seconds it took."""
    t0 = time.monotonic()
    wait_until(pred, timeout=timeout, interval=0.1, message=what)
    took = time.monotonic() - t0
    print("\n[topicsync] %s: %.2f s (interval %.1f s)" % (what, took, INTERVAL_MS / 1000))
    return took


# ---------------------------------------------------------------- configs


def test_config_sync_set_revert_exclude(kmirrord, run_dir, cluster_a, cluster_b):
    src, tgt = aliases("cs")
    flow = "%s->%s" % (src, tgt)
    topic = unique_name("tcfg")
    remote = "%s.%s" % (src, topic)
    cluster_a.create_topic(topic, 1)
    name = unique_name("tcfg")
    k = kmirrord(name, flow_text(run_dir, name, src, tgt, cluster_a, cluster_b,
                                 [topic])).start()
    wait_until(lambda: topic_exists(cluster_b, remote), timeout=60,
               message="remote topic created")
    # the target's own value of an excluded property: must survive syncs
    alter(cluster_b, remote, {"min.insync.replicas": "1"})
    wait_until(lambda: int(source_status(k, flow).get("configs_synced_at", 0)) > 0,
               timeout=30, message="a first config sync")

    # set on the source: two copied, two excluded
    alter(cluster_a, topic, {"retention.ms": "3600000", "cleanup.policy": "compact",
                             "min.insync.replicas": "2",
                             "message.timestamp.type": "LogAppendTime"})
    took = timed("retention.ms and cleanup.policy reached %s" % remote,
                 lambda: dynamic(cluster_b, remote).get("retention.ms") == "3600000" and
                 dynamic(cluster_b, remote).get("cleanup.policy") == "compact",
                 timeout=3 * INTERVAL_MS / 1000 + 10)
    assert took < 2 * INTERVAL_MS / 1000 + 5, "one interval plus a round, with slack"
    d = dynamic(cluster_b, remote)
    assert d.get("min.insync.replicas") == "1", "excluded: the target keeps its own value"
    assert "message.timestamp.type" not in d, "excluded: not copied"
    st = wait_until(lambda: int(source_status(k, flow)["configs_changes"]) >= 2 and
                    source_status(k, flow), timeout=10, message="configs_changes in STATUS")
    assert st["configs_failed"] == "", st

    # back to the default on the source: the target reverts to its own default
    alter(cluster_a, topic, delete=["retention.ms", "cleanup.policy"])
    timed("revert to default reached %s" % remote,
          lambda: "retention.ms" not in dynamic(cluster_b, remote) and
          "cleanup.policy" not in dynamic(cluster_b, remote),
          timeout=3 * INTERVAL_MS / 1000 + 10)
    c = configs(cluster_b, remote)
    assert c["cleanup.policy"][0] == "delete"
    assert c["retention.ms"][0] == "604800000"
    assert dynamic(cluster_b, remote).get("min.insync.replicas") == "1"

    # several rounds later nothing has drifted and nothing is re-applied
    wait_until(lambda: int(source_status(k, flow)["configs_changes"]) >= 4, timeout=10,
               message="the two reverts counted in STATUS")
    n = int(source_status(k, flow)["configs_changes"])
    at = int(source_status(k, flow)["configs_synced_at"])
    wait_until(lambda: int(source_status(k, flow)["configs_synced_at"]) > at + INTERVAL_MS,
               timeout=20, message="two more rounds")
    assert int(source_status(k, flow)["configs_changes"]) == n, "idempotent"
    log = k.log_text()
    assert "topic configs synced %s->%s" % (src, tgt) in log
    assert "retention.ms=3600000" in log and "reverted to the target's default" in log
    k.stop()


# ---------------------------------------------------------------- ACLs


def _binding(name, pattern, principal, op, perm):
    from confluent_kafka.admin import AclBinding, ResourceType
    return AclBinding(ResourceType.TOPIC, name, pattern, principal, "*", op, perm)


def create_acls(cluster, bindings):
    admin = _admin(cluster)
    for f in admin.create_acls(bindings).values():
        f.result(timeout=30)


def topic_acls(cluster, name=None):
    """{(name, pattern, principal, op, perm)} of topic ACLs."""
    from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType,
                                       ResourcePatternType, ResourceType)
    flt = AclBindingFilter(ResourceType.TOPIC, name, ResourcePatternType.ANY, None, None,
                           AclOperation.ANY, AclPermissionType.ANY)
    admin = _admin(cluster)
    got = admin.describe_acls(flt).result(timeout=30)
    return {(b.name, b.resource_pattern_type.name, b.principal, b.operation.name,
             b.permission_type.name) for b in got}


def test_acl_sync(kmirrord, run_dir, cluster_a, cluster_b):
    from confluent_kafka.admin import AclOperation as Op
    from confluent_kafka.admin import AclPermissionType as Perm
    from confluent_kafka.admin import ResourcePatternType as Pat
    src, tgt = aliases("as")
    flow = "%s->%s" % (src, tgt)
    topic = unique_name("tacl")
    other = unique_name("tother")        # not in the flow
    remote = "%s.%s" % (src, topic)
    cluster_a.create_topic(topic, 1)
    L, P = Pat.LITERAL, Pat.PREFIXED
    create_acls(cluster_a, [
        _binding(topic, L, "User:alice", Op.READ, Perm.ALLOW),
        _binding(topic, L, "User:bob", Op.WRITE, Perm.ALLOW),
        _binding(topic, L, "User:carol", Op.ALL, Perm.ALLOW),
        _binding(topic, L, "User:dave", Op.WRITE, Perm.DENY),
        _binding(topic, P, "User:erin", Op.READ, Perm.ALLOW),
        _binding(other, L, "User:frank", Op.READ, Perm.ALLOW),
    ])
    # the target's own ACL on the remote topic: never deleted
    create_acls(cluster_b, [_binding(remote, L, "User:zed", Op.DESCRIBE, Perm.ALLOW)])
    name = unique_name("tacl")
    t0 = time.monotonic()
    k = kmirrord(name, flow_text(run_dir, name, src, tgt, cluster_a, cluster_b,
                                 [topic])).start()
    expected = {(remote, "LITERAL", "User:alice", "READ", "ALLOW"),
                (remote, "LITERAL", "User:carol", "READ", "ALLOW"),
                (remote, "LITERAL", "User:dave", "WRITE", "DENY"),
                (remote, "LITERAL", "User:zed", "DESCRIBE", "ALLOW")}
    wait_until(lambda: topic_acls(cluster_b, remote) >= expected, timeout=30,
               message="ACLs on %s" % remote)
    print("\n[topicsync] ACLs reached %s %.2f s after kmirrord started (interval %.1f s)"
          % (remote, time.monotonic() - t0, INTERVAL_MS / 1000))
    # a later round changes nothing
    at = int(source_status(k, flow)["acls_synced_at"])
    wait_until(lambda: int(source_status(k, flow)["acls_synced_at"]) > at, timeout=20,
               message="another ACL round")
    got = topic_acls(cluster_b, remote)
    assert got == expected, got
    assert not [a for a in topic_acls(cluster_b) if a[2] in ("User:bob", "User:erin",
                                                            "User:frank")]
    st = wait_until(lambda: source_status(k, flow)["acls_created"] == "3" and
                    source_status(k, flow), timeout=10, message="acls_created in STATUS")
    assert st["acls_failed"] == "" and st["acls_skipped"] == "", st

    # a source ACL removed, a new one added: the target keeps the old one
    from confluent_kafka.admin import AclBindingFilter, ResourceType
    admin = _admin(cluster_a)
    futs = admin.delete_acls([AclBindingFilter(
        ResourceType.TOPIC, topic, L, "User:alice", "*", Op.READ, Perm.ALLOW)])
    for f in futs.values():
        f.result(timeout=30)
    create_acls(cluster_a, [_binding(topic, L, "User:gina", Op.DESCRIBE, Perm.ALLOW)])
    t1 = time.monotonic()
    wait_until(lambda: (remote, "LITERAL", "User:gina", "DESCRIBE", "ALLOW")
               in topic_acls(cluster_b, remote), timeout=20, message="new ACL copied")
    print("[topicsync] a new source ACL reached the target in %.2f s" % (time.monotonic() - t1))
    got = topic_acls(cluster_b, remote)
    assert (remote, "LITERAL", "User:alice", "READ", "ALLOW") in got, "never deleted"
    wait_until(lambda: source_status(k, flow)["acls_created"] == "4", timeout=10,
               message="acls_created 4 in STATUS")
    assert "topic ACL sync: created User:carol@* ALLOW READ TOPIC LITERAL %s" % remote \
        in k.log_text()
    k.stop()


# ---------------------------------------------------------------- refused, and Kafka 4.3.1


def test_refused_change_reported_others_continue_kafka43(kmirrord, run_dir, cluster_a,
                                                        cluster_43):
    src, tgt = aliases("rf")
    flow = "%s->%s" % (src, tgt)
    good, bad = unique_name("tgood"), unique_name("tbad")
    rgood, rbad = "%s.%s" % (src, good), "%s.%s" % (src, bad)
    for t in (good, bad):
        cluster_a.create_topic(t, 1)
    name = unique_name("trefuse")
    k = kmirrord(name, flow_text(run_dir, name, src, tgt, cluster_a, cluster_43,
                                 [good, bad])).start()
    wait_until(lambda: topic_exists(cluster_43, rgood) and topic_exists(cluster_43, rbad),
               timeout=60, message="remote topics on Kafka 4.3.1")
    # Kafka 3.9 accepts message.format.version (deprecated); 4.x removed it
    alter(cluster_a, bad, {"message.format.version": "3.0", "retention.ms": "111111"})
    alter(cluster_a, good, {"retention.ms": "222222", "cleanup.policy": "compact"})
    timed("configs reached %s on Kafka 4.3.1" % rgood,
          lambda: dynamic(cluster_43, rgood) == {"retention.ms": "222222",
                                                 "cleanup.policy": "compact"},
          timeout=3 * INTERVAL_MS / 1000 + 10)
    st = wait_until(lambda: rbad in source_status(k, flow).get("configs_failed", "") and
                    source_status(k, flow), timeout=20, message="the refusal in STATUS")
    print("[topicsync] STATUS configs_failed: %s" % st["configs_failed"])
    assert "message.format.version" in st["configs_failed"], st
    assert rgood not in st["configs_failed"]
    assert "retention.ms" not in dynamic(cluster_43, rbad), "refused as a whole"
    log = k.log_text()
    assert [l for l in log.splitlines() if rbad in l and "refused" in l and
            "message.format.version" in l], "logged with the reason"

    # the other topic keeps syncing while the refusal stands: revert on 4.3.1
    alter(cluster_a, good, delete=["retention.ms", "cleanup.policy"])
    timed("revert to default reached %s on Kafka 4.3.1" % rgood,
          lambda: dynamic(cluster_43, rgood) == {}, timeout=3 * INTERVAL_MS / 1000 + 10)
    assert rbad in source_status(k, flow)["configs_failed"]

    # the source drops the config the target refuses: the topic syncs again
    alter(cluster_a, bad, delete=["message.format.version"])
    timed("%s in step after the refused config was removed" % rbad,
          lambda: dynamic(cluster_43, rbad).get("retention.ms") == "111111",
          timeout=3 * INTERVAL_MS / 1000 + 10)
    wait_until(lambda: source_status(k, flow).get("configs_failed") == "", timeout=10,
               message="configs_failed cleared")
    assert "is in step again" in k.log_text()
    k.stop()


# ---------------------------------------------------------------- no authorizer


NOAUTH_PORT = 19492 + int(os.environ.get("KMIRROR_TEST_PORT_OFFSET", "0"))


@pytest.fixture(scope="module")
def cluster_noauth(run_dir, pki):
    """A Kafka 3.9 cluster without an authorizer (this module only)."""
    kmtestbed.fetch(kmtestbed.DEFAULT_VERSION)
    c = kmtestbed.Cluster("noauth", NOAUTH_PORT, workdir=run_dir,
                          extra_config={"authorizer.class.name": ""},
                          jvm_opts=kmtestbed.QUICK_START_OPTS)
    c.start(timeout=120)
    try:
        yield c
    finally:
        c.stop()


def test_no_authorizer_on_source_skips_acls(kmirrord, run_dir, cluster_noauth, cluster_b):
    src, tgt = aliases("na")
    flow = "%s->%s" % (src, tgt)
    topic = unique_name("tnoauth")
    remote = "%s.%s" % (src, topic)
    cluster_noauth.create_topic(topic, 1, config={"retention.ms": "7200000"})
    name = unique_name("tnoauth")
    k = kmirrord(name, flow_text(run_dir, name, src, tgt, cluster_noauth, cluster_b,
                                 [topic])).start()
    st = wait_until(lambda: source_status(k, flow).get("acls_skipped") and
                    source_status(k, flow), timeout=30, message="acls_skipped in STATUS")
    assert st["acls_skipped"] == "no authorizer on %s" % src, st
    assert st["acls_synced_at"] == "0"
    # config sync is not affected
    wait_until(lambda: topic_exists(cluster_b, remote), timeout=60, message="remote topic")
    alter(cluster_noauth, topic, {"cleanup.policy": "compact"})
    timed("config from a cluster without authorizer reached %s" % remote,
          lambda: dynamic(cluster_b, remote).get("cleanup.policy") == "compact",
          timeout=3 * INTERVAL_MS / 1000 + 10)
    assert dynamic(cluster_b, remote).get("retention.ms") == "7200000"
    # several ACL rounds later: still said once
    time.sleep(2.5 * INTERVAL_MS / 1000)
    lines = [l for l in k.log_text().splitlines() if "topic ACL sync" in l and "skipped" in l]
    assert len(lines) == 1, lines
    assert "no authorizer on %s" % src in lines[0]
    k.stop()
