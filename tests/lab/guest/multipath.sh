# Shell functions for the dm-multipath guest scripts (sourced after common.sh): one target reached
# through two portals at $LAB_HOST ($PORT1, $PORT2), one map grouping the paths by ALUA state.

# multipath_setup: load scsi_dh_alua and dm_multipath, write a multipath.conf grouping HPT's paths by
# ALUA priority (prio alua), queueing I/O for 12 checker intervals when no path is left.
multipath_setup() {
    modprobe scsi_dh_alua
    modprobe dm_multipath
    cat > /etc/multipath.conf <<'CONF'
defaults {
    user_friendly_names yes
    find_multipaths off
    polling_interval 2
}
devices {
    device {
        vendor "HPT"
        product ".*"
        path_grouping_policy group_by_prio
        prio alua
        hardware_handler "1 alua"
        path_checker tur
        failback immediate
        no_path_retry 12
    }
}
CONF
}

# portal_nodes IQN: iSCSI nodes for IQN through $PORT1 and $PORT2 (any older node deleted).
portal_nodes() {
    iscsiadm -m node -o delete > /dev/null 2>&1 || true
    for port in "$PORT1" "$PORT2"; do
        iscsiadm -m node -o new -T "$1" -p "$LAB_HOST:$port" > /dev/null
    done
}

# portal_login IQN: log in to IQN through both portals and wait for both disks.
portal_login() {
    for port in "$PORT1" "$PORT2"; do
        iscsiadm -m node -T "$1" -p "$LAB_HOST:$port" --login
    done
    wait_for 60 have_disks
}

# disk_of PORT: the disk of the session through that portal, e.g. sda.
disk_of() {
    iscsiadm -m session -P 3 2>/dev/null | awk -v portal="$LAB_HOST:$1" '
        $1 == "Current" && $2 == "Portal:" { cur = $3; sub(/,.*/, "", cur) }
        /Attached scsi disk/ && cur == portal { print $4; exit }'
}
have_disks() { [ -n "$(disk_of "$PORT1")" ] && [ -n "$(disk_of "$PORT2")" ]; }

# map_has PRIO DISK: multipath -ll shows DISK in the active path group of priority PRIO.
map_has() {
    multipath -ll > /tmp/mp 2>/dev/null
    awk -v prio="prio=$1" -v disk="$2" '
        /status=/ { grp = ($0 ~ prio && $0 ~ /status=active/) }
        grp && $0 ~ (" " disk " ") { found = 1 }
        END { exit !found }' /tmp/mp
}

# map_device: /dev/mapper/NAME of the (first) multipath map.
map_device() { echo "/dev/mapper/$(multipath -ll | awk 'NR == 1 { print $1 }')"; }

# same_pattern DEVICE MIB: the first MIB MiB of DEVICE, read with O_DIRECT, equal /tmp/pattern.
same_pattern() {
    dd if="$1" of=/tmp/readback bs=1M count="$2" iflag=direct status=none
    want=$(sha256sum < /tmp/pattern | cut -d' ' -f1)
    got=$(sha256sum < /tmp/readback | cut -d' ' -f1)
    log "pattern $want, read back through $1: $got"
    [ "$want" = "$got" ]
}

# flush_maps: remove the maps once udev is done with them (a path that just failed has udev probe the
# map, and "multipath -F" refuses a map held open: "map in use")
flush_maps() {
    udevadm settle --timeout=30 || true
    wait_for 30 multipath -F
}
