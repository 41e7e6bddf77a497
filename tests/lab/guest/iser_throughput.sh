# Sequential 1 GiB write then read with O_DIRECT by the kernel ib_iser initiator, against hptd and then
# against tgtd --lld iser in this same guest (hptd_iser_start.sh and tgtd_iser_start.sh must be sourced
# ahead with DEFINE_ONLY=1). Each dd summary line is logged as "throughput NAME write|read: ...".
measure() {  # measure NAME: log in to $TARGET_IQN over iSER, time the transfers, log out
    iscsiadm -m node -o delete > /dev/null 2>&1 || true
    iscsiadm -m node -o new -T "$TARGET_IQN" -p "$GUEST_ADDR:3260" -I iser > /dev/null
    iscsiadm -m node -T "$TARGET_IQN" -p "$GUEST_ADDR:3260" -I iser --login > /dev/null
    wait_for 30 iscsi_disk "$TARGET_IQN"
    disk=$(iscsi_disk "$TARGET_IQN")
    for pass in write read; do
        if [ "$pass" = write ]; then
            dd if=/dev/zero of="$disk" bs=1M count=1024 oflag=direct 2> /tmp/dd.txt
        else
            dd if="$disk" of=/dev/null bs=1M count=1024 iflag=direct 2> /tmp/dd.txt
        fi
        log "throughput $1 $pass: $(tail -n 1 /tmp/dd.txt)"
    done
    iscsiadm -m node -T "$TARGET_IQN" -p "$GUEST_ADDR:3260" -I iser --logout > /dev/null
    wait_for 30 sh -c "! iscsiadm -m session"
}
iscsi_start "$INITIATOR_IQN"
modprobe ib_iser
LUN_MIB=1100
LUN_STORE=null  # the transports are compared, not the guest's disk
# the keys tgtd negotiates for iSER: all write data by RDMA Read, none in SEND messages
TOML_HEAD='[iscsi]
InitialR2T = true
ImmediateData = false'
start_hptd
measure hptd
kill "$target_pid"
wait "$target_pid" || true
trap - EXIT
start_tgtd
measure tgtd
