# Shell functions for the DVD scripts (after common.sh): hptd --demo dvd or --demo jukebox in the guest,
# the kernel iscsi_tcp initiator logged in to it over loopback, sr's /dev/srN of its DVD drives.
DVD_PORTAL=127.0.0.1:3260

# dvd_report: the EXIT trap. hptd's log goes to the host (/discs/hptd.log); a failure also prints what it
# needs to be understood: hptd's log, the SCSI devices and the kernel's messages.
dvd_report() {
    rc=$?
    cp /tmp/hptd.log /discs/hptd.log 2> /dev/null || true
    [ "$rc" -eq 0 ] && return 0
    echo "---- hptd log (tail)"; tail -n 80 /tmp/hptd.log 2>/dev/null || true
    echo "---- lsscsi -g"; lsscsi -g 2>&1 || true
    echo "---- dmesg (tail)"; dmesg | tail -n 60
}

# now: seconds since boot, with centiseconds.
now() { cut -d' ' -f1 /proc/uptime; }

# since START: seconds from uptime START until now, with one decimal.
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# rate BYTES SECONDS: "N.N MB/s".
rate() { awk -v b="$1" -v t="$2" 'BEGIN { if (t < 0.1) t = 0.1; printf "%.1f MB/s", b / t / 1e6 }'; }

# dvd_demo KIND [ARGS...]: hptd --demo KIND on $DVD_PORTAL, logged in to as target IQN
# iqn.2026-11.org.hpt:KIND; $target_pid is hptd (target_stop.sh stops it), /tmp/hptd.log its log.
dvd_demo() {
    kind=$1; shift
    python3 -m hpt.daemon --demo "$kind" --portal "$DVD_PORTAL" "$@" >> /tmp/hptd.out 2>> /tmp/hptd.log &
    target_pid=$!
    started=$(now)
    wait_for 120 sh -c "ss -ltn | grep -q '$DVD_PORTAL ' || ! kill -0 $target_pid"
    kill -0 "$target_pid" 2> /dev/null || { echo "hptd exited"; return 1; }
    iqn=iqn.2026-11.org.hpt:$kind
    iscsiadm -m node -o delete > /dev/null 2>&1 || true
    iscsiadm -m node -o new -T "$iqn" -p "$DVD_PORTAL" > /dev/null
    iscsiadm -m node -T "$iqn" -p "$DVD_PORTAL" --login
    log "hptd --demo $kind $* (pid $target_pid, listening after $(since "$started") s): logged in to $iqn"
}

# dvd_logout: log out of the session and wait until its devices are gone.
dvd_logout() {
    iscsiadm -m node --logoutall=all > /dev/null
    wait_for 30 sh -c "! iscsiadm -m session"
}

# lun_node TYPE LUN COLUMN: the device node lsscsi -g lists for LUN of TYPE (COLUMN 1: sg, 2: sr).
lun_node() {
    lsscsi -g | awk -v t="$1" -v lun="$2" -v c="$3" '$2 == t && $1 ~ ":" lun "]$" { print $(NF + 1 - c) }'
}

# dvd_drives: wait for the DVD drives of LUNs 1 and 2 and set $dvd1 and $dvd2 (their /dev/srN).
dvd_drives() {
    wait_for 30 sh -c '[ "$(lsscsi | grep -c " cd/dvd ")" -eq 2 ]' || { lsscsi -g; return 1; }
    dvd1=$(lun_node cd/dvd 1 2)
    dvd2=$(lun_node cd/dvd 2 2)
    [ -b "$dvd1" ] && [ -b "$dvd2" ]
    log "DVD drives: LUN 1 $dvd1, LUN 2 $dvd2"
}

# media_id DEVICE: udev's cdrom_id on DEVICE (the commands udev sends when a disc arrives), saved to /tmp/id.
media_id() {
    /usr/lib/udev/cdrom_id "$1" | tee /tmp/id
}

# mount_check DEVICE FILE SHA256: mount DEVICE's ISO 9660 file system read-only at /mnt; FILE in it must
# have checksum SHA256; it stays mounted.
mount_check() {
    mkdir -p /mnt
    mount -t iso9660 -o ro "$1" /mnt
    got=$(sha256sum < "/mnt/$2" | cut -d' ' -f1)
    log "mounted $1: $2 has sha256 $got"
    [ "$got" = "$3" ] || { echo "wanted $3"; ls -l /mnt; return 1; }
}

# burn_source DIR MIB: a directory of a MIB MiB random file data.bin and a note; sets $data_sha.
burn_source() {
    mkdir -p "$1"
    head -c "$(( $2 * 1048576 ))" /dev/urandom > "$1/data.bin"
    echo "burned in the hpt lab" > "$1/note.txt"
    data_sha=$(sha256sum < "$1/data.bin" | cut -d' ' -f1)
}

# eject_check DEVICE: eject DEVICE's disc; the drive must then report its tray open with no medium.
eject_check() {
    eject "$1"
    if sg_turs -v "$1" > /tmp/turs 2>&1; then echo "$1 still ready after eject"; return 1; fi
    expect /tmp/turs "[Mm]edium not present - tray open"
    log "eject $1: medium not present, tray open"
}
