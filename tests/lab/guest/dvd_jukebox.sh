# hptd --demo jukebox in the guest (changer LUN 0, DVD drives LUNs 1 and 2, ISO discs DVD001..DVD004 in
# slots 1-4, blank DVD+Rs BLK001..BLK004 in slots 5-8): mtx loads DVD001 into drive 0, sr mounts it;
# mtx loads BLK001 into drive 1, xorriso -outdev burns a $BURN_MIB MiB file onto it, it is mounted,
# checked and ejected; mtx moves it back to its slot and then into drive 0, where it mounts again.
dvd_demo jukebox --path /var/tmp/jukebox
dvd_drives
wait_for 30 sh -c 'lsscsi | grep -q " mediumx "' || { lsscsi -g; exit 1; }
changer=$(lun_node mediumx 0 1)
log "changer $changer"
mtx -f "$changer" status | tee /tmp/mtx.status
expect /tmp/mtx.status "Storage Changer $changer:2 Drives, 9 Slots \( 1 Import/Export \)"
mtx_is "^Data Transfer Element 0:Empty" "^Data Transfer Element 1:Empty" \
    "^ +Storage Element 1:Full :VolumeTag=DVD001" "^ +Storage Element 5:Full :VolumeTag=BLK001"
mtx -f "$changer" load 1 0
mtx_is "^Data Transfer Element 0:Full \(Storage Element 1 Loaded\):VolumeTag = DVD001"
wait_for 30 sg_turs "$dvd1"
mkdir -p /mnt
mount -t iso9660 -o ro "$dvd1" /mnt
ls -l /mnt
grep -h "^hpt demo disc DVD001: " /mnt/*
umount /mnt
log "mtx load 1 0: DVD001 in drive 0 ($dvd1) mounts"

mtx -f "$changer" load 5 1
mtx_is "^Data Transfer Element 1:Full \(Storage Element 5 Loaded\):VolumeTag = BLK001"
wait_for 30 sg_turs "$dvd2"
burn_source /tmp/burn2 "$BURN_MIB"
start=$(now)
# sr keeps the blank disc's capacity until the disc is loaded again, as with a real drive (growisofs
# reloads the tray itself): xorriso ejects it after the burn and eject -t loads it.
xorriso -outdev "$dvd2" -blank as_needed -map /tmp/burn2 / -commit_eject all > /tmp/xorriso.out 2>&1 \
    || { cat /tmp/xorriso.out; exit 1; }
took=$(since "$start")
grep -vE "% (done|fifo)|UPDATE :" /tmp/xorriso.out
burned=$(du -sb /tmp/burn2 | cut -f1)
log "xorriso -outdev burned $burned bytes onto BLK001 in $took s: $(rate "$burned" "$took")"
eject -t "$dvd2"
wait_for 30 sg_turs "$dvd2"
mount_check "$dvd2" data.bin "$data_sha"
umount /mnt
eject_check "$dvd2"
mtx -f "$changer" unload 5 1
mtx_is "^Data Transfer Element 1:Empty" "^ +Storage Element 5:Full :VolumeTag=BLK001"
eject_check "$dvd1"
mtx -f "$changer" unload 1 0
mtx -f "$changer" load 5 0
mtx_is "^Data Transfer Element 0:Full \(Storage Element 5 Loaded\):VolumeTag = BLK001"
wait_for 30 sg_turs "$dvd1"
mount_check "$dvd1" data.bin "$data_sha"
umount /mnt
log "BLK001 burned in drive 1, moved to drive 0 by mtx, mounts there"
dvd_logout
