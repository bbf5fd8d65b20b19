#!/usr/bin/env bash
# The test command: builds a fresh virtual environment (so that a run never passes on a
# machine's leftovers), installs mesobus with its test extras into it, makes sure a
# RabbitMQ broker answers on 127.0.0.1:5672 (starting or installing one when it can), then
# runs pytest. Extra arguments go to pytest: `bash deploy/test.sh tests/unit -x`.
# MESOBUS_TEST_VENV names the environment's folder (default: .venv-test, rebuilt each run).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${MESOBUS_TEST_VENV:-.venv-test}"
echo "mesobus: building a fresh test environment in $venv ..." >&2
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 \
  | grep -v -e "Running pip as the 'root' user" -e "^\[notice\]" -e "^WARNING: Location" || true
"$venv/bin/python" - <<'PY'
import importlib.metadata as md, sys
missing = [r for r in ("pykka", "pika", "pytest") if not any(d.metadata["Name"].lower() == r for d in md.distributions())]
if missing:
    sys.exit(f"mesobus: the test environment lacks {', '.join(missing)}: pip install failed (see above)")
PY

bash deploy/broker/ensure-local-broker.sh
bash deploy/ensure-browser.sh

# Without a path among the arguments, run everything: the tests and the doctests.
paths=0
for arg in "$@"; do case "$arg" in -*) ;; *) paths=1 ;; esac; done
if [ "$paths" -eq 0 ]; then
  set -- "$@" tests messages actors rabbitmq
fi
if [ "$paths" -eq 0 ]; then
  # A full run: then the transport's tests once more on pika's public API only, so that the
  # path without pika's internals stays tested too (rabbitmq/config.py: fast).
  "$venv/bin/python" -m pytest -p no:cacheprovider --ignore-glob='*/__main__.py' --ignore="$venv" "$@"
  echo "mesobus: the transport tests again with MESOBUS_TRANSPORT_FAST=0 (pika's public API only)" >&2
  MESOBUS_TRANSPORT_FAST=0 exec "$venv/bin/python" -m pytest -p no:cacheprovider -q \
    tests/unit/test_rabbitmq_*.py tests/integration/test_transport_*.py
fi
exec "$venv/bin/python" -m pytest -p no:cacheprovider --ignore-glob='*/__main__.py' --ignore="$venv" "$@"
