# hptd --demo dvd in the guest: LUN 1 a DVD-ROM holding /discs/rom.iso (made by the host with pycdlib, in
# the 9p share "discs"), LUN 2 a DVD+R drive holding a blank disc, under sr. The DVD-ROM reads back as the
# ISO, mounts read-only with its file's checksum $ROM_SHA256, ejects (the drive then reports no medium) and
# comes back with eject -t; an ISO made with xorriso (a $BURN_MIB MiB random file) is burned onto the DVD+R
# with growisofs -Z, mounted, checked and ejected.
trap dvd_report EXIT
iscsi_start "$INITIATOR_IQN"
modprobe sr_mod
mkdir -p /discs
mount -t 9p -o trans=virtio,version=9p2000.L discs /discs
dvd_demo dvd --path /discs/rom.iso
dvd_drives
media_id "$dvd1"
expect /tmp/id "^ID_CDROM_MEDIA_DVD=1"
rom_bytes=$(stat -c %s /discs/rom.iso)
start=$(now)
cmp "$dvd1" /discs/rom.iso
took=$(since "$start")
log "DVD-ROM $dvd1 reads back as rom.iso: $rom_bytes bytes in $took s, $(rate "$rom_bytes" "$took")"
mount_check "$dvd1" data.bin "$ROM_SHA256"
umount /mnt
eject_check "$dvd1"
eject -t "$dvd1"
wait_for 30 sg_turs "$dvd1"
mount_check "$dvd1" data.bin "$ROM_SHA256"
umount /mnt
log "eject -t: the DVD-ROM is back and mounts again"

burn_source /tmp/burn1 "$BURN_MIB"
xorriso -as mkisofs -quiet -V GROWISOFS -o /tmp/image.iso /tmp/burn1
image_bytes=$(stat -c %s /tmp/image.iso)
media_id "$dvd2"
expect /tmp/id "^ID_CDROM_MEDIA_DVD_PLUS_R=1"
expect /tmp/id "^ID_CDROM_MEDIA_STATE=blank"
start=$(now)
growisofs -Z "$dvd2=/tmp/image.iso" > /tmp/growisofs.out 2>&1 || { cat /tmp/growisofs.out; exit 1; }
took=$(since "$start")
grep -v "% done" /tmp/growisofs.out
log "growisofs -Z burned $image_bytes bytes onto the DVD+R in $took s: $(rate "$image_bytes" "$took")"
wait_for 30 sg_turs "$dvd2"
mount_check "$dvd2" data.bin "$data_sha"
umount /mnt
cmp -n "$image_bytes" "$dvd2" /tmp/image.iso
media_id "$dvd2"
expect /tmp/id "^ID_CDROM_MEDIA_STATE=appendable"
log "the burned DVD+R reads back as the image"
eject_check "$dvd2"
dvd_logout
