#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers on 127.0.0.1:5672: start it, or install it from the
# system packages when running as root; otherwise say exactly what to do and fail.
set -uo pipefail

answers() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if answers; then exit 0; fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "mesobus: no RabbitMQ broker on 127.0.0.1:5672 and rabbitmq-server is not installed." >&2
    echo "mesobus: install it (e.g. 'sudo apt-get install rabbitmq-server') and start it with 'sudo rabbitmq-server -detached'." >&2
    exit 1
  fi
  echo "mesobus: installing rabbitmq-server from the system packages..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null \
    || { echo "mesobus: apt-get install rabbitmq-server failed" >&2; exit 1; }
fi

echo "mesobus: starting the local RabbitMQ broker (rabbitmq-server -detached)..." >&2
rabbitmq-server -detached >/dev/null 2>&1 || true
for _ in $(seq 1 60); do
  if answers; then exit 0; fi
  sleep 1
done
echo "mesobus: RabbitMQ did not answer on 127.0.0.1:5672 within 60 s; see /var/log/rabbitmq/" >&2
exit 1
