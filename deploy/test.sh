#!/usr/bin/env bash
# The test command: installs mesobus with its test extras, makes sure a RabbitMQ broker
# answers on 127.0.0.1:5672 (starting or installing one when it can), then runs pytest.
# Extra arguments go to pytest: `bash deploy/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 \
  | grep -v -e "Running pip as the 'root' user" -e "^\[notice\]" || true

bash deploy/broker/ensure-local-broker.sh

# Without a path among the arguments, run everything: the tests and the doctests.
paths=0
for arg in "$@"; do case "$arg" in -*) ;; *) paths=1 ;; esac; done
if [ "$paths" -eq 0 ]; then
  set -- "$@" tests messages actors rabbitmq
fi
exec python3 -m pytest -p no:cacheprovider --ignore-glob='*/__main__.py' "$@"
