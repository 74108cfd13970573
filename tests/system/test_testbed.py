"""The Kafka test bed works: every listener carries data, security says no
where it should, and Kafka 4.3.1 runs too."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from helpers import unique_topic

SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def roundtrip(cluster, listener, partitions=1, **client_kw):
    """Produce a few records over `listener` and read them back over the
    same listener; check keys, values, headers and timestamps."""
    topic = unique_topic()
    cluster.create_topic(topic, partitions)
    ts = int(time.time() * 1000) - 60000
    sent = [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": i % partitions,
             "headers": [("h", b"%d" % i)], "timestamp": ts + i}
            for i in range(10)]
    delivered = cluster.produce(topic, sent, listener=listener, **client_kw)
    assert len(delivered) == 10
    got = cluster.consume_all(topic, listener=listener, timeout=30, **client_kw)
    assert sorted((r.key, r.value, r.partition, r.headers, r.timestamp) for r in got) == \
        sorted((s["key"], s["value"], s["partition"], s["headers"], s["timestamp"])
               for s in sent)
    assert [r.offset for r in got if r.partition == 0] == list(range(5 if partitions == 2 else 10))
    return topic


def test_plaintext(cluster_a):
    topic = roundtrip(cluster_a, "PLAINTEXT", partitions=2)
    assert topic in cluster_a.list_topics()


@pytest.mark.parametrize("mechanism", SCRAM)
def test_sasl_ssl_scram(cluster_a, mechanism):
    roundtrip(cluster_a, "SASL_SSL", user="kmirror", mechanism=mechanism)


def test_ssl_client_cert(cluster_b):
    roundtrip(cluster_b, "SSL", cert="client")


def test_clusters_are_separate(cluster_a, cluster_b):
    topic = unique_topic()
    cluster_a.create_topic(topic)
    assert topic in cluster_a.list_topics()
    assert topic not in cluster_b.list_topics()


@pytest.mark.parametrize("mechanism", SCRAM)
def test_wrong_scram_password_fails(cluster_a, mechanism):
    err = cluster_a.probe("SASL_SSL", timeout=15, user="kmirror", mechanism=mechanism,
                          password="wrong-secret")
    assert err is not None and err.code() == KafkaError._AUTHENTICATION, err


def test_untrusted_client_cert_refused(cluster_a):
    assert cluster_a.probe("SSL", timeout=15, cert="client") is None
    err = cluster_a.probe("SSL", timeout=15, cert="rogue")
    assert err is not None and err.code() in (
        KafkaError._TRANSPORT, KafkaError._SSL, KafkaError._AUTHENTICATION), err


@pytest.mark.parametrize("listener,who", [("SASL_SSL", {"user": "limited"}),
                                          ("SSL", {"cert": "limited"})])
def test_limited_user_denied(cluster_a, listener, who):
    topic = unique_topic()
    cluster_a.create_topic(topic)
    with pytest.raises(KafkaException) as ei:
        cluster_a.produce(topic, [b"nope"], listener=listener, timeout=15, **who)
    assert ei.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert cluster_a.consume_all(topic) == []


def test_kafka_43(cluster_43):
    assert cluster_43.version == "4.3.1"
    roundtrip(cluster_43, "PLAINTEXT", partitions=2)
    roundtrip(cluster_43, "SASL_SSL", user="kmirror", mechanism="SCRAM-SHA-512")
