#!/bin/bash
# blockfs served from 4 threads (--threads 4) under 4 parallel fio jobs,
# O_DIRECT with no BPF tier, so every mapping is an upcall: each job's
# verify passes, and the server's log shows requests in progress at the
# same time (a line with inflight=2 or more) answered by more than one
# thread.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup --threads 4
fio --minimal --directory="$mnt" --ioengine=psync --direct=1 --numjobs=4 \
	--name=mt --rw=randwrite --bs=4k --size=4m --verify=crc32c --verify_fatal=1 \
	--verify_state_save=0 --group_reporting > "$T_TMP/fio.out" 2>&1 ||
	fail "fio failed: $(grep -i 'verify\|error\|bad' "$T_TMP/fio.out" | head -2 | tr '\n' ' ')"
grep -qi "verify.*bad\|crc32c.*mismatch" "$T_TMP/fio.out" && fail "fio reported bad data: $(head -3 "$T_TMP/fio.out")"

log=$T_TMP/blockfs.log
reqs=$(grep -c '^BEGIN ' "$log")
[ "$reqs" -ge 4096 ] || fail "only $reqs BEGIN requests logged for 4 x 4 MiB of cold 4 KiB O_DIRECT I/O"
grep -q ' t=[0-9]* inflight=[0-9]*$' "$log" || fail "log lines name no thread: $(head -n1 "$log")"
threads=$(grep -o ' t=[0-9]*' "$log" | sort -u | wc -l)
[ "$threads" -ge 2 ] || fail "only $threads thread(s) answered"
overlap=$(grep -c ' inflight=[2-9]$' "$log" || true)
[ "$overlap" -gt 0 ] || fail "no request arrived while another was in progress ($reqs requests, $threads threads)"
log "$reqs requests, $threads threads, $overlap arrived while others were in progress"
stop_server "$mnt" "$SERVER_PID"
