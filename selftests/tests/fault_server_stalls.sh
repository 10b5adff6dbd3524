#!/bin/bash
# A server that stops answering (SIGSTOP): an O_DIRECT read waits, in an
# interruptible sleep (no hung task), and SIGKILL ends it; then a read, a
# buffered write with fsync and a create wait together past the hung-task
# timeout (lowered to 10 s here) and aborting the connection (fusectl
# "abort") ends them all with ENOTCONN; the mount then unmounts.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

# state PID: its scheduler state letter (S sleeping, D uninterruptible, ...).
state() { sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# queued N PID...: N more requests than $stalled wait for the server and
# the PIDs have stopped running (or one has ended): that takes longer on a
# busy machine than on an idle one.
queued() {
	local n=$1 p
	shift
	for p in "$@"; do
		gone "$p" && return 0
	done
	[ "$(cat "$queue")" -ge $((stalled + n)) ] || return 1
	for p in "$@"; do
		[ "$(state "$p")" != R ] || return 1
	done
}

blockfs_setup
dd if=/dev/urandom of="$mnt/f" bs=1M count=4 conv=fsync status=none
dd if=/dev/urandom of="$mnt/g" bs=1M count=1 conv=fsync status=none
abort=$FI_CTL/$(stat -c %d "$mnt")/abort queue=$FI_CTL/$(stat -c %d "$mnt")/waiting
[ -w "$abort" ] || fail "no $abort"
[ -r "$queue" ] || fail "no $queue"
# Opened now, reopened through /dev/fd later: only the create below looks
# a name up in the stalled mount.  (Processes queued behind a directory
# lock that a waiter holds would sleep in the VFS, uninterruptibly, on any
# fuse file system.)
exec 5< "$mnt/f" 6<> "$mnt/g"
drop_caches
old_hung=$(cat /proc/sys/kernel/hung_task_timeout_secs)
defer "echo $old_hung > /proc/sys/kernel/hung_task_timeout_secs"
echo 10 > /proc/sys/kernel/hung_task_timeout_secs

kill -STOP "$SERVER_PID"
defer "kill -CONT $SERVER_PID 2>/dev/null"
wait_for 15 eval '[ "$(state $SERVER_PID)" = T ]' || fail "the server did not stop"
stalled=$(cat "$queue")

dd if=/dev/fd/5 of=/dev/null bs=4k count=1 iflag=direct 2> "$T_TMP/dd1" &
reader=$!
wait_for 30 queued 1 $reader || log "no request from the read in 30 s"
gone $reader && fail "the read did not wait for the stopped server: $(cat "$T_TMP/dd1")"
expect_eq "the waiting reader's state" "$(state $reader)" S
kill -9 $reader
wait_for 15 gone $reader || fail "SIGKILL did not end the waiting read"

stalled=$(cat "$queue")
dd if=/dev/fd/5 of="$T_TMP/got" bs=4k count=1 skip=100 iflag=direct 2> "$T_TMP/dd2" &
p1=$!
dd if=/dev/zero of=/dev/fd/6 bs=4k count=1 conv=notrunc,fsync 2> "$T_TMP/dd3" &
p2=$!
touch "$mnt/new" 2> "$T_TMP/touch" &
p3=$!
wait_for 30 queued 3 $p1 $p2 $p3 || log "$(($(cat "$queue") - stalled)) requests, not 3, after 30 s"
# The hung-task check goes by the clock: wait past its 10 s.
sleep 12
for p in $p1 $p2 $p3; do
	gone $p && fail "a request did not wait for the stopped server"
	[ "$(state $p)" != D ] ||
		fail "pid $p waits uninterruptibly ($(cat /proc/$p/comm): $(head -n4 /proc/$p/stack | awk '{ print $2 }' | tr '\n' ' '))"
done
echo 1 > "$abort"
for p in $p1 $p2 $p3; do
	wait_for 15 gone $p || fail "pid $p still waits after the abort"
	rc=0
	wait $p || rc=$?
	[ $rc != 0 ] || fail "pid $p succeeded after the abort"
done
# ENOTCONN, or ECONNABORTED if the server asked for FUSE_ABORT_ERROR.
for f in dd2 dd3 touch; do
	grep -Eq 'Transport endpoint is not connected|Software caused connection abort' "$T_TMP/$f" ||
		fail "$f after the abort: $(cat "$T_TMP/$f")"
done
exec 5<&- 6<&-
wait_for 30 umount "$mnt" || fail "can't unmount $mnt after the abort"
kill -CONT "$SERVER_PID"
wait_for 30 gone "$SERVER_PID" || fail "the server did not exit after the abort"
