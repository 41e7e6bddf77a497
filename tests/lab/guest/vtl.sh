# Shell functions for the tape library scripts (after common.sh): hptd --demo vtl in the guest, the kernel
# iscsi_tcp initiator logged in to it over loopback, and the st, ch and sg devices of its three LUNs.
VTL_IQN=iqn.2026-11.org.hpt:vtl
VTL_PORTAL=127.0.0.1:3260
VTL_MEDIA=/var/tmp/vtl

# vtl_start: hptd --demo vtl with its cartridges in $VTL_MEDIA (created the first time, kept after);
# "$hptd_pid" is its PID, its log /tmp/hptd.log (appended to by each start).
vtl_start() {
    python3 -m hpt.daemon --demo vtl --portal "$VTL_PORTAL" --path "$VTL_MEDIA" >> /tmp/hptd.out 2>> /tmp/hptd.log &
    hptd_pid=$!
    wait_for 60 sh -c "ss -ltn | grep -q '$VTL_PORTAL '" || { echo "hptd did not start"; return 1; }
    log "hptd --demo vtl (pid $hptd_pid) serves $VTL_IQN at $VTL_PORTAL"
}

# vtl_report: what a failure needs to be understood (the EXIT trap): hptd's log and the kernel's messages.
vtl_report() {
    rc=$?
    [ "$rc" -eq 0 ] && return 0
    echo "---- hptd log (tail)"; tail -n 80 /tmp/hptd.log 2>/dev/null || true
    echo "---- dmesg (tail)"; dmesg | tail -n 40
}

# iscsi_node_login PORTAL IQN [IFACE]: record the node with the portal reached and log in.
iscsi_node_login() {
    iscsiadm -m node -o delete > /dev/null 2>&1 || true
    iscsiadm -m node -o new -T "$2" -p "$1" ${3:+-I "$3"} > /dev/null
    # a lost target fails the session's commands after 5 s instead of 120 s
    iscsiadm -m node -T "$2" -p "$1" -o update -n node.session.timeo.replacement_timeout -v 5
    iscsiadm -m node -T "$2" -p "$1" ${3:+-I "$3"} --login
}

# vtl_modules: the initiator's transport (iscsi_start) plus the tape and changer drivers.
vtl_modules() {
    iscsi_start "$INITIATOR_IQN"
    modprobe st
    modprobe ch
}

# vtl_devices: wait for the library's three LUNs and set $changer (its sg node, what mtx opens), $sch,
# $nst0 and $nst1 (the non-rewinding tape devices of LUNs 1 and 2: data transfer elements 0 and 1).
vtl_devices() {
    wait_for 30 sh -c '[ "$(lsscsi -g | grep -cE " (tape|mediumx) ")" -eq 3 ]' || { lsscsi -g; return 1; }
    lsscsi -g | tee /tmp/lsscsi
    changer=$(awk '$2 == "mediumx" { print $NF }' /tmp/lsscsi)
    sch=$(awk '$2 == "mediumx" { print $(NF - 1) }' /tmp/lsscsi)
    nst0=$(awk '$2 == "tape" && $1 ~ /:1\]$/ { sub("/dev/", "/dev/n", $(NF - 1)); print $(NF - 1) }' /tmp/lsscsi)
    nst1=$(awk '$2 == "tape" && $1 ~ /:2\]$/ { sub("/dev/", "/dev/n", $(NF - 1)); print $(NF - 1) }' /tmp/lsscsi)
    [ -c "$changer" ] && [ -c "$sch" ] && [ -c "$nst0" ] && [ -c "$nst1" ]
    log "changer $changer ($sch), drive 0 $nst0, drive 1 $nst1"
}

# vtl_logout PORTAL: log out of every session and wait until the devices are gone.
vtl_logout() {
    iscsiadm -m node --logoutall=all > /dev/null
    wait_for 30 sh -c "! iscsiadm -m session"
}

# tell DEVICE: the drive's logical position (READ POSITION through mt-st tell).
tell() {
    mt-st -f "$1" tell | sed -n 's/^At block \([0-9]*\)\.$/\1/p'
}

# mt_ready DEVICE: wait until the drive opens (after a load it reports the medium change once).
mt_ready() {
    wait_for 30 mt-st -f "$1" status
}
