# kill -9 of hptd while tar writes to drive 0 ($nst0, HPT001L6): two archives, each ended by a filemark, then
# a third cut short by the kill. After hptd restarts on the same media directory and the initiator logs in
# again: both archives read back, the cartridge is still in drive 0, the drive starts at BOT, fsf 2 lands
# where it was before the kill, and end of data is right after the last block that survived, those blocks
# being the start of what tar wrote. After vtl_tar.sh (its /tmp/src2 and /tmp/src3).
cartridge="$VTL_MEDIA/HPT001L6"
mt-st -f "$nst0" rewind
tar -cf "$nst0" -b 128 -C /tmp/src2 .
tar -cf "$nst0" -b 128 -C /tmp/src3 .
filemark_end=$(tell "$nst0")
log "two archives written: at block $filemark_end"
mkdir -p /tmp/src4
head -c $((32 * 1048576)) /dev/urandom > /tmp/src4/random.bin
start_size=$(stat -c %s "$cartridge")
tar -cf "$nst0" -b 128 -C /tmp/src4 . 2> /tmp/tar3.err &
tar_pid=$!
wait_for 120 sh -c "[ \$(stat -c %s $cartridge) -gt $((start_size + 4 * 1048576)) ]"
kill -9 "$hptd_pid"
log "hptd killed with SIGKILL after $(( $(stat -c %s "$cartridge") - start_size )) bytes of the third archive"
rc=0
wait "$tar_pid" || rc=$?
cat /tmp/tar3.err
[ "$rc" -ne 0 ] || { echo "tar finished although hptd was killed"; exit 1; }
log "tar failed with status $rc"
vtl_logout
vtl_start
grep "torn records" /tmp/hptd.log || true
iscsi_node_login "$VTL_PORTAL" "$VTL_IQN"
vtl_devices
mtx -f "$changer" status > /tmp/mtx.status
expect /tmp/mtx.status "^Data Transfer Element 0:Full \(Storage Element 1 Loaded\):VolumeTag = HPT001L6"
log "after the restart HPT001L6 is still in drive 0"
mt_ready "$nst0"
mt-st -f "$nst0" status | tee /tmp/mt.status
expect /tmp/mt.status "File number=0, block number=0"
[ "$(tell "$nst0")" = 0 ] || { echo "not at block 0 after the restart"; exit 1; }
mt-st -f "$nst0" fsf 2
[ "$(tell "$nst0")" = "$filemark_end" ] || { echo "fsf 2: at block $(tell "$nst0"), expected $filemark_end"; exit 1; }
log "after the restart: at block 0, fsf 2 at block $filemark_end as before the kill"
for n in 0 1; do
    mt-st -f "$nst0" asf "$n"
    rm -rf /tmp/again && mkdir /tmp/again
    tar -xf "$nst0" -b 128 -C /tmp/again
    (cd /tmp/again && find . -type f -exec sha256sum {} + | sort -k 2) | cmp - "/tmp/sums.src$((n + 2))"
done
log "both archives written before the kill read back identical"
mt-st -f "$nst0" asf 2
dd if="$nst0" of=/tmp/partial bs=65536 2> /tmp/dd.err || true
blocks=$(sed -n 's/^\([0-9]*\)+0 records in$/\1/p' /tmp/dd.err)
[ "${blocks:-0}" -gt 0 ] || { cat /tmp/dd.err; echo "nothing of the third archive survived"; exit 1; }
tar -cf - -b 128 -C /tmp/src4 . | head -c "$((blocks * 65536))" | cmp - /tmp/partial
mt-st -f "$nst0" eod
[ "$(tell "$nst0")" = "$((filemark_end + blocks))" ] || { echo "end of data at $(tell "$nst0")"; exit 1; }
log "third archive: $blocks blocks of 64 KiB survived, the start of what tar wrote; end of data at block $((filemark_end + blocks))"
