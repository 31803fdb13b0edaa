#!/usr/bin/env bash
# `make run-cluster` and the scale-out test put HAProxy in front of the servers (HAPROXY_PATH,
# default Debian's haproxy, which lives in /usr/sbin).
set -euo pipefail
program=${HAPROXY_PATH:-haproxy}
if [ -z "${HAPROXY_PATH:-}" ] && [ -x /usr/sbin/haproxy ]; then
  program=/usr/sbin/haproxy
fi
exec "$(dirname "$0")/ensure_debian_package.sh" haproxy "$program" \
  "the cluster and its scale-out test" HAPROXY_PATH
