# libiscsi's conformance suite over iSER (iser:// URL) against $TARGET_IQN on $GUEST_ADDR:3260, one process
# per suite: libiscsi 1.19's iSER transport itself crashes in some tests (Read10.Async, also against tgtd),
# and a crash must not hide the suites after it. Output in /lab/cunit.out; "$target_pid" is the target's PID.
url="iser://$GUEST_ADDR:3260/$TARGET_IQN/1"
log "iscsi-test-cu over $url"
iscsi-test-cu --list | awk -F. '$1 == "ALL" && NF >= 3 { print $1 "." $2 }' | sort -u > /tmp/suites
: > /lab/cunit.out
for suite in $(grep -E "${CUNIT_SUITES:-.}" /tmp/suites); do
    rc=0
    iscsi-test-cu --dataloss --test "$suite" \
        --initiator-name iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test \
        --initiator-name-2 iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2 \
        "$url" >> /lab/cunit.out 2>&1 || rc=$?
    if [ "$rc" -ge 128 ]; then
        echo "FAILED (iscsi-test-cu died with signal $((rc - 128)))" >> /lab/cunit.out
        log "iscsi-test-cu crashed in $suite (signal $((rc - 128)))"
    fi
done
log "suites run: $(wc -l < /tmp/suites)"
kill -0 $target_pid
[ "$(ps -o stat= -p $target_pid | cut -c1)" != Z ]
log "target alive after iscsi-test-cu"
