#!/usr/bin/env bash
# Install what redis-harness needs and is missing: Debian packages (servers, tools, network
# plumbing; Chromium, shellcheck and prometheus-redis-exporter for the tests) and a virtualenv at .venv with the package and its
# Python dependencies. Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-server redis-sentinel redis-tools iptables iproute2 procps python3-venv)
if [[ "${WITH_TEST_DEPS:-0}" == 1 ]]; then
  # the report render test; the start-script lint test; the metrics component's exporter, run locally
  APT_PACKAGES+=(chromium shellcheck prometheus-redis-exporter)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "install.sh: missing Debian packages: ${missing[*]}; run as root (sudo) to install them" >&2
    exit 2
  fi
  echo "install.sh: apt-get install ${missing[*]}"
  apt-get update -qq
  # Debian's redis-server package would start a server on 127.0.0.1:6379 where an init system runs;
  # the harness starts its own servers, so keep package scripts from starting services.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "install.sh: creating .venv"
  "$PYTHON" -m venv .venv
fi
extras=""
[[ "${WITH_TEST_DEPS:-0}" == 1 ]] && extras="[test]"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-12)${extras:+-test}"
if [[ ! -f "$stamp" ]]; then
  echo "install.sh: pip install -e .${extras}"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi
