#!/usr/bin/env bash
# The whole test suite: lint, data validation, training (only if stale), pytest (unit,
# integration against real PostgreSQL and Redis, end to end through running servers) and
# `rasa test` on the test stories. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n=== %s ===\n' "$*"; }

step "ruff"
ruff check .
ruff format --check .

step "rasa data validate --fail-on-warnings"
rasa data validate --fail-on-warnings

step "train (only if domain, config or data changed)"
python -m stack train

step "pytest (the browser test needs Chromium, the scale-out test HAProxy)"
scripts/ensure_chromium.sh
scripts/ensure_haproxy.sh
python -m pytest "$@"

step "rasa test --fail-on-prediction-errors"
rasa test --model models/shopbot.tar.gz --stories tests/test_stories.yml \
  --out results --fail-on-prediction-errors
echo "rasa test: all test stories passed"

step "rasa test nlu on the held-out messages (macro-F1 must reach 0.95)"
rasa test nlu --model models/shopbot.tar.gz --nlu tests/nlu/heldout.yml --out results/nlu
python -m scripts.check_nlu_report results/nlu/intent_report.json --min-macro-f1 0.95
