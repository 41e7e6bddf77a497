# start_tgtd: Debian's tgtd with an iSER LUN ($LUN_MIB MiB file, or LUN_STORE=null) for $TARGET_IQN on $GUEST_ADDR:3260 (rxe0),
# ACL open to $INITIATORS (default $INITIATOR_IQN); "$target_pid" is its PID. Runs at once unless DEFINE_ONLY is set.
start_tgtd() {
    tgtd --iscsi "portal=$GUEST_ADDR:3261" --iser pool_sz_mb=128
    wait_for 30 tgtadm --op show --mode sys
    truncate -s "${LUN_MIB:-64}M" /var/tmp/tgtd-iser.img
    tgt() { tgtadm --lld iser "$@"; }
    tgt --op new --mode target --tid 1 -T "$TARGET_IQN"
    if [ "${LUN_STORE:-file}" = null ]; then
        tgt --op new --mode logicalunit --tid 1 --lun 1 -E null -b null
    else
        tgt --op new --mode logicalunit --tid 1 --lun 1 -b /var/tmp/tgtd-iser.img
    fi
    # tgt 1.0.85 checks both the address and the initiator-name ACL on iSER logins: bind both.
    tgt --op bind --mode target --tid 1 -I ALL
    for name in ${INITIATORS:-$INITIATOR_IQN}; do tgt --op bind --mode target --tid 1 --initiator-name "$name"; done
    target_pid=$(pidof tgtd | tr " " "\n" | tail -n 1)
    log "tgtd serves $TARGET_IQN over iSER"
}
[ -n "${DEFINE_ONLY:-}" ] || start_tgtd
