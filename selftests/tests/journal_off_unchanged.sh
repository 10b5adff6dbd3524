#!/bin/bash
# --journal=off is the server as it was before the journal: the image is
# marked not clean while served and clean after, its journal is left
# untouched, and after a kill it is refused until e2fsck has checked it.
# An image without a journal is served so by default, and --journal=ordered
# refuses it with a message.  Then earlier ext4 tests run again with every
# server they start given --journal=off (all of those that start
# fuse-iomap-ext4 under STRESS_LONG=1; by default the two short ones,
# ext4_posix_ops and ext4_crash_no_stale_bpf_queue).
# TIMEOUT: 900
# TIMEOUT_LONG: 5400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

# jstate IMG: the super block's state, features and journal position.
jstate() {
	dumpe2fs -h "$1" 2> /dev/null |
		sed -n 's/^Filesystem state: *//p; s/^Filesystem features: *//p; s/^Journal sequence: *//p; s/^Journal start: *//p' |
		tr '\n' ' '
}

ext4_load
img=$T_TMP/img mnt=$T_TMP/mnt
mke2fs -q -F -t ext4 -b 4096 "$img" 128M || fail "mke2fs failed"
before=$(jstate "$img")
start_server "$mnt" "$T_TMP/off.out" "$EXT4SRV" --journal=off "$img" "$mnt"
head -c 1000000 /dev/urandom > "$mnt/file" && mkdir "$mnt/dir" && sync "$mnt/file" "$mnt/dir" ||
	fail "can't write with --journal=off"
serving=$(jstate "$img")
case $serving in *"not clean"*) ;; *) fail "served with --journal=off, the image is not marked not clean: $serving" ;; esac
case $serving in *needs_recovery*) fail "--journal=off set needs_recovery: $serving" ;; esac
stop_server "$mnt" "$SERVER_PID"
after=$(jstate "$img")
[ "$after" = "$before" ] || fail "--journal=off left '$after', not '$before'"
ext4_fsck_clean "$img" "after --journal=off"
grep -q 'journal:' "$T_TMP/off.out" && fail "--journal=off reported journal counters: $(cat "$T_TMP/off.out")"

start_server "$mnt" "$T_TMP/off2.out" "$EXT4SRV" --journal=off "$img" "$mnt"
echo more > "$mnt/more" && sync "$mnt/more" || fail "can't write with --journal=off"
dev=$img
crash_server "$mnt"
mkdir -p "$mnt"
"$EXT4SRV" --journal=off "$img" "$mnt" > "$T_TMP/refused.out" 2>&1 && fail "served after a crash without e2fsck"
grep -q "not cleanly unmounted" "$T_TMP/refused.out" ||
	fail "no clear refusal after a crash: $(cat "$T_TMP/refused.out")"

nojournal=$T_TMP/nojournal.img
mke2fs -q -F -t ext4 -b 4096 -O ^has_journal "$nojournal" 64M || fail "mke2fs failed"
mkdir -p "$mnt"
"$EXT4SRV" --journal=ordered "$nojournal" "$mnt" > "$T_TMP/ordered.out" 2>&1 &&
	fail "--journal=ordered served an image without a journal"
grep -q "with --journal=ordered: it has no journal" "$T_TMP/ordered.out" ||
	fail "no clear message for --journal=ordered without a journal: $(cat "$T_TMP/ordered.out")"
start_server "$mnt" "$T_TMP/nj.out" "$EXT4SRV" "$nojournal" "$mnt"
echo data > "$mnt/f" && sync "$mnt/f" || fail "can't write to an image without a journal"
case $(jstate "$nojournal") in *"not clean"*) ;; *) fail "without a journal the image is not marked not clean while served" ;; esac
stop_server "$mnt" "$SERVER_PID"
ext4_fsck_clean "$nojournal" "after serving an image without a journal"

if [ "${STRESS_LONG:-0}" = 1 ]; then
	tests=$(cd "$REPO/selftests/tests" && grep -l 'EXT4SRV' ./*.sh | sed 's|^\./||; s|\.sh$||' |
		grep -v '^journal_')
else
	tests="ext4_posix_ops ext4_crash_no_stale_bpf_queue"
fi
for t in $tests; do
	rc=0
	mkdir -p "$T_TMP/$t"
	T_NAME=$t T_TMP=$T_TMP/$t T_REASON=$T_TMP/$t.reason EXT4_JOURNAL=off \
		bash "$REPO/selftests/tests/$t.sh" > "$T_TMP/$t.log" 2>&1 < /dev/null || rc=$?
	[ $rc = 0 ] || fail "$t with --journal=off: $(cat "$T_TMP/$t.reason" 2> /dev/null || tail -n1 "$T_TMP/$t.log")"
	log "$t: passes with --journal=off"
done
