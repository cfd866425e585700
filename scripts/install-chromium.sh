#!/usr/bin/env bash
# Installs Debian's Chromium for the scorecard's browser test, unless present.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo apt-get install -y --no-install-recommends chromium >/dev/null
fi
