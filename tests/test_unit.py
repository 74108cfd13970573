"""Run the C unit-test binaries (build/tests/test_*) as pytest tests.

`make unit` builds one binary per tests/unit/test_*.c; each prints one
"ok"/"not ok" line per test and exits non-zero when any check failed. Every
binary is one test here. The build directory is $KMIRROR_BUILD (what
`make test` passes: build/ or build-san/), by default <repo>/build.
"""

import glob
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KMIRROR_BUILD") or os.path.join(REPO, "build")
TIMEOUT = 120

# Sanitizer reports that must fail a test even if the exit code were 0.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")


def _binaries():
    found = []
    for path in sorted(glob.glob(os.path.join(BUILD, "tests", "test_*"))):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            found.append(path)
    return found


BINARIES = _binaries()


@pytest.mark.parametrize(
    "binary", BINARIES or [None],
    ids=[os.path.basename(b) for b in BINARIES] or ["no-unit-binaries"])
def test_unit_binary(binary):
    if binary is None:
        pytest.fail("no unit-test binary in %s/tests: run `make unit` first "
                    "(or set KMIRROR_BUILD)" % BUILD)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    try:
        proc = subprocess.run([binary], cwd=REPO, env=env,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        pytest.fail("%s did not finish within %d s; output so far:\n%s"
                    % (binary, TIMEOUT, out))
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        how = ("killed by signal %d" % -proc.returncode if proc.returncode < 0
               else "exit code %d" % proc.returncode)
        pytest.fail("%s failed (%s):\n%s" % (binary, how, out))
    for mark in SANITIZER_MARKS:
        if mark in out:
            pytest.fail("%s reported %r:\n%s" % (binary, mark, out))
    # a binary that ran no test at all is not a pass
    if " passed, " not in out:
        pytest.fail("%s printed no summary line:\n%s" % (binary, out))
