#!/usr/bin/env bash
# Install the SIP software the Kamailio end-to-end test needs (Debian packages):
#   kamailio                 the SIP proxy (dialog, tm, rr, sl, htable, ... modules)
#   kamailio-utils-modules   http_client
#   kamailio-extra-modules   jansson (JSON parsing in the config)
#   sip-tester               SIPp, the callers (UAC) and the callee (UAS)
# Does nothing when every binary and module is already there. Needs root (or sudo).
set -euo pipefail

PACKAGES=(kamailio kamailio-utils-modules kamailio-extra-modules sip-tester)

modules_dir() {
  local d
  for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/aarch64-linux-gnu/kamailio/modules \
           /usr/lib/kamailio/modules /usr/lib64/kamailio/modules; do
    [ -d "$d" ] && { echo "$d"; return 0; }
  done
  dpkg -L kamailio 2>/dev/null | grep -m1 '/modules/tm.so$' | xargs -r dirname
}

present() {
  command -v kamailio >/dev/null 2>&1 && command -v sipp >/dev/null 2>&1 || return 1
  local dir
  dir="$(modules_dir)"
  [ -n "$dir" ] && [ -f "$dir/http_client.so" ] && [ -f "$dir/jansson.so" ] && [ -f "$dir/dialog.so" ]
}

if present; then
  echo "kamailio and sipp are installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps.sh needs root (or sudo) to apt-get install ${PACKAGES[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when apt does not know the packages yet.
if ! apt-cache show "${PACKAGES[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; then
  # stale package lists (a mirror moved on): refresh once and try again
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
fi

# The Debian package starts a system-wide kamailio on 5060 where systemd runs; the test
# starts its own on free ports, so the packaged service is not needed (and absent in CI).
present || { echo "kamailio/sipp still missing after apt-get install" >&2; exit 1; }
echo "installed: ${PACKAGES[*]}"
