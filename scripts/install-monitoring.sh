#!/usr/bin/env bash
# Installs Debian's Prometheus (with promtool) and Alertmanager (with amtool) for
# the monitoring tests, and python3 for deploy/webhook/receiver.py, unless they
# are already there. Nothing is started here: the tests start their own servers
# on loopback ports.
set -euo pipefail
if command -v promtool >/dev/null && command -v amtool >/dev/null \
  && command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null \
  && command -v python3 >/dev/null; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" prometheus prometheus-alertmanager python3
