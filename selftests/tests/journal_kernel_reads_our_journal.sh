#!/bin/bash
# Our server journals metadata as the kernel's ext4 does, so the kernel's
# ext4 can replay what we left.  On a fresh image our server makes
# directories, files (appended, overwritten, fallocated, truncated),
# symlinks, hard links, renames and unlinks, with a file unlinked while
# still open, and fsyncs each file and directory.  Its stats file shows
# committed transactions, each written to the log in two writes (its
# blocks, then its commit block); then it is SIGKILLed.  The image must need
# recovery, with committed transactions in its journal.  On one copy the
# kernel's ext4 replays our journal: it sees the tree our server showed
# before the kill, and e2fsck -fn is clean after it.  On another our own
# server replays, shows the same tree, and e2fsck -fn is clean after it.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

TREE="python3 $REPO/selftests/lib/tree.py --no-dir-size"

ext4_load
img=$T_TMP/img
mke2fs -q -F -t ext4 -b 4096 "$img" 256M || fail "mke2fs failed"
mnt=$T_TMP/ours
start_server "$mnt" "$T_TMP/ours.out" "$EXT4SRV" --stats "$T_TMP/stats" "$img" "$mnt"
dev=$(awk -v m="$mnt" '$2 == m { print $1 }' /proc/mounts)
ext4_journal_workload "$mnt" || fail "the workload failed on our server"
# An open file without names: on the orphan list at the crash.
(
	exec 9> "$mnt/dir/open_unlinked"
	head -c 100000 /dev/urandom >&9
	python3 -c 'import os; os.fsync(9)'
	: > "$T_TMP/holding"
	exec sleep 600
) &
holder=$!
defer "kill -9 $holder 2>/dev/null"
wait_for 30 test -e "$T_TMP/holding" || fail "can't make the open file"
rm "$mnt/dir/open_unlinked"
python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$mnt/dir"
$TREE "$mnt" > "$T_TMP/before.tree"
n=$(awk '$1 == "transactions" { print $2 }' "$T_TMP/stats")
[ "${n:-0}" -gt 0 ] || fail "no committed transactions in the stats file: $(tr '\n' ' ' < "$T_TMP/stats")"
log "before the kill: $(tr '\n' ' ' < "$T_TMP/stats")"
# A transaction's log blocks go in one write (two where it wraps the
# log of 4,096 blocks, at most once per 4,096 written), its commit block
# in another.
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$T_TMP/stats"; }
writes=$(stat_of log_writes) blocks=$(stat_of blocks_journaled)
[ "$writes" -le $((2 * n + 1 + blocks / 4096)) ] ||
	fail "$blocks log blocks of $n transactions took $writes writes, more than 2 per transaction"
dev=$img
crash_server "$mnt"
kill -9 "$holder"
wait "$holder" 2> /dev/null || true

dumpe2fs -h "$img" 2> /dev/null | grep -q 'features:.*needs_recovery' ||
	fail "the image does not need recovery after the kill"
commits=$(debugfs -R logdump "$img" 2> /dev/null | grep -c 'type 2 (commit')
log "the journal holds $commits committed transactions"
[ "$commits" -gt 0 ] || fail "no committed transaction in the journal after the kill"
cp --sparse=always "$img" "$T_TMP/kern.img"

kern=$T_TMP/kern
mkdir -p "$kern"
mount -o loop "$T_TMP/kern.img" "$kern" || fail "the kernel's ext4 can't mount our crashed image"
$TREE "$kern" > "$T_TMP/kern.tree"
umount "$kern"
diff "$T_TMP/before.tree" "$T_TMP/kern.tree" > "$T_TMP/kern.diff" ||
	fail "the kernel's replay differs: $(grep '^[<>]' "$T_TMP/kern.diff" | head -n2 | tr '\n' ' ')"
ext4_fsck_clean "$T_TMP/kern.img" "after the kernel replayed our journal"

start_server "$mnt" "$T_TMP/ours2.out" "$EXT4SRV" "$img" "$mnt"
$TREE "$mnt" > "$T_TMP/ours.tree"
stop_server "$mnt" "$SERVER_PID"
grep -q 'journal replayed: [1-9][0-9]* transactions' "$T_TMP/ours2.out" ||
	fail "our server did not replay: $(head -n1 "$T_TMP/ours2.out")"
grep -q '1 orphan inodes cleaned up' "$T_TMP/ours2.out" ||
	fail "our server did not clean up the open unlinked file: $(tr '\n' ' ' < "$T_TMP/ours2.out")"
log "$(tr '\n' ' ' < "$T_TMP/ours2.out")"
diff "$T_TMP/before.tree" "$T_TMP/ours.tree" > "$T_TMP/ours.diff" ||
	fail "our replay differs: $(grep '^[<>]' "$T_TMP/ours.diff" | head -n2 | tr '\n' ' ')"
ext4_fsck_clean "$img" "after our server replayed its journal"
