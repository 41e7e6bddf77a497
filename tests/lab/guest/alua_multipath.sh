# ALUA through two portals of one hptd target (portal group 1 on $PORT1, group 2 on $PORT2 at $LAB_HOST):
# the kernel initiator logs in through both, sg_rtpg shows both target port groups, dm-multipath
# groups the two paths by ALUA state (prio alua, scsi_dh_alua), a pattern written through the map
# verifies; then the host swaps the states (/sync/ready, /sync/changed) and the map follows: the
# other path group becomes the active one and the pattern still verifies through it.
mkdir -p /sync
mount -t 9p -o trans=virtio,version=9p2000.L sync /sync
iscsi_start "$INITIATOR_IQN"
multipath_setup
portal_nodes "$TARGET_IQN"
portal_login "$TARGET_IQN"
d1=$(disk_of "$PORT1")
d2=$(disk_of "$PORT2")
log "path through group 1: $d1, through group 2: $d2"
sg_rtpg --decode "/dev/$d1" | tee /tmp/rtpg
grep -A3 "target port group id : 0x1" /tmp/rtpg | grep -q "active/optimized"
grep -A3 "target port group id : 0x2" /tmp/rtpg | grep -q "standby"
log "sg_rtpg: group 1 active/optimized, group 2 standby"

multipathd
wait_for 60 map_has 50 "$d1"
multipath -ll
map=$(map_device)
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
same_pattern "$map" 8
verify_disk "$map" 8
flush_maps
iscsiadm -m node --logoutall=all
log "logged out"
