#!/usr/bin/env bash
# ensure_debian_package.sh PACKAGE PROGRAM WHAT-NEEDS-IT VARIABLE: PROGRAM (a path or a name
# on PATH, set by VARIABLE) must exist. Installs Debian's PACKAGE when it is missing and we may (root with apt-get);
# otherwise fails with the reason, so what needs it is never skipped in silence.
set -euo pipefail
package=$1 program=$2 needed_by=$3 variable=$4
if [ -x "$program" ] || command -v "$program" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[$package] installing Debian's $package for $needed_by" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package" >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "$package" >/dev/null; }
  exit 0
fi
echo "[$package] $program not found: $needed_by needs it. Install it" \
     "(Debian: apt-get install $package) or set $variable." >&2
exit 2
