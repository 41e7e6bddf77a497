# Bacula's tape qualification test (btape's `test` command) on drive 1 ($nst1) with HPT002L6 loaded, the
# drive configured as a Bacula storage daemon would have it (/tmp/bacula-sd.conf). btape's test writes
# 2 x 10000 blocks: fixed blocks of $BTAPE_BLOCK bytes (Minimum = Maximum Block Size, st in fixed mode
# gathering them into larger commands) keep that within the 256 MiB cartridge and a few minutes under TCG.
BTAPE_BLOCK=${BTAPE_BLOCK:-4096}
cat > /tmp/bacula-sd.conf <<CONF
Storage {
  Name = lab-sd
  WorkingDirectory = /tmp
  Pid Directory = /tmp
}
Director {
  Name = lab-dir
  Password = "lab"
}
Device {
  Name = hpt-drive-1
  Media Type = LTO-6
  Archive Device = $nst1
  Device Type = Tape
  Minimum Block Size = $BTAPE_BLOCK
  Maximum Block Size = $BTAPE_BLOCK
  AutomaticMount = yes
  AlwaysOpen = yes
  RemovableMedia = yes
  RandomAccess = no
}
Messages {
  Name = Standard
  director = lab-dir = all
}
CONF
mtx -f "$changer" load 2 1
mt_ready "$nst1"
mt-st -f "$nst1" setblk "$BTAPE_BLOCK"
started=$(date +%s)
rc=0
printf 'test\nquit\n' | btape -c /tmp/bacula-sd.conf "$nst1" > /tmp/btape.out 2>&1 || rc=$?
log "btape test: exit status $rc in $(( $(date +%s) - started )) s"
cat /tmp/btape.out
[ "$rc" -eq 0 ]
