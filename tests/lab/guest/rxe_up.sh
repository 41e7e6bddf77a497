# Soft-RoCE on eth0: rxe0 up and active (GID index 1 is the IPv4-mapped RoCEv2 GID).
modprobe rdma_rxe
rdma link add rxe0 type rxe netdev eth0
wait_for 30 sh -c 'ibv_devinfo -d rxe0 | grep -q PORT_ACTIVE'
log "rxe0 active"
