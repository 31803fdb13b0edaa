#!/usr/bin/env bash
# The browser test drives a system Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
# Installs Debian's package when it is missing and we may; otherwise fails with the reason,
# so the browser test is never skipped in silence.
set -euo pipefail
browser=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$browser" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[chromium] installing Debian's chromium for the browser test" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends chromium >/dev/null; }
  exit 0
fi
echo "[chromium] $browser not found. Install Chromium (Debian: apt-get install chromium)" \
     "or set CHROMIUM_PATH; the browser test needs it." >&2
exit 2
