"""Record-level helpers for replication tests: fast bulk production of
varied records (mixed and null keys, null values, headers with repeated
keys and null values, explicit timestamps), each carrying a unique id; an
incremental reader that counts ids on a topic; and record-by-record
comparison of a source partition with its replica.

Ids: a record whose value is not null starts its value with b"id=<id>;";
a record with a null value carries its id in the header "kmid" (such a
record always has headers). `record_id()` finds either.
"""

import collections
import random
import time

from helpers import wait_until

ID_HEADER = "kmid"

# Fast producer settings (librdkafka): big batches, idempotent (no
# duplicates on the source even when a request is retried).
FAST_PRODUCER = {
    "linger.ms": 20,
    "batch.num.messages": 100000,
    "batch.size": 1000000,
    "queue.buffering.max.messages": 2000000,
    "queue.buffering.max.kbytes": 1048576,
    "compression.type": "lz4",
    "enable.idempotence": True,
    "acks": "all",
    "message.timeout.ms": 120000,
}


def _quiet_logger():
    import logging
    lg = logging.getLogger("kmirror.records.quiet")
    lg.propagate = False
    lg.addHandler(logging.NullHandler())
    return lg


# ---------------------------------------------------------------- records


def make_record(tag, seq, partition, base_ts, rnd):
    """One varied record (a dict for Producer.produce) with id
    "<tag>/<partition>/<seq>". The mix, by seq:
      key:     None, b"", a repeated small key, or random binary bytes
      value:   None (every 7th) or b"id=...;" + 0..300 (sometimes 2-4 KB) bytes
      headers: None, [id], repeated keys with a None value, an empty value
      timestamp: explicit, within the last two days, not monotonic
    """
    rid = "%s/%d/%d" % (tag, partition, seq)
    k = seq % 5
    if k == 0:
        key = None
    elif k == 1:
        key = b""
    elif k == 4:
        key = bytes(rnd.getrandbits(8) for _ in range(1 + seq % 17))
    else:
        key = b"key-%d" % (seq % 97)
    null_value = seq % 7 == 3
    if null_value:
        value = None
    else:
        size = 2048 + seq % 2048 if seq % 501 == 0 else seq % 300
        value = b"id=%s;" % rid.encode() + rnd.randbytes(size) if size else \
            b"id=%s;" % rid.encode()
    h = seq % 4
    if h == 0 and not null_value:
        headers = None
    elif h == 1 or (h == 0 and null_value):
        headers = [(ID_HEADER, rid.encode())]
    elif h == 2:
        headers = [("h", b"1"), ("h", b"2"), ("n", None), (ID_HEADER, rid.encode()),
                   ("h", b"3")]
    else:
        headers = [(ID_HEADER, rid.encode()), ("e", b""), ("h", None), ("h", b"x\x00y"),
                   ("\u00e9t\u00e9", b"unicode key")]
    # timestamps inside the retention window, deliberately out of order
    ts = base_ts + (seq * 7919) % 86_400_000
    return {"partition": partition, "key": key, "value": value, "headers": headers,
            "timestamp": ts}


def gen_records(tag, n, partitions, base_ts=None, seed=1, first_seq=0):
    """n varied records spread round robin over `partitions` (an int, or a
    list of partition numbers). Yields (id, record dict)."""
    parts = list(range(partitions)) if isinstance(partitions, int) else list(partitions)
    rnd = random.Random(seed)
    if base_ts is None:
        base_ts = int(time.time() * 1000) - 2 * 86_400_000
    for j in range(first_seq, first_seq + n):
        p = parts[j % len(parts)]
        r = make_record(tag, j, p, base_ts, rnd)
        yield "%s/%d/%d" % (tag, p, j), r


def record_id(key, value, headers):
    """The id of a record made by make_record(), or None."""
    if value is not None and value.startswith(b"id="):
        end = value.index(b";")
        return value[3:end].decode()
    for k, v in headers or ():
        if k == ID_HEADER and v is not None:
            return v.decode()
    return None


# ---------------------------------------------------------------- producing


def producer(cluster, listener="PLAINTEXT", config=None, **client_kw):
    from confluent_kafka import Producer
    conf = cluster.client_config(listener, **client_kw)
    conf.update({"logger": _quiet_logger()})
    conf.update(FAST_PRODUCER)
    conf.update(config or {})
    return Producer(conf)


def produce_fast(cluster, topic, records, listener="PLAINTEXT", config=None,
                 timeout=180, **client_kw):
    """Produce (id, record dict) pairs as fast as librdkafka takes them and
    wait for every delivery. Returns the list of ids in production order.
    Raises on the first delivery error."""
    from confluent_kafka import KafkaException
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)

    conf = {"delivery.report.only.error": True, "on_delivery": on_delivery}
    conf.update(config or {})
    prod = producer(cluster, listener, conf, **client_kw)
    ids = []
    for rid, r in records:
        while True:
            try:
                prod.produce(topic, **r)
                break
            except BufferError:
                prod.poll(0.05)
        ids.append(rid)
        if len(ids) % 10000 == 0:
            prod.poll(0)
            if errors:
                raise KafkaException(errors[0])
    left = prod.flush(timeout)
    if errors:
        raise KafkaException(errors[0])
    if left:
        raise AssertionError("%d records to %s not delivered in %ss" % (left, topic, timeout))
    return ids


def produce_transactions(cluster, topic, txns, transactional_id, listener="PLAINTEXT",
                         timeout=60, **client_kw):
    """txns: list of (commit: bool, [(id, record dict)]). Each entry is one
    transaction, committed or aborted. Returns (committed ids, aborted ids)."""
    prod = producer(cluster, listener, {"transactional.id": transactional_id,
                                        "transaction.timeout.ms": 60000,
                                        "message.timeout.ms": 60000}, **client_kw)
    prod.init_transactions(timeout)
    committed, aborted = [], []
    for commit, recs in txns:
        prod.begin_transaction()
        ids = []
        for rid, r in recs:
            while True:
                try:
                    prod.produce(topic, **r)
                    break
                except BufferError:
                    prod.poll(0.05)
            ids.append(rid)
        if commit:
            prod.commit_transaction(timeout)
            committed += ids
        else:
            prod.flush(timeout)         # on the broker, then aborted
            prod.abort_transaction(timeout)
            aborted += ids
    return committed, aborted


# ---------------------------------------------------------------- reading


class Reader:
    """Reads a topic from the beginning, incrementally, keeping only record
    ids (per partition, in order), so that hundreds of thousands of records
    can be counted cheaply. Partitions that appear later are picked up.
    Records without an id are counted in `foreign`."""

    def __init__(self, cluster, topic, listener="PLAINTEXT", isolation="read_committed",
                 **client_kw):
        import uuid
        from confluent_kafka import Consumer
        conf = cluster.client_config(listener, **client_kw)
        conf.update({"logger": _quiet_logger(),
                     "group.id": "kmreader-%s" % uuid.uuid4().hex[:12],
                     "enable.auto.commit": False, "isolation.level": isolation,
                     "auto.offset.reset": "earliest",
                     "fetch.max.bytes": 52428800,
                     "topic.metadata.refresh.interval.ms": 1000})
        self.topic = topic
        self.cons = Consumer(conf)
        self.assigned = set()
        self.ids = collections.defaultdict(list)     # partition -> [id]
        self.offsets = collections.defaultdict(dict)  # partition -> {id: offset}
        self.seen = set()
        self.foreign = 0
        self.count = 0

    def _assign_new(self):
        from confluent_kafka import TopicPartition, OFFSET_BEGINNING
        try:
            md = self.cons.list_topics(topic=self.topic, timeout=5)
        except Exception:
            return
        t = md.topics.get(self.topic)
        if t is None or t.error is not None:
            return
        new = [p for p in t.partitions if p not in self.assigned]
        if new:
            self.cons.incremental_assign([TopicPartition(self.topic, p, OFFSET_BEGINNING)
                                          for p in new])
            self.assigned.update(new)

    def poll(self, seconds=1.0, keep_offsets=False):
        """Read for about `seconds` (less when nothing comes). Returns the
        number of records read."""
        self._assign_new()
        if not self.assigned:
            time.sleep(min(seconds, 0.2))
            return 0
        deadline = time.monotonic() + seconds
        got = 0
        while time.monotonic() < deadline:
            msgs = self.cons.consume(num_messages=5000, timeout=min(0.3, max(
                0.01, deadline - time.monotonic())))
            if not msgs:
                break
            for m in msgs:
                if m.error() is not None:
                    continue
                rid = record_id(m.key(), m.value(), m.headers())
                if rid is None:
                    self.foreign += 1
                    continue
                self.ids[m.partition()].append(rid)
                self.seen.add(rid)
                if keep_offsets:
                    self.offsets[m.partition()].setdefault(rid, m.offset())
                got += 1
        self.count += got
        return got

    def counter(self):
        c = collections.Counter()
        for lst in self.ids.values():
            c.update(lst)
        return c

    def wait_for(self, expected, timeout=120, message=None, keep_offsets=False):
        """Read until every id of `expected` has been seen. Returns the
        Counter of ids seen."""
        expected = set(expected)

        def done():
            self.poll(1.0, keep_offsets=keep_offsets)
            return expected <= self.seen

        try:
            wait_until(done, timeout=timeout, interval=0.05,
                       message=message or "all %d ids on %s" % (len(expected), self.topic))
        except AssertionError as e:
            missing = expected - self.seen
            raise AssertionError("%s: %d of %d ids missing (e.g. %s)"
                                 % (e, len(missing), len(expected),
                                    sorted(missing)[:5])) from None
        return self.counter()

    def close(self):
        self.cons.close()


def read_all(cluster, topic, ids, timeout=120):
    """Read `topic` until every id of `ids` was seen. Returns (Counter of
    ids seen, duplicates, missing ids, unexpected ids)."""
    reader = Reader(cluster, topic)
    try:
        c = reader.wait_for(ids, timeout=timeout)
    finally:
        reader.close()
    return (c,) + dup_missing(c, ids)


def dup_missing(counter, expected):
    """(duplicates, missing ids, unexpected ids) of a Counter against the
    expected ids: duplicates counts every extra copy."""
    expected = set(expected)
    dups = sum(n - 1 for i, n in counter.items() if n > 1)
    missing = expected - set(counter)
    unexpected = set(counter) - expected
    return dups, missing, unexpected


def check_order(reader, expected_by_partition):
    """Ids of each partition, first copies only, appear in the order they
    were produced. expected_by_partition: {partition: [ids in order]}."""
    for p, exp in expected_by_partition.items():
        seen, firsts = set(), []
        for i in reader.ids.get(p, []):
            if i not in seen:
                seen.add(i)
                firsts.append(i)
        exp_set = set(exp)
        want = [i for i in exp if i in seen]
        got = [i for i in firsts if i in exp_set]
        assert got == want, "partition %d: order differs from the source" % p


def ids_by_partition(ids):
    out = collections.defaultdict(list)
    for i in ids:
        out[int(i.split("/")[1])].append(i)
    return out


# ---------------------------------------------------------------- comparing


def _show(r):
    return "offset %d key=%r value=%r headers=%r ts=%d" % (
        r.offset, r.key if r.key is None else r.key[:40],
        r.value if r.value is None else r.value[:60], r.headers, r.timestamp)


def assert_partition_equal(src_cluster, src_topic, dst_cluster, dst_topic, partition,
                           timeout=120, src_kw=None, dst_kw=None):
    """Read source partition and target partition with kmtestbed's
    consume_all (read_committed) and assert they hold the same records in
    the same order: key, value, headers (order, repeats, None values) and
    timestamp. Returns the number of records compared."""
    src = src_cluster.consume_all(src_topic, partition=partition, timeout=timeout,
                                  **(src_kw or {}))
    dst = dst_cluster.consume_all(dst_topic, partition=partition, timeout=timeout,
                                  **(dst_kw or {}))
    for i, (a, b) in enumerate(zip(src, dst)):
        if (a.key, a.value, a.headers, a.timestamp) != (b.key, b.value, b.headers,
                                                          b.timestamp):
            raise AssertionError(
                "%s[%d] and %s[%d] differ at record #%d:\n  source %s\n  target %s"
                % (src_topic, partition, dst_topic, partition, i, _show(a), _show(b)))
    assert len(src) == len(dst), (
        "%s[%d] has %d records, %s[%d] has %d (first extra: %s)"
        % (src_topic, partition, len(src), dst_topic, partition, len(dst),
           _show((dst if len(dst) > len(src) else src)[min(len(src), len(dst))])))
    return len(src)


def assert_topic_equal(src_cluster, src_topic, dst_cluster, dst_topic, timeout=120,
                       src_kw=None, dst_kw=None):
    """assert_partition_equal for every partition of the source topic;
    the target must have the same number of partitions. Returns the total
    number of records compared."""
    smd = src_cluster.admin().list_topics(topic=src_topic, timeout=20).topics[src_topic]
    dmd = dst_cluster.admin().list_topics(topic=dst_topic, timeout=20).topics[dst_topic]
    assert dmd.error is None, "target topic %s: %s" % (dst_topic, dmd.error)
    assert len(dmd.partitions) == len(smd.partitions), \
        "%s has %d partitions, %s %d" % (src_topic, len(smd.partitions), dst_topic,
                                         len(dmd.partitions))
    return sum(assert_partition_equal(src_cluster, src_topic, dst_cluster, dst_topic, p,
                                      timeout, src_kw, dst_kw)
               for p in sorted(smd.partitions))
