#!/usr/bin/env bash
# Installs Debian's Chromium for the scorecard's browser test, unless present.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" chromium
