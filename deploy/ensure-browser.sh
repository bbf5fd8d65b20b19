#!/usr/bin/env bash
# The web UI's browser test drives Debian's chromium through its chromedriver: install
# both when they are missing and this runs as root with apt-get; otherwise say so (the
# test then skips, naming what is missing). Never fails the test run by itself.
set -uo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "mesobus: chromium and chromium-driver are not installed: the web UI's browser test will skip" >&2
  echo "mesobus: (install them with 'sudo apt-get install chromium chromium-driver')" >&2
  exit 0
fi
echo "mesobus: installing chromium and chromium-driver for the web UI's browser test..." >&2
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
  || echo "mesobus: apt-get install chromium chromium-driver failed: the web UI's browser test will skip" >&2
exit 0
