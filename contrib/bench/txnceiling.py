#!/usr/bin/env python3
"""txnceiling.py: how fast one librdkafka producer writes to a cluster,
plain (acks=1, not idempotent), idempotent (acks=all) and transactional
(a commit every 16 MB, as kmirrord's source worker does), with kmirrord's
producer settings (linger.ms 5, batch.num.messages 10000). It shows what a
transactional copy can reach at best on a machine: kmirrord's catch-up is
compared with it in docs/benchmarks.md.

    python3 contrib/bench/txnceiling.py BOOTSTRAP [RECORDS] [SIZE] [PARTITIONS]

Creates a topic ptest-<mode>-<time> per mode on BOOTSTRAP (say a test-bed
cluster left running by `replicate.py --keep`) and prints MB/s per mode.
Needs confluent_kafka (contrib/bench/requirements.txt).
"""
import os
import sys
import time

from confluent_kafka import Producer, version, libversion
from confluent_kafka.admin import AdminClient, NewTopic

TXN_BYTES = 16 << 20


def run(bs, mode, n, size, parts):
    topic = "ptest-%s-%d" % (mode, int(time.time() * 1000) % 100000000)
    ac = AdminClient({"bootstrap.servers": bs})
    ac.create_topics([NewTopic(topic, parts, 1)])[topic].result(30)
    conf = {"bootstrap.servers": bs, "linger.ms": 5, "batch.num.messages": 10000,
            "queue.buffering.max.kbytes": 262144, "queue.buffering.max.messages": 100000}
    if mode == "plain":
        conf.update({"acks": "1", "enable.idempotence": False})
    elif mode == "idempotent":
        conf.update({"acks": "all", "enable.idempotence": True})
    else:
        conf.update({"acks": "all", "transactional.id": topic})
    p = Producer(conf)
    if mode == "transactional":
        p.init_transactions(30)
        p.begin_transaction()
    val = os.urandom(size)
    t0 = time.monotonic()
    txb = commits = 0
    for i in range(n):
        while True:
            try:
                p.produce(topic, val, partition=i % parts)
                break
            except BufferError:
                p.poll(0.001)
        txb += size
        if mode == "transactional" and txb >= TXN_BYTES:
            p.commit_transaction(60)
            commits += 1
            p.begin_transaction()
            txb = 0
    left = p.flush(120)
    if mode == "transactional":
        p.commit_transaction(60)
        commits += 1
    dt = time.monotonic() - t0
    if left:
        raise SystemExit("%s: %d records not delivered" % (mode, left))
    return n * size / dt / 1e6, commits


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    bs = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    parts = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    print("confluent_kafka %s, librdkafka %s; %d x %d B over %d partitions"
          % (version()[0], libversion()[0], n, size, parts))
    for mode in ("plain", "idempotent", "transactional"):
        mbs, commits = run(bs, mode, n, size, parts)
        print("%-13s %7.1f MB/s%s" % (mode, mbs, " (%d commits)" % commits if commits else ""))


if __name__ == "__main__":
    main()
