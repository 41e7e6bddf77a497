# hptd (from /src) serving its demo LUN inside the guest; the guest's own iscsi_tcp logs in over loopback.
# Followed by iscsi_tcp.sh with LAB_HOST=127.0.0.1 and TARGET_PORT=3260.
# The 1 GiB demo LUN lives in a sparse file on the (snapshot) rootfs, not in the guest's RAM.
python3 -m hpt.daemon --demo --portal 127.0.0.1:3260 --path /var/tmp/hptd-demo.img > /tmp/hptd.out 2> /tmp/hptd.log &
wait_for 60 sh -c 'ss -ltn | grep -q "127.0.0.1:3260 "' || { cat /tmp/hptd.log; exit 1; }
TARGET_IQN=$(head -n 1 /tmp/hptd.out)
log "hptd in the guest serves $TARGET_IQN"
