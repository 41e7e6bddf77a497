# ALUA through two portals of one hptd target (portal group 1 on $PORT1, group 2 on $PORT2 at $LAB_HOST):
# the kernel initiator logs in through both, sg_rtpg shows both target port groups, dm-multipath
# groups the two paths by ALUA state (prio alua, scsi_dh_alua), a pattern written through the map
# verifies; then the host swaps the states (/sync/ready, /sync/changed) and the map follows: the
# other path group becomes the active one and the pattern still verifies through it.
mkdir -p /sync
mount -t 9p -o trans=virtio,version=9p2000.L sync /sync
iscsi_start "$INITIATOR_IQN"
modprobe scsi_dh_alua
modprobe dm_multipath
cat > /etc/multipath.conf <<'EOF'
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
EOF
iscsiadm -m node -o delete > /dev/null 2>&1 || true
for port in "$PORT1" "$PORT2"; do
    iscsiadm -m node -o new -T "$TARGET_IQN" -p "$LAB_HOST:$port" > /dev/null
    iscsiadm -m node -T "$TARGET_IQN" -p "$LAB_HOST:$port" --login
done

# disk_of PORT: the disk of the session through that portal, e.g. sda.
disk_of() {
    iscsiadm -m session -P 3 2>/dev/null | awk -v portal="$LAB_HOST:$1" '
        $1 == "Current" && $2 == "Portal:" { cur = $3; sub(/,.*/, "", cur) }
        /Attached scsi disk/ && cur == portal { print $4; exit }'
}
have_disks() { [ -n "$(disk_of "$PORT1")" ] && [ -n "$(disk_of "$PORT2")" ]; }
wait_for 60 have_disks
d1=$(disk_of "$PORT1")
d2=$(disk_of "$PORT2")
log "path through group 1: $d1, through group 2: $d2"
sg_rtpg --decode "/dev/$d1" | tee /tmp/rtpg
grep -A3 "target port group id : 0x1" /tmp/rtpg | grep -q "active/optimized"
grep -A3 "target port group id : 0x2" /tmp/rtpg | grep -q "standby"
log "sg_rtpg: group 1 active/optimized, group 2 standby"

multipathd
# map_has PRIO DISK: multipath -ll shows DISK in the active path group of priority PRIO.
map_has() {
    multipath -ll > /tmp/mp 2>/dev/null
    awk -v prio="prio=$1" -v disk="$2" '
        /status=/ { grp = ($0 ~ prio && $0 ~ /status=active/) }
        grp && $0 ~ (" " disk " ") { found = 1 }
        END { exit !found }' /tmp/mp
}
wait_for 60 map_has 50 "$d1"
multipath -ll
map=/dev/mapper/$(multipath -ll | awk 'NR == 1 { print $1 }')
log "multipath map $map: $d1 active (prio 50), $d2 standby"
verify_disk "$map" 8

echo ready > /sync/ready
wait_for 60 test -e /sync/changed
log "host swapped the states"
# I/O on the map meets the state change (a unit attention, or NOT READY through the old path)
dd if="$map" of=/dev/null bs=64k count=16 iflag=direct status=none || true
wait_for 90 map_has 50 "$d2"
multipath -ll
sg_rtpg --decode "/dev/$d2" | tee /tmp/rtpg
grep -A3 "target port group id : 0x2" /tmp/rtpg | grep -q "active/optimized"
grep -A3 "target port group id : 0x1" /tmp/rtpg | grep -q "standby"
log "map followed: $d2 active (prio 50), $d1 standby"
want=$(sha256sum < /tmp/pattern | cut -d' ' -f1)
dd if="$map" of=/tmp/readback bs=1M count=8 iflag=direct status=none
got=$(sha256sum < /tmp/readback | cut -d' ' -f1)
log "pattern $want, read back through group 2: $got"
[ "$want" = "$got" ]
verify_disk "$map" 8
multipath -F
iscsiadm -m node --logoutall=all
log "logged out"
