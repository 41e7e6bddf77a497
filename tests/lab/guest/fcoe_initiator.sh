# open-fcoe initiator in VN2VN mode: find the target's LUN, verify a write/read, report to the target guest.
mkdir -p /sync
mount -t 9p -o trans=virtio,version=9p2000.L sync /sync
modprobe sd_mod
modprobe sg
fcoe_vn2vn_up
find_lun() {
    for block in /sys/class/fc_host/host*/device/rport-*/target*/*/block/*; do
        [ -b "/dev/${block##*/}" ] && echo "/dev/${block##*/}" && return 0
    done
    return 1
}
status=failed
trap 'echo "$status" > /sync/initiator' EXIT
wait_for "$PEER_TIMEOUT" find_lun
disk=$(find_lun)
for rport in /sys/class/fc_remote_ports/*; do
    log "${rport##*/}: $(cat "$rport/port_name") $(cat "$rport/port_id") $(cat "$rport/roles") $(cat "$rport/port_state")"
done
log "LUN at $disk"
scsi_checks "$disk"
verify_disk "$disk" "$IO_MIB"
status=done
