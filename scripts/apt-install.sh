#!/usr/bin/env bash
# Installs Debian packages for the tests, one caller at a time. Tests of one
# binary run in parallel, and two apt-get runs at once fail on apt's lock
# ("Could not get lock /var/lib/apt/lists/lock"), so callers queue on a lock
# file of their own; apt's own lock is waited for too, for any other apt user.
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
apt=($sudo apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
exec 9>"${TMPDIR:-/tmp}/pantau-apt-install.lock"
flock 9
# The package lists of a fresh machine may be missing or stale: update only
# when the install fails without one.
if ! "${apt[@]}" install "$@" >/dev/null 2>&1; then
  "${apt[@]}" update -qq
  "${apt[@]}" install "$@" >/dev/null
fi
