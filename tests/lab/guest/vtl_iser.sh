# The library of examples/vtl.toml served over iSER on soft-RoCE (after rxe_up.sh): cartridges made with
# hptimg, an iSER portal on $GUEST_ADDR:3260 and a TCP one on :3261, the kernel ib_iser initiator logged in;
# sets $changer, $nst0, $nst1 like vtl_up.sh. A failure prints hptd's log and dmesg.
trap vtl_report EXIT
VTL_MEDIA=/var/tmp/vtl-iser
mkdir -p "$VTL_MEDIA"
for i in 1 2 3 4 5 6 7 8; do
    python3 -m hpt.media.cli --op new --device-type tape --barcode "HPT00${i}L6" --size 256 \
        --file "$VTL_MEDIA/HPT00${i}L6" > /dev/null
done
sed -e "s#^address = \"127.0.0.1:3260\"#address = \"$GUEST_ADDR:3261\"\n\n[[portal]]\naddress = \"$GUEST_ADDR:3260\"\ntransport = \"iser\"#" \
    -e "s#^media = \"vtl\".*#media = \"$VTL_MEDIA\"#" /src/examples/vtl.toml > /tmp/vtl-iser.toml
grep -A 2 "^\[\[portal\]\]" /tmp/vtl-iser.toml
python3 -m hpt.daemon --config /tmp/vtl-iser.toml > /tmp/hptd.out 2>> /tmp/hptd.log &
hptd_pid=$!
wait_for 60 grep -q "(iSER, portal group" /tmp/hptd.log
vtl_modules
modprobe ib_iser
iscsi_node_login "$GUEST_ADDR:3260" "$VTL_IQN" iser
iscsiadm -m session | tee /tmp/sessions
expect /tmp/sessions "^iser: "
vtl_devices
mtx -f "$changer" load 1 0
mt_ready "$nst0"
log "logged in over iSER, HPT001L6 in drive 0"
