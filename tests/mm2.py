"""MM2 record formats decoded in Python, independently of the C code, so the
system tests check what kmirrord wrote against MM2's byte layout
(shared/reference/mm2-facts.md section 1)."""

import struct


class Short(Exception):
    pass


def _string(buf, off):
    if len(buf) < off + 2:
        raise Short("string length")
    (n,) = struct.unpack_from(">h", buf, off)
    if n < 0 or len(buf) < off + 2 + n:
        raise Short("string body")
    return buf[off + 2:off + 2 + n].decode("utf-8"), off + 2 + n


def heartbeat(key, value):
    """(source, target, version, timestamp_ms) of a heartbeat record."""
    src, off = _string(key, 0)
    tgt, _ = _string(key, off)
    if len(value) < 10:
        raise Short("heartbeat value")
    version, ts = struct.unpack_from(">hq", value, 0)
    return src, tgt, version, ts


def offset_sync(key, value):
    """(topic, partition, upstream_offset, downstream_offset)."""
    topic, off = _string(key, 0)
    (part,) = struct.unpack_from(">i", key, off)
    up, down = struct.unpack_from(">qq", value, 0)
    return topic, part, up, down


def checkpoint(key, value):
    """(group, topic, partition, upstream, downstream, metadata)."""
    group, off = _string(key, 0)
    topic, off = _string(key, off)
    (part,) = struct.unpack_from(">i", key, off)
    _version, up, down = struct.unpack_from(">hqq", value, 0)
    meta, _ = _string(value, 18)
    return group, topic, part, up, down, meta
