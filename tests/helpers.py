"""Small helpers shared by kmirror's Python tests (no Kafka knowledge here;
Kafka clients live in contrib/testbed/kmtestbed.py)."""

import itertools
import os
import time
import uuid

_counter = itertools.count(1)


def wait_until(predicate, timeout=30.0, interval=0.1, message=None, ignore=()):
    """Call predicate() until it returns something truthy and return that.
    Raise AssertionError after `timeout` seconds, naming `message`, the
    last value and the last ignored exception. Exceptions of the types in
    `ignore` count as "not yet"; any other exception propagates."""
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except ignore as e:        # noqa: PERF203 - polling on purpose
            last_exc = e
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            raise AssertionError("timed out after %.1fs waiting for %s (last value %r%s)"
                                 % (timeout, what, last,
                                    ", last error %r" % last_exc if last_exc else ""))
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def unique_name(prefix="t"):
    """A name unique in this run and across concurrent runs, valid as a
    Kafka topic, consumer group and kmirror flow name: [a-z0-9-] only."""
    return "%s-%d-%d-%s" % (prefix, os.getpid() % 100000, next(_counter),
                            uuid.uuid4().hex[:6])


def unique_topic(prefix="topic"):
    return unique_name(prefix)


def unique_group(prefix="group"):
    return unique_name(prefix)


def unique_flow(prefix="flow"):
    return unique_name(prefix)
