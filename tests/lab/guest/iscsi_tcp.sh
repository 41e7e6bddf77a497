# Kernel iscsi_tcp initiator against a target on the host's loopback (reached at $LAB_HOST):
# SendTargets discovery, optional CHAP (a wrong secret must be refused first), login, sg3-utils checks,
# a verified O_DIRECT write/read of $IO_MIB MiB, logout.
iscsi_start "$INITIATOR_IQN"
portal="$LAB_HOST:$TARGET_PORT"
log "discovery at $portal"
iscsiadm -m discovery -t sendtargets -p "$portal" | tee /tmp/discovered
grep -q " $TARGET_IQN\$" /tmp/discovered
# SendTargets answers with the target's own address (127.0.0.1): record the portal actually reached.
iscsiadm -m node -o delete > /dev/null 2>&1 || true
iscsiadm -m node -o new -T "$TARGET_IQN" -p "$portal" > /dev/null
node_set() { iscsiadm -m node -T "$TARGET_IQN" -p "$portal" -o update -n "$1" -v "$2"; }
if [ -n "$CHAP_USER" ]; then
    node_set node.session.auth.authmethod CHAP
    node_set node.session.auth.username "$CHAP_USER"
    node_set node.session.auth.password "wrong-$CHAP_SECRET"
    if iscsiadm -m node -T "$TARGET_IQN" -p "$portal" --login > /tmp/bad-login 2>&1; then
        echo "login with a wrong CHAP secret succeeded"; exit 1
    fi
    cat /tmp/bad-login
    grep -q "authorization failure" /tmp/bad-login
    log "wrong CHAP secret refused"
    node_set node.session.auth.password "$CHAP_SECRET"
fi
iscsiadm -m node -T "$TARGET_IQN" -p "$portal" --login
wait_for 30 iscsi_disk "$TARGET_IQN"
disk=$(iscsi_disk "$TARGET_IQN")
log "logged in, LUN at $disk"
scsi_checks "$disk"
verify_disk "$disk" "$IO_MIB"
iscsiadm -m node -T "$TARGET_IQN" -p "$portal" --logout
wait_for 30 sh -c "! iscsiadm -m session"
log "logged out"
