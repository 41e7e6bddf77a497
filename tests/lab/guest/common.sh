# Shell functions shared by the lab guest scripts (POSIX sh, sourced ahead of each script).
set -eu

log() { echo "== $*"; }

# wait_for SECONDS COMMAND...: retry COMMAND every 0.5 s until it succeeds or SECONDS pass.
wait_for() {
    limit=$(( $1 * 2 )); shift
    n=0
    until "$@" > /dev/null 2>&1; do
        n=$((n + 1))
        if [ "$n" -ge "$limit" ]; then echo "timed out waiting for: $*"; return 1; fi
        sleep 0.5
    done
}

# verify_disk DEVICE MIB [BS_MIB]: write MIB MiB of random data with O_DIRECT in BS_MIB MiB blocks
# (default 1), read it back, compare checksums.
verify_disk() {
    bs=${3:-1}
    head -c "$(( $2 * 1048576 ))" /dev/urandom > /tmp/pattern
    dd if=/tmp/pattern of="$1" bs="${bs}M" count="$(( $2 / bs ))" oflag=direct status=none
    dd if="$1" of=/tmp/readback bs="${bs}M" count="$(( $2 / bs ))" iflag=direct status=none
    want=$(sha256sum < /tmp/pattern | cut -d' ' -f1)
    got=$(sha256sum < /tmp/readback | cut -d' ' -f1)
    log "pattern $want, read back $got"
    [ "$want" = "$got" ]
}

# scsi_checks DEVICE: the sg3-utils identification commands must succeed.
scsi_checks() {
    sg_inq "$1"
    sg_readcap --long "$1"
    sg_vpd --page=0x00 "$1"
    sg_vpd --page=0x83 "$1"
}

# iscsi_disk IQN: the disk attached by the iSCSI session to IQN, e.g. /dev/sda.
iscsi_disk() {
    disk=$(iscsiadm -m session -P 3 2>/dev/null | awk -v iqn="$1" '
        $1 == "Target:" { cur = $2 }
        /Attached scsi disk/ && cur == iqn { print $4; exit }')
    [ -n "$disk" ] && [ -b "/dev/$disk" ] && echo "/dev/$disk"
}

# iscsi_start INITIATOR_IQN: write the initiator name, load the transports and start iscsid.
iscsi_start() {
    echo "InitiatorName=$1" > /etc/iscsi/initiatorname.iscsi
    modprobe sd_mod
    modprobe sg
    modprobe iscsi_tcp
    iscsid
}

# fcoe_vn2vn_up: open-fcoe on eth0 in VN2VN mode (no fcoemon, no DCB).
fcoe_vn2vn_up() {
    echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
    ip link set eth0 mtu 2500 up
    modprobe fcoe
    echo eth0 > /sys/bus/fcoe/ctlr_create
    ctlr=$(ls -d /sys/bus/fcoe/devices/ctlr_* | head -n 1)
    echo vn2vn > "$ctlr/mode"
    echo 1 > "$ctlr/enabled"
    log "fcoe $ctlr enabled, port_name $(cat /sys/class/fc_host/host*/port_name)"
}

# fcoe_fabric_up: open-fcoe on eth0 in fabric mode (FIP discovery of an FCF, FLOGI, name server),
# with libfc's and libfcoe's debug messages in the kernel log.
fcoe_fabric_up() {
    echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
    ip link set eth0 mtu 2500 up
    modprobe fcoe
    echo 0x07 > /sys/module/libfc/parameters/debug_logging
    echo 0x03 > /sys/module/libfcoe/parameters/debug_logging
    echo eth0 > /sys/bus/fcoe/ctlr_create
    ctlr=$(ls -d /sys/bus/fcoe/devices/ctlr_* | head -n 1)
    echo fabric > "$ctlr/mode"
    echo 1 > "$ctlr/enabled"
    log "fcoe $ctlr enabled (fabric), port_name $(cat /sys/class/fc_host/host*/port_name)"
}

# expect FILE PATTERN: FILE (a command's saved output) must hold a line matching the extended regex.
expect() {
    grep -qE "$2" "$1" || { echo "expected /$2/ in:"; cat "$1"; return 1; }
}

# mtx_is PATTERN...: `mtx status` of the changer $changer (its sg node) shows every one of the regexes.
mtx_is() {
    mtx -f "$changer" status > /tmp/mtx.status
    for pattern in "$@"; do expect /tmp/mtx.status "$pattern"; done
}
