#!/usr/bin/env bash
# `make run-cluster` and the scale-out test put HAProxy in front of the servers
# (HAPROXY_PATH, default Debian's haproxy). Installs Debian's package when it is missing and
# we may; otherwise fails with the reason, so the scale-out test is never skipped in silence.
set -euo pipefail
haproxy=${HAPROXY_PATH:-haproxy}
if command -v "$haproxy" >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[haproxy] installing Debian's haproxy for the cluster" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends haproxy >/dev/null; }
  exit 0
fi
echo "[haproxy] $haproxy not found. Install HAProxy (Debian: apt-get install haproxy)" \
     "or set HAPROXY_PATH; the cluster and its test need it." >&2
exit 2
