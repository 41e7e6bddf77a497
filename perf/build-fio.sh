#!/usr/bin/env bash
# Build fio with the libiscsi ioengine from Debian's own fio source into perf/build/fio.
#
# Debian's fio package is built without the libiscsi engine, so perf/e2e.py needs its own binary
# (see the team's baseline notes: "Debian's fio has no libiscsi engine").  Steps:
#   1. add deb-src entries mirroring the configured Debian "deb" entries (no new host is named here),
#   2. apt-get install the build dependencies the libiscsi/libaio build needs,
#   3. apt-get source fio, ./configure --disable-native --enable-libiscsi, make -j2 fio.
# Idempotent: it exits at once when perf/build/fio exists and lists the libiscsi engine.
# Needs root (apt-get); set FIO_BUILD_DIR to build elsewhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${FIO_BUILD_DIR:-$here/build}"
fio_bin="$build/fio"

has_libiscsi() {
    [ -x "$1" ] && "$1" --enghelp 2>/dev/null | grep -qx '[[:space:]]*libiscsi'
}

if has_libiscsi "$fio_bin"; then
    echo "fio with libiscsi already built: $fio_bin"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "build-fio.sh: needs root for apt-get" >&2
    exit 1
fi

add_deb_src() {
    # deb822 files: copy each "Types: deb" stanza as "Types: deb-src"; one-line lists: "deb " -> "deb-src ".
    if grep -rqsE '^(Types:.*deb-src|deb-src[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    local out=/etc/apt/sources.list.d/hpt-deb-src
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' \
            /etc/apt/sources.list.d/debian.sources >"$out.sources"
    elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^deb[[:space:]]/deb-src /' >"$out.list"
    else
        echo "build-fio.sh: no Debian apt sources found to mirror as deb-src" >&2
        exit 1
    fi
}

add_deb_src
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential dpkg-dev pkg-config zlib1g-dev libiscsi-dev libaio-dev >/dev/null

src="$build/src"
mkdir -p "$src"
cd "$src"
srcdir="$(find . -maxdepth 1 -type d -name 'fio-*' | sort | tail -n 1)"
if [ -z "$srcdir" ]; then
    apt-get source -qq fio
    srcdir="$(find . -maxdepth 1 -type d -name 'fio-*' | sort | tail -n 1)"
fi
cd "$srcdir"
./configure --disable-native --enable-libiscsi >configure.log
grep -q '^CONFIG_LIBISCSI=y' config-host.mak || {
    echo "build-fio.sh: configure did not enable libiscsi (see $src/$srcdir/configure.log)" >&2
    exit 1
}
make -j2 fio >make.log
install -m 0755 fio "$fio_bin"
has_libiscsi "$fio_bin" || { echo "build-fio.sh: built fio lacks the libiscsi engine" >&2; exit 1; }
echo "built $fio_bin ($("$fio_bin" --version))"
