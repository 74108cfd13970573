#!/bin/sh
# kmirror: install what building and testing need on Debian 12 (run as root).
# Idempotent: every step is skipped when already done.
#   1. Debian packages (apt-get update only if something is missing)
#   2. Python packages of tests/requirements.txt
#   3. Apache Kafka 3.9.2 and 4.3.1 jars and MirrorMaker 2 4.3.1 from Maven
#      Central, the test PKI
#      (contrib/testbed/kmtestbed.py; cache: $KMIRROR_CACHE or ~/.cache/kmirror)
# Environment: KMIRROR_SETUP_NO_KAFKA=1 skips step 3.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
testbed="$repo/contrib/testbed/kmtestbed.py"
kafka_versions="3.9.2 4.3.1"

say() { printf 'setup: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
    echo "setup: run as root (apt-get install)" >&2
    exit 1
fi

# ---- 1. Debian packages
pkgs="build-essential pkg-config librdkafka-dev libevent-dev libconfig-dev
      libpcre2-dev libjansson-dev libsasl2-dev libssl-dev openssl maven
      openjdk-17-jdk-headless procps man-db ca-certificates"
# A fresh Debian may lack Python or pip altogether.
command -v python3 >/dev/null 2>&1 || pkgs="$pkgs python3"
python3 -m pip --version >/dev/null 2>&1 || pkgs="$pkgs python3-pip"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
else
    say "Debian packages: all present"
fi

# ---- 2. Python packages
if python3 -c 'import confluent_kafka, pytest, prometheus_client' 2>/dev/null; then
    say "Python packages: all present"
else
    say "installing Python packages from tests/requirements.txt"
    pipflags="-q --disable-pip-version-check"
    # Debian's own python3 refuses system-wide pip installs (PEP 668).
    if python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
        pipflags="$pipflags --break-system-packages"
    fi
    # shellcheck disable=SC2086
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install $pipflags -r "$repo/tests/requirements.txt"
fi

# ---- 3. Kafka jars and test PKI (kmtestbed skips what is already cached)
if [ -z "${KMIRROR_SETUP_NO_KAFKA:-}" ]; then
    for v in $kafka_versions; do
        say "Apache Kafka $v: $(python3 "$testbed" fetch --version "$v")"
    done
    say "Apache MirrorMaker 2 4.3.1: $(python3 "$repo/contrib/mm2/mm2run.py" fetch)"
    python3 "$testbed" pki >/dev/null
    say "test PKI ready"
fi
say "done"
