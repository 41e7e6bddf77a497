# LIO tcm_fc target on open-fcoe VN2VN: one 64 MiB fileio LUN for the initiator port $INITIATOR_WWPN.
# Stays up until the initiator guest writes "done" into the shared directory (9p tag "sync").
cfg=/sys/kernel/config/target
mkdir -p /etc/target
modprobe target_core_mod
modprobe target_core_file
modprobe tcm_fc
wwpn="20:00:$(cat /sys/class/net/eth0/address)"
dev=$cfg/core/fileio_0/lun0
mkdir -p "$dev"
echo "fd_dev_name=/tmp/lun0.img,fd_dev_size=67108864" > "$dev/control"
echo 1 > "$dev/enable"
# LIO reports the serial number and device identification VPD pages only once a serial is set.
echo 6e8e7a3c-4a1f-4b8e-9d1c-0000000000f1 > "$dev/wwn/vpd_unit_serial"
tpg=$cfg/fc/$wwpn/tpgt_1
mkdir -p "$tpg/lun/lun_0"
ln -s "$dev" "$tpg/lun/lun_0/lun0"
mkdir -p "$tpg/acls/$INITIATOR_WWPN/lun_0"
ln -s "$tpg/lun/lun_0" "$tpg/acls/$INITIATOR_WWPN/lun_0/lun0"
log "LIO tcm_fc target $wwpn, ACL for $INITIATOR_WWPN"
fcoe_vn2vn_up
mkdir -p /sync
mount -t 9p -o trans=virtio,version=9p2000.L sync /sync
echo ready > /sync/target
wait_for "$PEER_TIMEOUT" test -e /sync/initiator
log "initiator finished: $(cat /sync/initiator)"
cat /sys/class/fc_remote_ports/*/port_name
