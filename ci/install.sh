#!/usr/bin/env bash
# Installs hpt and what it needs to run on a Debian 12 machine (as root). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for p in python3 python3-pip python3-dev gcc liburing-dev libibverbs-dev librdmacm-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check --break-system-packages -e . 2>&1 | grep -v -e "^WARNING: Running pip as" -e "^\[notice\]" || true
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
"$PY" -c "import hpt.native.ring" || { echo "hpt: native ring module did not build" >&2; exit 1; }
"$PY" -c "import hpt.native._uring" 2>/dev/null || echo "hpt: the io_uring engine did not build (liburing-dev)" >&2
"$PY" -c "import hpt.native._verbs" 2>/dev/null || echo "hpt: the iSER verbs module did not build (libibverbs-dev, librdmacm-dev)" >&2
echo "hpt installed: $(command -v hptd || echo "$PY -m hpt.daemon")"
# The systemd unit (Type=notify, reload by SIGHUP), where systemd runs; not enabled here
if [ -d /run/systemd/system ] && command -v hptd >/dev/null 2>&1; then
  sed "s|@HPTD@|$(command -v hptd)|" ci/hptd.service > /etc/systemd/system/hptd.service
  mkdir -p /etc/hpt /usr/share/doc/hpt
  cp README.md /usr/share/doc/hpt/README.md
  [ -f /etc/hpt/hptd.toml ] || printf '# hptd: portals and no targets; add them with hptadm or here (docs/config.md)\n[[portal]]\naddress = "0.0.0.0:3260"\n' > /etc/hpt/hptd.toml
  systemctl daemon-reload
  echo "hpt: systemd unit installed (systemctl enable --now hptd)"
fi
