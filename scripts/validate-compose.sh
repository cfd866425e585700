#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: PyPI's docker-compose
# 1.29.2 (`docker-compose config`) in a virtualenv under target/, made once.
# Its PyYAML 5.4.1 only builds with Cython < 3, hence the install order.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PANTAU_COMPOSE_VENV:-target/compose-venv}"
if [ ! -x "$venv/bin/docker-compose" ]; then
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    scripts/apt-install.sh python3 python3-venv python3-dev gcc
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q "cython<3" wheel setuptools
  "$venv/bin/pip" install -q --no-build-isolation pyyaml==5.4.1
  "$venv/bin/pip" install -q docker-compose==1.29.2
fi
# The variables compose would read from the environment or .env.
PANTAU_WEBHOOK_SECRET="${PANTAU_WEBHOOK_SECRET:-validate}" \
  "$venv/bin/docker-compose" -f docker-compose.yml config -q
echo "docker-compose.yml is valid"
