# Sequential 1 GiB write then read with O_DIRECT by the kernel ib_iser initiator, then fio's 4K random
# read (libaio, O_DIRECT, queue depth $RANDREAD_QD for $RANDREAD_S seconds), against hptd and then against
# tgtd --lld iser in this same guest, $ROUNDS times (default 3), the two targets taking turns (which
# goes first alternates)
# (hptd_iser_start.sh and tgtd_iser_start.sh must be sourced ahead with DEFINE_ONLY=1). Each dd summary
# line is logged as "throughput NAME write|read: ...", fio's IOPS as "iops NAME randread: N", and the
# target process's CPU time (user and system ticks) for each pass, with the guest's idle ticks, as
# "cpu NAME PASS: user U sys S idle I", and the packets soft-RoCE sent in it as "packets NAME PASS: N";
# how long udev took to probe the new disk after each login, before the passes, as "settle NAME: S s".
ticks() {  # the target's user and system CPU ticks and the guest's idle ones; with an argument, since it
    set -- "$(awk '{print $14, $15}' "/proc/$target_pid/stat") $(awk '/^cpu /{print $5 + $6}' /proc/stat)" "${1:-}"
    if [ -z "$2" ]; then echo "$1"; return; fi
    echo "$1 $2" | awk '{print "user", $1 - $4, "sys", $2 - $5, "idle", $3 - $6}'
}
sent() { cat /sys/class/infiniband/rxe0/ports/1/hw_counters/sent_pkts; }  # soft-RoCE: both ends' packets
measure() {  # measure NAME: log in to $TARGET_IQN over iSER, time the transfers, log out
    iscsiadm -m node -o delete > /dev/null 2>&1 || true
    iscsiadm -m node -o new -T "$TARGET_IQN" -p "$GUEST_ADDR:3260" -I iser > /dev/null
    iscsiadm -m node -T "$TARGET_IQN" -p "$GUEST_ADDR:3260" -I iser --login > /dev/null
    wait_for 30 iscsi_disk "$TARGET_IQN"
    disk=$(iscsi_disk "$TARGET_IQN")
    # udev probes the new disk (scsi_id, blkid, multipath: a few dozen commands, 0.2-0.4 s): let it
    # finish, so that the write pass times the transfer, not the probe running beside it
    settle_from=$(date +%s.%N)
    udevadm settle
    log "settle $1: $(echo "$settle_from $(date +%s.%N)" | awk '{printf "%.3f", $2 - $1}') s"
    for pass in write read randread; do
        before=$(ticks)
        packets=$(sent)
        if [ "$pass" = write ]; then
            dd if=/dev/zero of="$disk" bs=1M count=1024 oflag=direct 2> /tmp/dd.txt
        elif [ "$pass" = read ]; then
            dd if="$disk" of=/dev/null bs=1M count=1024 iflag=direct 2> /tmp/dd.txt
        else
            fio --name=randread --filename="$disk" --rw=randread --bs=4k --size=1G --direct=1 \
                --ioengine=libaio --iodepth="${RANDREAD_QD:-16}" --time_based --runtime="${RANDREAD_S:-20}" \
                --output-format=json > /tmp/fio.json
            log "iops $1 randread: $(python3 -c 'import json, sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))' < /tmp/fio.json)"
        fi
        [ "$pass" = randread ] || log "throughput $1 $pass: $(tail -n 1 /tmp/dd.txt)"
        log "cpu $1 $pass: $(ticks "$before")"
        log "packets $1 $pass: $(($(sent) - packets))"
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
hptd_turn() {
    start_hptd
    measure hptd
    kill "$target_pid"
    wait "$target_pid" || true  # hptd is this shell's child
    trap - EXIT
}
tgtd_turn() {
    start_tgtd
    measure tgtd
    kill -KILL "$target_pid"  # tgtd stays up on SIGTERM while it has targets
    wait_for 30 sh -c "! kill -0 $target_pid 2> /dev/null"  # (it went to the background: not a child)
    trap - EXIT
}
for round in $(seq "${ROUNDS:-3}"); do  # the first turn of a round alternates: neither is always first
    log "round $round"
    if [ $((round % 2)) = 1 ]; then hptd_turn; tgtd_turn; else tgtd_turn; hptd_turn; fi
done
