#!/bin/bash
# What fsync returned for survives a power cut at any point, and the image
# needs no e2fsck.  A fresh ext4 image sits under dm-log-writes, which logs
# every write, flush and FUA that reaches it.  fuse-iomap-ext4 (journal
# on) serves it while powercut.py runs steps of creates, appends,
# overwrites, fallocates, truncates, renames, unlinks and mkdirs, each
# fsync'd (the file, and its directory when a name changed), with a log
# mark once each fsync returned.  Then logwrites.py, our replayer of the
# log, rebuilds the image as it was at every mark, and at random points
# between marks (a power cut in the middle of the next step).  For each:
# our server replays the journal and serves the image, without e2fsck;
# every name and byte is the mark's (between marks: what the next step
# touched may be old or new, but each of its blocks holds zeros or the
# file's own data, never another file's); after it stops e2fsck -fn is
# clean.  STRESS_SEED=N replays; STRESS_LONG=1 runs 80 steps and 40 cuts
# between marks instead of 14 and 6 (every kind of step is in the first 11).
# TIMEOUT: 900
# TIMEOUT_LONG: 3000
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

POWERCUT=$REPO/selftests/lib/powercut.py
LOGWRITES=$REPO/selftests/lib/logwrites.py
steps=14 between=6
[ "${STRESS_LONG:-0}" = 1 ] && steps=80 between=40
seed=${STRESS_SEED:-$RANDOM}
RANDOM=$seed
name=fi-lw-$$

ext4_load
modprobe dm_log_writes || fail "can't load dm-log-writes"
base=$T_TMP/base.img
mke2fs -q -F -t ext4 -b 4096 -E nodiscard "$base" 128M || fail "mke2fs failed"
cp --sparse=always "$base" "$T_TMP/data.img"
truncate -s 1G "$T_TMP/log.img"
ddev=$(losetup -f --show "$T_TMP/data.img") || fail "losetup failed"
defer "losetup -d $ddev 2>/dev/null"
ldev=$(losetup -f --show "$T_TMP/log.img") || fail "losetup failed"
defer "losetup -d $ldev 2>/dev/null"
sz=$(blockdev --getsz "$ddev")
dmsetup --noudevsync create "$name" --table "0 $sz log-writes $ddev $ldev" &&
	dmsetup --noudevsync mknodes "$name" || fail "can't create dm-log-writes over $ddev"
defer "dmsetup --noudevsync remove $name 2>/dev/null"

mnt=$T_TMP/mnt
log "seed $seed, $steps steps"
start_server "$mnt" "$T_TMP/ext4.out" "$EXT4SRV" "/dev/mapper/$name" "$mnt"
mkdir "$mnt/w" && sync "$mnt/w" "$mnt" || fail "can't make the work directory"
POWERCUT_SEED=$seed POWERCUT_STEPS=$steps python3 "$POWERCUT" run "$mnt/w" "$T_TMP/manifest" \
	dmsetup --noudevsync message "$name" 0 mark > "$T_TMP/run.out" 2>&1 ||
	fail "(seed $seed) the workload failed: $(tail -n1 "$T_TMP/run.out")"
stop_server "$mnt" "$SERVER_PID"
dmsetup --noudevsync remove "$name" || fail "can't remove dm-log-writes"
log "$(grep 'journal:' "$T_TMP/ext4.out")"

# The cut points: after each mark, and at random entries between two marks.
# Removing the target adds a last mark of its own, dm-log-writes-end.
python3 "$LOGWRITES" marks "$ldev" > "$T_TMP/marks.all" || fail "can't read the log's marks"
grep -v ' dm-log-writes-end$' "$T_TMP/marks.all" > "$T_TMP/marks" || true
[ "$(wc -l < "$T_TMP/marks")" = "$steps" ] ||
	fail "the log holds $(wc -l < "$T_TMP/marks") marks, not $steps"
: > "$T_TMP/points"
: > "$T_TMP/between"
prev=
while read -r idx step; do
	echo "$((idx + 1)) $step mark" >> "$T_TMP/points"
	[ -n "$prev" ] && [ $((idx - prev)) -gt 2 ] &&
		echo "$((prev + 2 + RANDOM % (idx - prev - 2))) $((step - 1)) between" >> "$T_TMP/between"
	prev=$idx
done < "$T_TMP/marks"
shuf -n "$between" --random-source=<(yes "$seed") "$T_TMP/between" >> "$T_TMP/points"
sort -n -o "$T_TMP/points" "$T_TMP/points"

cp --sparse=always "$base" "$T_TMP/work.img"
done_to=0 cuts=0
while read -r upto step kind; do
	python3 "$LOGWRITES" replay-inc "$ldev" "$T_TMP/work.img" "$done_to" "$upto" ||
		fail "can't replay the log up to entry $upto"
	done_to=$upto
	cut=$T_TMP/cut.img
	cp --sparse=always "$T_TMP/work.img" "$cut"
	start_server "$mnt" "$T_TMP/cut.out" "$EXT4SRV" "$cut" "$mnt"
	python3 "$POWERCUT" check "$mnt/w" "$T_TMP/manifest" "$step" \
		$([ "$kind" = between ] && echo between) > "$T_TMP/check.out" 2>&1 ||
		fail "(seed $seed) a cut at log entry $upto ($kind step $step): $(tail -n1 "$T_TMP/check.out")"
	stop_server "$mnt" "$SERVER_PID"
	ext4_fsck_clean "$cut" "after a cut at log entry $upto ($kind step $step)"
	cuts=$((cuts + 1))
	[ "$kind" = mark ] || log "entry $upto: $(cat "$T_TMP/check.out"); $(grep -h 'replayed' "$T_TMP/cut.out")"
done < "$T_TMP/points"
log "$cuts cuts checked, $(grep -c mark "$T_TMP/points") at marks, of $(python3 "$LOGWRITES" count "$ldev") log entries"
