#!/usr/bin/env bash
# Installs everything the tests need (Debian packages, Python packages, the lab's guest image) and runs the
# whole test suite; arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
echo "test setup: hpt (ci/install.sh) ..."
bash ci/install.sh
pkgs=(tgt libiscsi-bin qemu-utils qemu-block-extra sg3-utils tshark prometheus)
# the throw-away Ceph of the rbd store's tests (ci/ceph/README.md): a monitor, a memstore OSD, the ceph/rbd CLIs
pkgs+=(ceph-mon ceph-osd ceph-common librbd1)
if [ -f ci/lab/host-packages.txt ]; then
  while read -r p; do
    case "$p" in ''|'#'*) ;; *) pkgs+=("$p") ;; esac
  done < ci/lab/host-packages.txt
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test setup: installing ${#missing[@]} Debian packages (${missing[*]}) ..."
  started=$SECONDS
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "test setup: Debian packages installed in $((SECONDS - started)) s"
else
  echo "test setup: Debian packages: all ${#pkgs[@]} installed"
fi
PY=${PYTHON:-python3}
echo "test setup: hpt with its test and perf extras (pip install -e .[test,perf]) ..."
"$PY" -m pip install -q --disable-pip-version-check --break-system-packages -e ".[test,perf]" 2>&1 | grep -v -e "^WARNING: Running pip as" -e "^\[notice\]" || true
# The lab's guest image, cached under ${HPT_LAB_CACHE:-~/.cache/hpt-lab}: built once (debootstrap from
# Debian's archive, about 2 minutes), reused while its inputs stay the same. A machine that cannot build it
# still runs every other test; the lab tests then skip with the reason printed here.
"$PY" -m ci.lab.image build || echo "lab image: the lab tests will be skipped with this reason" >&2
# tgtd from the package must not hold port 3260 for the tests: the tests start their own daemons
systemctl stop tgt >/dev/null 2>&1 || true
exec "$PY" -m pytest -q "$@"
