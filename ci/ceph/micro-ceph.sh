#!/usr/bin/env bash
# A throw-away single-node Ceph: one monitor and one memstore OSD on 127.0.0.1, no auth, pools of size 1.
#
#   micro-ceph.sh start DIR [POOL]   start it under DIR (created; ceph.conf, data, logs, sockets, pids)
#   micro-ceph.sh stop DIR           stop its daemons and remove DIR
#   micro-ceph.sh status DIR         exit 0 when its monitor answers
#   CEPH_NETNS=NAME micro-ceph.sh start DIR   the same on the loopback of network namespace NAME
#
# Everything lives under DIR: nothing is written to /etc/ceph or /var/lib/ceph, no systemd unit is used.
# The monitor listens on $CEPH_MON_PORT (default: a free port, randomly chosen from 16800 up) with msgr
# v1 only, the OSD on the 19 ports above it. Clients use DIR/ceph.conf (ceph -c DIR/ceph.conf ..., rbd -c DIR/ceph.conf ...). No mgr is
# started: rbd I/O does not need one. The data is in the OSD's memory (memstore, $CEPH_MEMSTORE_BYTES,
# default 2 GiB) and goes with it. The recipe follows go-ceph's micro-osd.sh, with Debian 12's packages
# (ceph-mon, ceph-osd, ceph-common: Ceph 16.2). See ci/ceph/README.md and docs/ceph.md.
set -eEuo pipefail

usage() { echo "usage: $0 start|stop|status DIR [POOL]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
pool=${3:-rbd}
conf=$dir/ceph.conf
# CEPH_NETNS=NAME: the cluster lives on the loopback of network namespace NAME (made if missing, removed
# by stop if this script made it); its clients must then run in it too (ip netns exec NAME ...)
netns=${CEPH_NETNS:-}
if [ -z "$netns" ] && [ -f "$dir/netns" ]; then netns=$(cat "$dir/netns"); fi  # status, stop
in_ns() { if [ -n "$netns" ]; then ip netns exec "$netns" "$@"; else "$@"; fi; }
ceph_() { in_ns timeout 30 ceph -c "$conf" --connect-timeout 20 "$@"; }
# a monitor just started may refuse commands for a moment (EPERM "problem getting command descriptions"
# while it wins its election): the set-up commands, all idempotent, are tried again for 15 s
retry() {
  local i
  for i in $(seq 30); do "$@" 2>/dev/null && return 0; sleep 0.5; done
  "$@"
}

free_port() {
  # a random block of 20 free ports (the monitor's, then the OSD's): clusters started at the same time
  # by parallel test runs do not pick the same one
  python3 - <<'PY'
import random
import socket

def free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

blocks = list(range(16800, 29800, 20))
random.shuffle(blocks)
print(next(b for b in blocks if all(free(p) for p in range(b, b + 20))))
PY
}

stop() {
  local pid name
  for name in osd.0 mon.a; do
    [ -f "$dir/run/$name.pid" ] || continue
    pid=$(cat "$dir/run/$name.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [ -f "$dir/netns-made" ]; then
    ip netns del "$(cat "$dir/netns-made")" 2>/dev/null || true
  fi
}

start() {
  for tool in ceph-mon ceph-osd ceph rados rbd; do
    command -v "$tool" >/dev/null || { echo "micro-ceph: $tool is not installed (apt-get install ceph-mon ceph-osd ceph-common)" >&2; exit 1; }
  done
  [ ! -e "$dir/run/mon.a.pid" ] || { echo "micro-ceph: $dir is already in use (stop it first)" >&2; exit 1; }
  if [ -n "$netns" ]; then
    if ! ip netns list | grep -qx "$netns\( .*\)\?"; then
      ip netns add "$netns"
      mkdir -p "$dir" && echo "$netns" > "$dir/netns-made"
    fi
    mkdir -p "$dir" && echo "$netns" > "$dir/netns"
    ip netns exec "$netns" ip link set lo up
  fi
  local port=${CEPH_MON_PORT:-$( [ -n "$netns" ] && echo 16789 || free_port)}
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$dir"/{mon,osd,run,log}
  cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$port
public addr = 127.0.0.1
ms bind msgr2 = false
ms bind port min = $((port + 1))
ms bind port max = $((port + 19))
auth cluster required = none
auth service required = none
auth client required = none
mon allow pool size one = true
mon allow pool delete = true
mon data avail crit = 0
mon data avail warn = 0
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
# the OSD asks the monitor nothing at boot (its CRUSH place is set here): a boot-time command refused
# now and then ('wrong fsid') made ceph-osd exit
osd class update on start = false
osd crush update on start = false
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-2147483648}
osd journal size = 100
osd class load list = *
osd class default list = *
osd max object name len = 256
osd max object namespace len = 64
osd op num shards = 2
osd op num threads per shard = 1
client mount timeout = 20
rbd cache = false
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
keyring = $dir/keyring
[client]
admin socket =
[mon.a]
mon data = $dir/mon
admin socket = $dir/run/mon.a.asok
[osd.0]
osd data = $dir/osd
admin socket = $dir/run/osd.0.asok
CONF
  touch "$dir/keyring"
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$port]" "$dir/monmap" >"$dir/log/mkfs.log" 2>&1
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring /dev/null >>"$dir/log/mkfs.log" 2>&1
  in_ns ceph-mon -c "$conf" -i a 2>>"$dir/log/start.log"
  [ "$(retry ceph_ fsid)" = "$fsid" ] || { echo "micro-ceph: the monitor on port $port is not ours (port taken?)" >&2; exit 1; }
  # the OSD is created with the uuid its data gets: booting, it asks the monitor for osd.0 with that uuid,
  # which a uuid-less `osd create` refuses now and then ('wrong fsid', and ceph-osd exits)
  local id osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(retry ceph_ osd create "$osd_uuid")
  [ "$id" = 0 ] || { echo "micro-ceph: expected osd.0, the monitor made osd.$id" >&2; exit 1; }
  retry ceph_ osd crush add osd.0 1 root=default >/dev/null
  in_ns ceph-osd -c "$conf" -i 0 --osd-uuid "$osd_uuid" --mkjournal --mkfs >>"$dir/log/mkfs.log" 2>&1
  local attempt
  for attempt in 1 2 3; do
    in_ns ceph-osd -c "$conf" -i 0 2>>"$dir/log/start.log" && break
    [ "$attempt" -lt 3 ] || { echo "micro-ceph: ceph-osd did not start (log/osd.0.log)" >&2; exit 1; }
    sleep 1
  done
  for _ in $(seq 300); do
    ceph_ osd stat 2>/dev/null | grep -q "1 up" && break
    sleep 0.1
  done
  retry ceph_ osd pool create "$pool" 8 8 >/dev/null
  retry ceph_ osd pool set "$pool" size 1 --yes-i-really-mean-it >/dev/null
  in_ns timeout 60 rbd -c "$conf" pool init "$pool"
  # ready when an object can be written: without a mgr, `ceph pg stat` never answers
  echo probe | in_ns timeout 60 rados -c "$conf" -p "$pool" put micro-ceph-probe -
  in_ns timeout 30 rados -c "$conf" -p "$pool" rm micro-ceph-probe
  echo "micro-ceph: up in $SECONDS s: monitor v1:127.0.0.1:$port${netns:+ in netns $netns}, pool $pool, conf $conf"
}

case $cmd in
  start)
    trap 'echo "micro-ceph: failed ($?): $BASH_COMMAND" >&2' ERR
    trap 'status=$?; if [ $status -ne 0 ]; then echo "micro-ceph: start failed; logs in $dir/log" >&2; tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true; stop; fi' EXIT
    start ;;
  stop)
    [ -f "$conf" ] || [ -d "$dir/run" ] || { echo "micro-ceph: nothing under $dir" >&2; exit 1; }
    stop
    rm -rf "$dir" ;;
  status)
    ceph_ mon stat >/dev/null 2>&1 ;;
  *) usage ;;
esac
