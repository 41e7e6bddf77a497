# tar round trip on $TAPE (default $nst0, a cartridge loaded): three archives written one after the other
# from BOT (each closed by the filemark st writes when the device is closed), then each found again with
# mt-st asf and extracted; every file's SHA-256 must match. Logs "tar: N bytes written in S s, read in S s".
TAPE=${TAPE:-$nst0}
mkdir -p /tmp/src1 /tmp/src2 /tmp/src3
head -c $(( ${TAR_MIB:-8} * 1048576 )) /dev/urandom > /tmp/src1/random.bin
i=1
while [ "$i" -le 40 ]; do head -c $(( i * 997 )) /dev/urandom > "/tmp/src2/part$i"; i=$((i + 1)); done
cp -r /src/hpt /tmp/src3/  # many small files
find /tmp/src3 -name __pycache__ -prune -exec rm -rf {} +
now() { date +%s.%N; }
mt-st -f "$TAPE" setblk 0
mt-st -f "$TAPE" rewind
t0=$(now)
for n in 1 2 3; do
    tar -cf "$TAPE" -b 128 --totals -C "/tmp/src$n" . 2>> /tmp/tar.totals
done
t1=$(now)
cat /tmp/tar.totals
bytes=$(awk '/Total bytes written/ { sum += $4 } END { print sum }' /tmp/tar.totals)
files=$(tell "$TAPE")
mt-st -f "$TAPE" rewind
t2=$(now)
for n in 1 2 3; do
    mt-st -f "$TAPE" asf $((n - 1))
    mkdir -p "/tmp/out$n"
    tar -xf "$TAPE" -b 128 -C "/tmp/out$n"
done
t3=$(now)
for n in 1 2 3; do
    (cd "/tmp/src$n" && find . -type f -exec sha256sum {} + | sort -k 2) > "/tmp/sums.src$n"
    (cd "/tmp/out$n" && find . -type f -exec sha256sum {} + | sort -k 2) > "/tmp/sums.out$n"
    cmp "/tmp/sums.src$n" "/tmp/sums.out$n"
    log "archive $n: $(wc -l < "/tmp/sums.src$n") files read back identical"
done
log "tar: $bytes bytes in 3 archives ($files objects) written in $(awk "BEGIN { print $t1 - $t0 }") s, read in $(awk "BEGIN { print $t3 - $t2 }") s"
