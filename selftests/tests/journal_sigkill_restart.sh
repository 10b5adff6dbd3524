#!/bin/bash
# A killed fuse-iomap-ext4 (journal on, the default) loses nothing that was
# fsync'd, and the next server replays and serves without e2fsck.  On a
# device filled with old bytes: KILLS times (default 10) a new server
# starts (replaying what the last one left: it must say so), the state is
# checked through it, and a parallel workload runs until the server is
# SIGKILLed at a random point: crash_model.py's random block writes with
# fsyncs into two files of a directory of its own, and beside it a
# metadata churn that creates files (each fsync'd, renamed into place, its
# directory fsync'd) and deletes old ones.  Checked after each restart,
# for the last run: crash_model.py's model (fsync'd blocks hold their
# data, never old bytes or another block's), and every churn file whose
# rename was fsync'd and that was not deleted since holds its bytes.  At
# the end the server stops normally, every run's model and churn files
# are checked again, and e2fsck -fn is clean.  STRESS_SEED=N replays;
# STRESS_LONG=1 kills 60 times.
# TIMEOUT: 900
# TIMEOUT_LONG: 2400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

KILLS=10
[ "${STRESS_LONG:-0}" = 1 ] && KILLS=60
seed=${STRESS_SEED:-$RANDOM}
RANDOM=$seed

# churn DIR LOG: "D N" once file cN is fsync'd and its name too, "R N"
# once cN is deleted and the directory fsync'd; until the server dies.
churn() {
	local d=$1 log=$2 n=0
	mkdir -p "$d" && sync "$d" || return 0
	while :; do
		n=$((n + 1))
		seq "$n" $((n + n % 700)) > "$d/tmp$n" && sync "$d/tmp$n" &&
			mv "$d/tmp$n" "$d/c$n" && sync "$d" || return 0
		echo "D $n" >> "$log"
		if [ $n -gt 20 ]; then
			rm "$d/c$((n - 20))" && sync "$d" || return 0
			echo "R $((n - 20))" >> "$log"
		fi
	done
}

# churn_check DIR LOG: every file LOG says is there holds its bytes.
churn_check() {
	local d=$1 log=$2 n
	for n in $(awk '$1 == "D" { d[$2] = 1 } $1 == "R" { delete d[$2] } END { for (n in d) print n }' "$log"); do
		cmp -s "$d/c$n" <(seq "$n" $((n + n % 700))) ||
			fail "(seed $seed) churn file c$n, fsync'd, is $( [ -e "$d/c$n" ] && echo wrong || echo missing) after the crash"
	done
}

ext4_load
make_dev 128
stale_fill "$dev"
mke2fs -q -F -t ext4 -b 4096 -E nodiscard,lazy_itable_init=0 "$dev" || fail "mke2fs failed"
mnt=$T_TMP/mnt
log "seed $seed, $KILLS kills"
replayed=0
for i in $(seq 1 "$KILLS"); do
	start_server "$mnt" "$T_TMP/ext4.$i.out" "$EXT4SRV" "$dev" "$mnt"
	if [ "$i" -gt 1 ]; then
		grep -q "journal replayed: [0-9]* transactions" "$T_TMP/ext4.$i.out" ||
			fail "server $i did not replay the journal the kill left: $(head -n1 "$T_TMP/ext4.$i.out")"
		replayed=$((replayed + $(sed -n 's/.*journal replayed: \([0-9]*\) transactions.*/\1/p' "$T_TMP/ext4.$i.out")))
		out=$(python3 "$CRASH_MODEL" check "$mnt/run$((i - 1))" "$T_TMP/model.$((i - 1))" 2> "$T_TMP/check.err") ||
			fail "(seed $seed) after kill $((i - 1)): $(tail -n1 "$T_TMP/check.err")"
		churn_check "$mnt/churn$((i - 1))" "$T_TMP/churn.$((i - 1))"
	fi
	mkdir "$mnt/run$i" || fail "can't make run$i"
	: > "$T_TMP/churn.$i"
	churn "$mnt/churn$i" "$T_TMP/churn.$i" &
	ch=$!
	defer "kill -9 $ch 2>/dev/null"
	model_start "run$i" "$mnt/run$i" "$T_TMP/model.$i" $((seed + i)) $((5 + RANDOM % 30)) 60
	model_crash "run$i" "$mnt" "$T_TMP/model.$i" $((seed + i))
	wait $ch || true
	log "kill $i (${SECONDS}s): $(grep -c '^D' "$T_TMP/churn.$i") churn files made, $(grep -c '^R' "$T_TMP/churn.$i") deleted"
done

start_server "$mnt" "$T_TMP/ext4.last.out" "$EXT4SRV" "$dev" "$mnt"
grep -q "journal replayed" "$T_TMP/ext4.last.out" || fail "the last server did not replay"
for i in $(seq 1 "$KILLS"); do
	python3 "$CRASH_MODEL" check "$mnt/run$i" "$T_TMP/model.$i" > /dev/null 2> "$T_TMP/check.err" ||
		fail "(seed $seed) at the end, run $i: $(tail -n1 "$T_TMP/check.err")"
	churn_check "$mnt/churn$i" "$T_TMP/churn.$i"
done
stop_server "$mnt" "$SERVER_PID"
log "$KILLS kills, $replayed transactions replayed in all; $(grep 'journal:' "$T_TMP/ext4.last.out")"
ext4_fsck_clean "$dev" "after $KILLS kills"
