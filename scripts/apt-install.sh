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
# Packages such as prometheus start their service on install where an init
# system runs. The tests start their own servers on loopback ports and must
# never start, stop or change one of the host's, so during the install
# policy-rc.d answers 101 ("action forbidden") to every start request, as in
# container images. A policy-rc.d the machine already has is left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# pantau scripts/apt-install.sh: no service starts during its installs\nexit 101\n' |
    $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
# The package lists of a fresh machine may be missing or stale: update only
# when the install fails without one.
if ! "${apt[@]}" install "$@" >/dev/null 2>&1; then
  "${apt[@]}" update -qq
  "${apt[@]}" install "$@" >/dev/null
fi
