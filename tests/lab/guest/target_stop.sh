# Stop the target started by hptd_iser_start.sh with SIGTERM: it must exit with status 0.
kill -TERM "$target_pid"
rc=0
wait "$target_pid" || rc=$?
log "target exited with status $rc"
[ "$rc" -eq 0 ]
