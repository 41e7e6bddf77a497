# ibv_rc_pingpong over rxe0 to itself (after rxe_up.sh; GID index 1 is the IPv4-mapped RoCEv2 GID).
rdma link show
ibv_rc_pingpong -d rxe0 -g 1 -n 100 > /tmp/pingpong-server 2>&1 &
server=$!
wait_for 30 sh -c 'ss -ltn | grep -q ":18515 "'
ibv_rc_pingpong -d rxe0 -g 1 -n 100 "$GUEST_ADDR"
wait "$server"
cat /tmp/pingpong-server
log "ibv_rc_pingpong passed"
