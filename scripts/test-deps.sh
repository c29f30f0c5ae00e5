#!/usr/bin/env bash
# The system packages `npm test` needs beside Node.js: nats-server (the cluster tests run real NATS
# JetStream servers). Installs what is missing with apt-get (Debian, Ubuntu: as root, or through
# sudo); elsewhere it says what to install. The README's test command and .ci/run both run it.
set -euo pipefail
missing=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "the tests need: ${missing[*]} (macOS: brew install ${missing[*]})" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update
$sudo apt-get install -y "${missing[@]}"
