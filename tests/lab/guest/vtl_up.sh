# hptd --demo vtl in the guest and the kernel iscsi_tcp initiator logged in to it over loopback (or, with
# $TARGET_PORT set, to the hptd at $LAB_HOST:$TARGET_PORT), with st and ch loaded: sets $changer, $sch, $nst0,
# $nst1 (vtl_devices). A failure prints hptd's log and dmesg.
trap vtl_report EXIT
vtl_modules
if [ -n "${TARGET_PORT:-}" ]; then VTL_PORTAL=$LAB_HOST:$TARGET_PORT; else vtl_start; fi
iscsi_node_login "$VTL_PORTAL" "$VTL_IQN"
vtl_devices
dmesg | grep " \[ch0\] " | tee /tmp/ch.attach
expect /tmp/ch.attach "type #4 \(dt\): 0x[0-9a-f]+\+2"
