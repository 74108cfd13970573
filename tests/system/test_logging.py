"""Logs: JSON lines in a file, one event per line with role, flow and pid;
SIGUSR1 reopens the file (logrotate), in the supervisor and the workers."""

import json
import os
import signal

import kmd
from helpers import unique_name, wait_until


def read_json_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            out.append(json.loads(line))
    return out


def test_json_log_file_and_reopen(kmirrord, run_dir, cluster_a, cluster_b):
    name = unique_name("logs")
    d = os.path.join(run_dir, name)
    os.makedirs(d, exist_ok=True)
    logf = os.path.join(d, "json.log")
    src, tgt = "ls_" + name[-6:], "lt_" + name[-6:]
    text = kmd.config_text(run_dir, name, [kmd.cluster_block(src, cluster_a),
                                           kmd.cluster_block(tgt, cluster_b)],
                           ['source = "%s"; target = "%s";' % (src, tgt)],
                           '  log = { target = "file"; file = "%s"; format = "json"; };' % logf)
    k = kmirrord(name, text).start()
    lines = read_json_lines(logf)
    assert lines, "the log file has events"
    for ev in lines:
        assert set(ev) >= {"ts", "level", "role", "flow", "pid", "msg"}
    roles = {ev["role"] for ev in lines}
    assert {"supervisor", "source", "heartbeat"} <= roles
    assert any(ev["flow"] == "%s->%s" % (src, tgt) for ev in lines if ev["role"] == "source")
    pids = {ev["pid"] for ev in lines}
    assert k.pid in pids

    # logrotate: move the file away, SIGUSR1, new events go to a new file
    os.rename(logf, logf + ".1")
    k.signal(signal.SIGUSR1)
    wait_until(lambda: os.path.exists(logf), timeout=10, message="log reopened")
    # the running workers reopened too: make each of them log (pause logs
    # "paused by the supervisor" in every worker of the flow)
    old_pids = {w["pid"] for w in k.workers().values()}
    assert k.ctl("pause", "%s->%s" % (src, tgt), json_out=False).returncode == 0
    wait_until(lambda: {ev["pid"] for ev in read_json_lines(logf)
                        if "paused by the supervisor" in ev["msg"]} == old_pids,
               timeout=30, message="every running worker logs into the new file")
    new = read_json_lines(logf)
    assert any(ev["role"] == "supervisor" for ev in new)
    k.stop()
