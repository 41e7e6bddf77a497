#!/usr/bin/env bash
# Installs everything the tests need (Debian packages and Python packages) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
bash ci/install.sh
pkgs=(tgt libiscsi-bin qemu-utils qemu-block-extra sg3-utils)
if [ -f ci/lab/host-packages.txt ]; then
  while read -r p; do
    case "$p" in ''|'#'*) ;; *) pkgs+=("$p") ;; esac
  done < ci/lab/host-packages.txt
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check --break-system-packages -e ".[test]" 2>&1 | grep -v -e "^WARNING: Running pip as" -e "^\[notice\]" || true
# tgtd from the package must not hold port 3260 for the tests: the tests start their own daemons
systemctl stop tgt >/dev/null 2>&1 || true
exec "$PY" -m pytest -q "$@"
