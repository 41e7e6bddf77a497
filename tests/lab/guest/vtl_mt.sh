# mt-st on drive 0 ($nst0, HPT001L6 loaded): status, rewind, weof, fsf/bsf, fsr/bsr, eod, tell/seek, setblk
# in variable and fixed mode, erase, and reads through a filemark and of blocks shorter than the buffer.
# Every position is checked with READ POSITION (mt-st tell): logical objects, filemarks counted.
m() { mt-st -f "$nst0" "$@"; }
# at N WHAT: the drive says it is at object N.
at() {
    got=$(tell "$nst0")
    [ "$got" = "$1" ] || { echo "after $2: at block $got, expected $1"; m status; return 1; }
    log "$2: at block $1"
}
# same FILE OFFSET LENGTH READ: LENGTH bytes of FILE from OFFSET equal the file READ.
same() {
    dd if="$1" bs=1 skip="$2" count="$3" status=none | cmp - "$4"
}
mt_ready "$nst0"
m status | tee /tmp/mt.status
expect /tmp/mt.status "File number=0, block number=0"
expect /tmp/mt.status "Density code 0x5a"
expect /tmp/mt.status "BOT ONLINE"
m setblk 0
m rewind
head -c 20480 /dev/urandom > /tmp/f0
head -c 24576 /dev/urandom > /tmp/f1
head -c 2048 /dev/urandom > /tmp/f3
dd if=/tmp/f0 of="$nst0" bs=4096 status=none  # file 0: blocks 0-4, then st's filemark at close: 5
at 6 "file 0 (5 blocks of 4096) and its filemark"
dd if=/tmp/f1 of="$nst0" bs=8192 status=none  # file 1: blocks 6-8, filemark 9
m weof 1                                       # file 2: empty, filemark 10
dd if=/tmp/f3 of="$nst0" bs=1024 status=none  # file 3: blocks 11-12, filemark 13
at 14 "files 1 to 3 and weof 1"
m rewind
at 0 "rewind"
m fsf 1
at 6 "fsf 1"
m status | tee /tmp/mt.status
expect /tmp/mt.status "File number=1, block number=0"
m fsr 2
at 8 "fsr 2"
m bsr 1
at 7 "bsr 1"
dd if="$nst0" of=/tmp/b bs=8192 count=1 status=none
same /tmp/f1 8192 8192 /tmp/b
at 8 "read of block 7 (file 1's second)"
m bsf 1
at 5 "bsf 1 (before file 0's filemark)"
m fsf 2
at 10 "fsf 2"
m eod
at 14 "eod"
m status | tee /tmp/mt.status
# st counts the filemarks SPACE crossed before end of data from the residue; the block number in the
# last file it leaves unknown (-1)
expect /tmp/mt.status "File number=4, block number=(0|-1)"
expect /tmp/mt.status " EOD "
m seek 11
at 11 "seek 11"
dd if="$nst0" of=/tmp/b bs=1024 count=1 status=none
same /tmp/f3 0 1024 /tmp/b
log "block 11 read back"
m seek 6
dd if="$nst0" of=/tmp/b bs=8192 2> /tmp/dd.err  # three blocks, then the filemark ends the file
cmp /tmp/f1 /tmp/b
at 10 "file 1 read up to its filemark"
m seek 0
dd if="$nst0" of=/tmp/b bs=65536 2> /tmp/dd.err  # blocks of 4096 into 64 KiB buffers: ILI, residue
cat /tmp/dd.err
expect /tmp/dd.err "^0\+5 records in"
cmp /tmp/f0 /tmp/b
log "file 0 read in 64 KiB buffers: 5 short blocks of 4096"
m setblk 512
m status | tee /tmp/mt.status
expect /tmp/mt.status "Tape block size 512 bytes"
m eod
head -c 16384 /dev/urandom > /tmp/f4
dd if=/tmp/f4 of="$nst0" bs=4096 status=none  # fixed mode: 32 blocks of 512 (14-45), filemark 46
at 47 "fixed mode: 32 blocks of 512 and a filemark"
m bsf 1
m bsr 8
at 38 "bsf 1, bsr 8 (fixed)"
dd if="$nst0" of=/tmp/b bs=4096 count=1 status=none
same /tmp/f4 12288 4096 /tmp/b
m seek 14
dd if="$nst0" of=/tmp/b bs=16384 count=1 status=none
cmp /tmp/f4 /tmp/b
log "fixed-mode blocks read back"
m setblk 0
m seek 10
m erase
at 10 "erase at 10"
m eod
at 10 "eod after the erase"
m rewind
m fsf 2
if m fsf 1 2> /tmp/fsf.err; then echo "fsf over an erased filemark succeeded"; exit 1; fi
cat /tmp/fsf.err
at 10 "fsf 1 stopped at end of data"
log "mt-st checks passed"
