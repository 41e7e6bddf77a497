# Log out of the iSER session to $TARGET_IQN on $GUEST_ADDR:3260 and check that it is gone.
iscsiadm -m node -T "$TARGET_IQN" -p "$GUEST_ADDR:3260" -I iser --logout
wait_for 30 sh -c "! iscsiadm -m session"
log "logged out"
