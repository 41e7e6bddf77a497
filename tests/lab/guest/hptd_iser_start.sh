# start_hptd: hptd (from /src) in the guest with an iSER portal on $GUEST_ADDR:3260 (rxe0) and a TCP portal
# on :3261 for discovery, serving one $LUN_MIB MiB file LUN to $INITIATORS (space-separated, default
# $INITIATOR_IQN); LUN_STORE=null: a null store instead; $TOML_HEAD: top-level TOML, $LUN_EXTRA: more lines
# for the LUN. "$target_pid" is its PID.
# Runs at once unless DEFINE_ONLY is set. After rxe_up.sh.
start_hptd() {
    store='store = "file"
  path = "/var/tmp/hptd-iser.img"'
    [ "${LUN_STORE:-file}" = null ] && store='store = "null"'
    acl=$(for name in ${INITIATORS:-$INITIATOR_IQN}; do printf '"%s", ' "$name"; done)
    cat > /tmp/hptd.toml <<TOML
${TOML_HEAD:-}
[[portal]]
address = "$GUEST_ADDR:3261"

[[portal]]
address = "$GUEST_ADDR:3260"
transport = "iser"

[[target]]
name = "$TARGET_IQN"
initiators = [$acl]
  [[target.lun]]
  lun = 1
  $store
  size = "${LUN_MIB:-64}M"
${LUN_EXTRA:-}
TOML
    python3 -m hpt.daemon --config /tmp/hptd.toml > /tmp/hptd.out 2> /tmp/hptd.log &
    target_pid=$!
    trap hptd_log EXIT
    wait_for 60 grep -q "(iSER, portal group" /tmp/hptd.log
    wait_for 30 sh -c 'ss -ltn | grep -q ":3261 "'
    log "hptd serves $TARGET_IQN over iSER"
}
hptd_log() { echo "---- hptd log"; cat /tmp/hptd.log; }
[ -n "${DEFINE_ONLY:-}" ] || start_hptd
