# Soft-RoCE on eth0 ($GUEST_ADDR): ibv_rc_pingpong to itself, then the kernel ib_iser initiator logged in
# to tgtd --lld iser in the same guest, with a verified O_DIRECT write/read of $IO_MIB MiB.
modprobe rdma_rxe
rdma link add rxe0 type rxe netdev eth0
wait_for 30 sh -c 'ibv_devinfo -d rxe0 | grep -q PORT_ACTIVE'
rdma link show
log "rxe0 active"
# GID index 1 is the IPv4-mapped RoCEv2 GID.
ibv_rc_pingpong -d rxe0 -g 1 -n 100 > /tmp/pingpong-server 2>&1 &
server=$!
wait_for 30 sh -c 'ss -ltn | grep -q ":18515 "'
ibv_rc_pingpong -d rxe0 -g 1 -n 100 "$GUEST_ADDR"
wait "$server"
cat /tmp/pingpong-server
log "ibv_rc_pingpong passed"

tgtd --iscsi "portal=$GUEST_ADDR:3260" --iser pool_sz_mb=128
wait_for 30 tgtadm --op show --mode sys
truncate -s 64M /tmp/lun.img
tgt() { tgtadm --lld iser "$@"; }
tgt --op new --mode target --tid 1 -T "$TARGET_IQN"
tgt --op new --mode logicalunit --tid 1 --lun 1 -b /tmp/lun.img
# tgt 1.0.85 checks both the address and the initiator-name ACL on iSER logins: bind both.
tgt --op bind --mode target --tid 1 -I ALL
tgt --op bind --mode target --tid 1 --initiator-name "$INITIATOR_IQN"

iscsi_start "$INITIATOR_IQN"
modprobe ib_iser
portal="$GUEST_ADDR:3260"
iscsiadm -m discovery -t sendtargets -p "$portal" | grep " $TARGET_IQN\$"
iscsiadm -m node -o delete > /dev/null 2>&1 || true
iscsiadm -m node -o new -T "$TARGET_IQN" -p "$portal" -I iser > /dev/null
iscsiadm -m node -T "$TARGET_IQN" -p "$portal" -I iser --login
iscsiadm -m session | tee /tmp/sessions
grep -q "^iser: " /tmp/sessions
wait_for 30 iscsi_disk "$TARGET_IQN"
disk=$(iscsi_disk "$TARGET_IQN")
log "logged in over iSER, LUN at $disk"
scsi_checks "$disk"
verify_disk "$disk" "$IO_MIB"
iscsiadm -m node -T "$TARGET_IQN" -p "$portal" -I iser --logout
wait_for 30 sh -c "! iscsiadm -m session"
log "logged out"
