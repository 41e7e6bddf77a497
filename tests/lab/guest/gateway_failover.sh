# Two scale-out gateways (issue 11): one rbd image exported by gateway A (portal group 1, $PORT1) and
# gateway B (group 2, $PORT2) under one target name. The kernel initiator logs in to both and dm-multipath
# builds one map of two paths grouped by ALUA state; persistent reservations made through either path
# act on one LU; then a writer puts a pattern through the map, the host kills A with SIGKILL while it
# runs (/sync/writing, /sync/killed), the writer must not see an error and the pattern must read back.
mkdir -p /sync
mount -t 9p -o trans=virtio,version=9p2000.L sync /sync
iscsi_start "$INITIATOR_IQN"
multipath_setup
portal_nodes "$TARGET_IQN"
# a dead gateway's I/O goes back to dm-multipath after 5 s (not open-iscsi's default 120 s)
iscsiadm -m node -T "$TARGET_IQN" -o update -n node.session.timeo.replacement_timeout -v 5
portal_login "$TARGET_IQN"
d1=$(disk_of "$PORT1")
d2=$(disk_of "$PORT2")
log "path through gateway A: $d1, through gateway B: $d2"

# prout DISK ARGS...: PERSISTENT RESERVE OUT through /dev/DISK (once more after a unit attention).
prout() {
    disk=$1; shift
    sg_persist -n --out "$@" "/dev/$disk" || sg_persist -n --out "$@" "/dev/$disk"
}
# prin DISK OPTION: PERSISTENT RESERVE IN through /dev/DISK into /tmp/prin (once more after a unit
# attention).
prin() {
    sg_persist -n --in "$2" "/dev/$1" > /tmp/prin 2>&1 || sg_persist -n --in "$2" "/dev/$1" > /tmp/prin 2>&1
    cat /tmp/prin
}
keys_of() { prin "$1" --read-keys > /dev/null; awk '$1 ~ /^0x/ { print $1 }' /tmp/prin | sort | xargs; }

prout "$d1" --register --param-sark=0xa1
prout "$d2" --register --param-sark=0xb2
for disk in "$d1" "$d2"; do
    log "keys through $disk: $(keys_of "$disk")"
done
prout "$d1" --reserve --param-rk=0xa1 --prout-type=1
prin "$d2" --read-reservation
expect /tmp/prin "Key=0xa1"
expect /tmp/prin "type: Write Exclusive"
log "reservation through $d2: key 0xa1, Write Exclusive"
# WRITE (10) of one block through B, a registrant that does not hold the Write Exclusive reservation
head -c 4096 /dev/zero > /tmp/block
sg_raw -s 4096 -i /tmp/block "/dev/$d2" 2a 00 00 00 00 00 00 00 01 00 > /tmp/raw 2>&1 || true
cat /tmp/raw
if grep -qi "reservation conflict" /tmp/raw; then log "write through $d2: reservation conflict"; fi
prout "$d1" --release --param-rk=0xa1 --prout-type=1
prout "$d1" --clear --param-rk=0xa1
log "keys after clear through $d2: $(keys_of "$d2")"

multipathd
# paths_are ACTIVE FAILED: the map has ACTIVE ready paths and FAILED failed ones.
paths_are() {
    multipath -ll > /tmp/mp 2>/dev/null
    [ "$(grep -c 'active ready' /tmp/mp)" -eq "$1" ] && [ "$(grep -c 'failed' /tmp/mp)" -eq "$2" ]
}
wait_for 60 map_has 50 "$d1"
wait_for 30 paths_are 2 0
multipath -ll
map=$(map_device)
log "maps: $(multipath -ll | grep -c ' dm-[0-9]'), $map with $(grep -c 'active ready' /tmp/mp) paths"

# writer MAP MIB: /tmp/pattern onto MAP one MiB at a time (O_DIRECT); after the second MiB the host
# is told to kill gateway A, and the writer paces itself until the host says A is dead.
writer() {
    i=0
    while [ "$i" -lt "$2" ]; do
        dd if=/tmp/pattern of="$1" bs=1M skip="$i" seek="$i" count=1 oflag=direct conv=notrunc \
            status=none || return 1
        i=$((i + 1))
        if [ "$i" -eq 2 ]; then echo "$i" > /sync/writing; fi
        if [ -e /sync/killed ]; then
            if [ -z "${seen:-}" ]; then seen=$i; log "gateway A killed by MiB $i of $2"; fi
        else
            sleep 0.3
        fi
    done
}
head -c "$(( PATTERN_MIB * 1048576 ))" /dev/urandom > /tmp/pattern
rc=0
writer "$map" "$PATTERN_MIB" || rc=$?
log "writer exit $rc"
[ "$rc" -eq 0 ]
wait_for 60 paths_are 1 1
multipath -ll
log "after the kill: 1 active path, 1 failed"
same_pattern "$map" "$PATTERN_MIB"
flush_maps
iscsiadm -m node --logoutall=all || true
log "logged out"
