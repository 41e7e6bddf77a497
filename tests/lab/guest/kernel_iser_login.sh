# The kernel ib_iser initiator: discovery over TCP (:3261), login over iSER ($GUEST_ADDR:3260), sg3 checks
# and a verified O_DIRECT pattern of $IO_MIB MiB. After hptd_iser_start.sh or tgtd_iser_start.sh
# ($TARGET_KIND names the target in the log, default hptd). $ISER_MAX_KB > 512: ib_iser and the disk
# allow commands of that many KiB, and the pattern is also verified in blocks of that size.
iscsi_start "$INITIATOR_IQN"
if [ "${ISER_MAX_KB:-512}" -gt 512 ]; then
    modprobe ib_iser max_sectors=$(( ISER_MAX_KB * 2 ))
else
    modprobe ib_iser
fi
iscsiadm -m discovery -t sendtargets -p "$GUEST_ADDR:3261" | grep " $TARGET_IQN\$"
portal="$GUEST_ADDR:3260"
iscsiadm -m node -o delete > /dev/null 2>&1 || true
iscsiadm -m node -o new -T "$TARGET_IQN" -p "$portal" -I iser > /dev/null
iscsiadm -m node -T "$TARGET_IQN" -p "$portal" -I iser --login
iscsiadm -m session | tee /tmp/sessions
grep -q "^iser: " /tmp/sessions
wait_for 30 iscsi_disk "$TARGET_IQN"
disk=$(iscsi_disk "$TARGET_IQN")
log "logged in over iSER to ${TARGET_KIND:-hptd}, LUN at $disk"
scsi_checks "$disk"
verify_disk "$disk" "$IO_MIB"
log "${TARGET_KIND:-hptd} iSER verified $IO_MIB MiB"
if [ "${ISER_MAX_KB:-512}" -gt 512 ]; then
    queue="/sys/block/${disk#/dev/}/queue"
    log "ib_iser allows $(cat "$queue/max_hw_sectors_kb") KiB per command"
    cat "$queue/max_hw_sectors_kb" > "$queue/max_sectors_kb"
    verify_disk "$disk" "$IO_MIB" "$(( ($(cat "$queue/max_sectors_kb") + 1023) / 1024 ))"
    log "${TARGET_KIND:-hptd} iSER verified $IO_MIB MiB in commands of $(cat "$queue/max_sectors_kb") KiB"
fi
