# mtx on the changer's sg node ($changer, after vtl_devices): status, inventory, load and unload of drive 1,
# transfer to the import/export slot and back, exchange of two slots and back, position; each checked in
# mtx's own words. Ends with HPT001L6 loaded in data transfer element 0 (drive LUN 1, $nst0).
mtx -f "$changer" status | tee /tmp/mtx.first
expect /tmp/mtx.first "Storage Changer $changer:2 Drives, 9 Slots \( 1 Import/Export \)"
expect /tmp/mtx.first "^Data Transfer Element 0:Empty"
expect /tmp/mtx.first "^Data Transfer Element 1:Empty"
for slot in 1 2 3 4 5 6 7 8; do expect /tmp/mtx.first "^ +Storage Element $slot:Full :VolumeTag=HPT00${slot}L6"; done
expect /tmp/mtx.first "^ +Storage Element 9 IMPORT/EXPORT:Empty"
log "mtx status: 2 drives, 8 full slots HPT001L6..HPT008L6, empty import/export slot"
mtx -f "$changer" inventory
mtx_is "^ +Storage Element 8:Full :VolumeTag=HPT008L6"
log "mtx inventory"
mtx -f "$changer" load 2 1
mtx_is "^Data Transfer Element 1:Full \(Storage Element 2 Loaded\):VolumeTag = HPT002L6" "^ +Storage Element 2:Empty"
log "mtx load 2 1: drive 1 holds HPT002L6"
mtx -f "$changer" unload 2 1
mtx_is "^Data Transfer Element 1:Empty" "^ +Storage Element 2:Full :VolumeTag=HPT002L6"
log "mtx unload 2 1: HPT002L6 back in slot 2"
mtx -f "$changer" transfer 3 9
mtx_is "^ +Storage Element 3:Empty" "^ +Storage Element 9 IMPORT/EXPORT:Full :VolumeTag=HPT003L6"
mtx -f "$changer" transfer 9 3
mtx_is "^ +Storage Element 3:Full :VolumeTag=HPT003L6" "^ +Storage Element 9 IMPORT/EXPORT:Empty"
log "mtx transfer 3 9 and back"
mtx -f "$changer" exchange 4 5
mtx_is "^ +Storage Element 4:Full :VolumeTag=HPT005L6" "^ +Storage Element 5:Full :VolumeTag=HPT004L6"
mtx -f "$changer" exchange 4 5
mtx_is "^ +Storage Element 4:Full :VolumeTag=HPT004L6" "^ +Storage Element 5:Full :VolumeTag=HPT005L6"
log "mtx exchange 4 5 and back"
mtx -f "$changer" position 6
log "mtx position 6"
mtx -f "$changer" load 1 0
mtx_is "^Data Transfer Element 0:Full \(Storage Element 1 Loaded\):VolumeTag = HPT001L6"
log "mtx load 1 0: drive 0 holds HPT001L6"
