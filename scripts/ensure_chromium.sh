#!/usr/bin/env bash
# The browser test drives a system Chromium (CHROMIUM_PATH, default /usr/bin/chromium).
set -euo pipefail
exec "$(dirname "$0")/ensure_debian_package.sh" chromium "${CHROMIUM_PATH:-/usr/bin/chromium}" \
  "the web chat's browser test" CHROMIUM_PATH
