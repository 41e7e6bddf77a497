# hptd (from /src) inside the guest with an iSER portal on $GUEST_ADDR:3260 (rxe0) and a TCP portal on
# :3261 for discovery; the kernel ib_iser initiator logs in, verifies $IO_MIB MiB, and logs out.
# Needs rxe_up.sh first.
cat > /tmp/hptd.toml <<TOML
[[portal]]
address = "$GUEST_ADDR:3261"

[[portal]]
address = "$GUEST_ADDR:3260"
transport = "iser"

[[target]]
name = "$TARGET_IQN"
initiators = ["$INITIATOR_IQN"]
  [[target.lun]]
  lun = 1
  store = "file"
  path = "/var/tmp/hptd-iser.img"
  size = "${LUN_MIB:-64}M"
TOML
python3 -m hpt.daemon --config /tmp/hptd.toml > /tmp/hptd.out 2> /tmp/hptd.log &
hptd=$!
hptd_log() { echo "---- hptd log"; cat /tmp/hptd.log; }
trap hptd_log EXIT
wait_for 60 grep -q "(iSER, portal group" /tmp/hptd.log
wait_for 30 sh -c 'ss -ltn | grep -q ":3261 "'
log "hptd serves $TARGET_IQN over iSER"

iscsi_start "$INITIATOR_IQN"
modprobe ib_iser
iscsiadm -m discovery -t sendtargets -p "$GUEST_ADDR:3261" | grep " $TARGET_IQN\$"
portal="$GUEST_ADDR:3260"
iscsiadm -m node -o delete > /dev/null 2>&1 || true
iscsiadm -m node -o new -T "$TARGET_IQN" -p "$portal" -I iser > /dev/null
iscsiadm -m node -T "$TARGET_IQN" -p "$portal" -I iser --login
iscsiadm -m session | tee /tmp/sessions
grep -q "^iser: " /tmp/sessions
wait_for 30 iscsi_disk "$TARGET_IQN"
disk=$(iscsi_disk "$TARGET_IQN")
log "logged in over iSER to hptd, LUN at $disk"
scsi_checks "$disk"
verify_disk "$disk" "$IO_MIB"
log "hptd iSER verified $IO_MIB MiB"
