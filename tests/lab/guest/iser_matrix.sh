# libiscsi's conformance suite over iSER against hptd serving the LUN matrix of the TCP conformance test
# (tests/integration/test_conformance.py): full, thin, 512 B on 4096 B (e512), read-only thin, removable,
# sanitize; every target through two iSER portals, portal groups 1 ($GUEST_ADDR:3260) and 2 (:3262), for
# MultipathIO. $MATRIX_RUNS: lines "LUN TEST [FLAGS]" (TEST e.g. ALL.Read10), run one process each.
# stdout is line-buffered so a run the client's own crash ends keeps the tests it reported; libiscsi's
# log of its connects and logins (level 2) shows when its iSER connection-manager thread outlives its
# context (see CLIENT_CRASH in tests/lab/test_lab_hpt_iser.py).
export LIBISCSI_DEBUG=2
iqn() { echo "iqn.2026-11.org.hpt.lab:$1"; }
lun() {  # name, then the LUN's keys
    name=$1; shift
    printf '[[target]]\nname = "%s"\n  [[target.lun]]\n  lun = 1\n' "$(iqn "$name")"
    for kv in "$@"; do printf '  %s\n' "$kv"; done
}
{
    printf '%s\n' "${TOML_HEAD:-}"
    printf '[[portal]]\naddress = "%s:3261"\n\n' "$GUEST_ADDR"
    printf '[[portal]]\naddress = "%s:3260"\ntransport = "iser"\n\n' "$GUEST_ADDR"
    printf '[[portal]]\naddress = "%s:3262"\ntransport = "iser"\ngroup = 2\n\n' "$GUEST_ADDR"
    lun full 'store = "ram"' 'size = "64M"'
    lun thin 'store = "file"' 'path = "/dev/shm/thin.img"' 'size = "64M"' 'thin = true' 'block_size = 4096'
    lun e512 'store = "file"' 'path = "/dev/shm/e512.img"' 'size = "64M"' 'thin = true' \
        'physical_block_size = 4096' 'max_xfer_blocks = 65536'
    lun readonly 'store = "ram"' 'size = "16M"' 'thin = true' 'readonly = true'
    lun removable 'store = "ram"' 'size = "64M"' 'removable = true'
    lun sanitize 'store = "file"' 'path = "/dev/shm/sanitize.img"' 'size = "16M"' 'thin = true' \
        'sanitize_rate = 2097152' 'encryption_key_file = "/var/tmp/sanitize.key"'
} > /tmp/hptd.toml
python3 -m hpt.daemon --config /tmp/hptd.toml > /tmp/hptd.out 2> /tmp/hptd.log &
target_pid=$!
trap 'echo "---- hptd log"; tail -n 200 /tmp/hptd.log' EXIT
wait_for 60 sh -c 'grep -c "(iSER, portal group" /tmp/hptd.log | grep -q 2'
log "hptd serves the LUN matrix over iSER"
: > /lab/cunit.out
# run NAME TEST FLAGS: one iscsi-test-cu process, its output after a "#### NAME TEST" line
run() {
    urls="iser://$GUEST_ADDR:3260/$(iqn "$1")/1"
    case "$2" in *MultipathIO*) urls="$urls iser://$GUEST_ADDR:3262/$(iqn "$1")/1" ;; esac
    echo "#### $1 $2" >> /lab/cunit.out
    rc=0
    # shellcheck disable=SC2086
    stdbuf -oL iscsi-test-cu --dataloss $3 --test "$2" \
        --initiator-name iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test \
        --initiator-name-2 iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2 \
        $urls >> /lab/cunit.out 2>&1 < /dev/null || rc=$?
    if [ "$rc" -ge 128 ]; then
        echo "FAILED (iscsi-test-cu died with signal $((rc - 128)))" >> /lab/cunit.out
        log "iscsi-test-cu crashed: $1 $2 (signal $((rc - 128)))"
    fi
}
echo "$MATRIX_RUNS" | while read -r name test flags; do
    [ -n "$name" ] || continue
    run "$name" "$test" "$flags"
done
kill -0 $target_pid
[ "$(ps -o stat= -p $target_pid | cut -c1)" != Z ]
log "target alive after iscsi-test-cu"
