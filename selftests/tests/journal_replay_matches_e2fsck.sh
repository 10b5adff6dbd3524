#!/bin/bash
# fuse-iomap-ext4 replays a journal the kernel's ext4 left needing
# recovery, as e2fsck -E journal_only does.  Two images, each crashed by
# dm-flakey dropping every write after a workload of creates, writes and
# deletes (deletes leave revoke records) with an fsync per round, on a 4 MiB
# journal that the workload wraps: one made by today's mke2fs (64-bit,
# metadata_csum, so jbd2 checksum v3), one without either (32-bit tags,
# no checksums).  For each: our server replays a copy, says how many
# transactions it replayed, serves it and stops; every block of that copy
# equals e2fsck's replay of another copy (replay_cmp.py says which fields
# may differ; the log itself is not compared, as our server journals on);
# e2fsck -fn is clean; our server and the kernel's ext4 read the same tree.  Then a journal with one bad byte in a committed block is
# refused with a message, and the image is left as it was.
# TIMEOUT: 400
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

ROUNDS=24

# churn MNT: ROUNDS rounds of 300 small files in a new directory, the
# directory of two rounds ago deleted, and a 256 KiB file fsync'd (a
# journal commit; sync(1) would also write the metadata home and empty
# the journal).
churn() {
	local d=$1 i j
	mkdir "$d/keep" "$d/gone" || return 1
	for i in $(seq 1 $ROUNDS); do
		mkdir "$d/gone/$i" || return 1
		for j in $(seq 1 300); do
			echo "round $i file $j" > "$d/gone/$i/f$j" || return 1
		done
		if [ "$i" -gt 2 ]; then
			rm -rf "$d/gone/$((i - 2))" || return 1
		fi
		head -c $((256 << 10)) /dev/urandom |
			dd of="$d/keep/data$i" bs=64k conv=fsync status=none || return 1
	done
	echo tail > "$d/keep/after_last_fsync"
	sleep 6	# the kernel commits every 5 s: this is in the journal too
}

# journal_stats IMG: transactions and revoke blocks in IMG's journal.
journal_stats() {
	debugfs -R logdump "$1" 2> /dev/null |
		awk '/^Journal starts at block/ { start = $5 + 0 }
		     /^Found expected sequence/ { if ($NF + 0 < start) wrapped = ", wrapped" }
		     /type 2 \(commit/ { c++ } /type 5 \(revoke/ { r++ }
		     END { printf "%d commits, %d revoke blocks, from block %d%s", c, r, start, wrapped }'
}

# check_replay NAME MKE2FS_OPTS
check_replay() {
	local name=$1 img=$T_TMP/$1.img stats
	shift
	mke2fs -q -F -t ext4 -b 4096 -J size=4 "$@" "$img" 128M || fail "mke2fs $* failed"
	ext4_crash_kernel "$img" churn
	jfeat=$(dumpe2fs -h "$img" 2> /dev/null | sed -n 's/^Journal features: *//p')
	stats=$(journal_stats "$img")
	log "$name: journal features: $jfeat; $stats to replay"
	case $stats in *" 0 revoke blocks"*) fail "$name: the crash left no revoke blocks" ;; esac
	case $stats in *wrapped*) wrapped="$wrapped $name" ;; esac
	cp --sparse=always "$img" "$T_TMP/$name.want"
	rc=0
	e2fsck -fy -E journal_only "$T_TMP/$name.want" > "$T_TMP/$name.e2fsck" 2>&1 || rc=$?
	[ $rc -le 1 ] || fail "$name: e2fsck -E journal_only failed: $(tail -n1 "$T_TMP/$name.e2fsck")"
	dumpe2fs "$T_TMP/$name.want" > "$T_TMP/$name.dump" 2> /dev/null
	debugfs -R "blocks <8>" "$T_TMP/$name.want" > "$T_TMP/$name.jblocks" 2> /dev/null
	[ -s "$T_TMP/$name.jblocks" ] || fail "$name: can't list the journal's blocks"

	ours=$T_TMP/ours
	start_server "$ours" "$T_TMP/$name.out" "$EXT4SRV" "$img" "$ours"
	stop_server "$ours" "$SERVER_PID"
	grep -q 'journal replayed: [1-9][0-9]* transactions' "$T_TMP/$name.out" ||
		fail "$name: our server did not say it replayed the journal: $(head -n1 "$T_TMP/$name.out")"
	log "$name: $(grep 'journal replayed' "$T_TMP/$name.out")"
	python3 "$REPO/selftests/lib/replay_cmp.py" "$T_TMP/$name.want" "$img" "$T_TMP/$name.dump" \
		"$T_TMP/$name.jblocks" > "$T_TMP/$name.cmp" || fail "$name: our replay differs from e2fsck's: $(cat "$T_TMP/$name.cmp")"
	log "$name: $(cat "$T_TMP/$name.cmp")"
	ext4_fsck_clean "$img" "after our replay ($name)"

	kern=$T_TMP/kern
	mkdir -p "$kern"
	mount -o ro,loop "$T_TMP/$name.want" "$kern" || fail "$name: kernel ext4 can't mount e2fsck's replay"
	python3 "$REPO/selftests/lib/tree.py" --no-dir-size "$kern" > "$T_TMP/$name.kern.tree"
	umount "$kern"
	start_server "$ours" "$T_TMP/$name.ro.out" "$EXT4SRV" -r "$img" "$ours"
	python3 "$REPO/selftests/lib/tree.py" --no-dir-size "$ours" > "$T_TMP/$name.ours.tree"
	stop_server "$ours" "$SERVER_PID"
	diff "$T_TMP/$name.kern.tree" "$T_TMP/$name.ours.tree" > "$T_TMP/$name.diff" ||
		fail "$name: the trees differ: $(grep '^[<>]' "$T_TMP/$name.diff" | head -n2 | tr '\n' ' ')"
	grep -q after_last_fsync "$T_TMP/$name.ours.tree" ||
		fail "$name: the last committed transaction was not replayed"
}

ext4_load
modprobe dm_flakey || fail "can't load dm-flakey"
wrapped=
check_replay csum_v3
case $jfeat in *journal_64bit*journal_checksum_v3*) ;;
	*) fail "mke2fs's defaults made journal features '$jfeat', not 64-bit and checksum v3" ;;
esac
check_replay plain -O ^metadata_csum,^64bit
case $jfeat in *checksum*|*64bit*) fail "the plain image's journal has features '$jfeat'" ;; esac
[ -n "$wrapped" ] || fail "neither log wrapped past the journal's end: a longer workload is needed"

# A bad byte in a block of the last committed transaction: refused, nothing written.
img=$T_TMP/corrupt.img
mke2fs -q -F -t ext4 -b 4096 -J size=4 "$img" 128M || fail "mke2fs failed"
ROUNDS=4
ext4_crash_kernel "$img" churn
jblk=$(debugfs -R "logdump -a" "$img" 2> /dev/null | awk '
	/Found expected sequence .* type 1 / { seq = $4; first = "" }
	/FS block .* logged at journal block/ && first == "" { first = $8 }
	/Found expected sequence .* type 2 / { if (seq == $4) last = first }
	END { print last }')
[ -n "$jblk" ] || fail "can't find a committed block in the journal"
pblk=$(debugfs -R "bmap <8> $jblk" "$img" 2> /dev/null)
log "corrupting journal block $jblk (block $pblk of the image)"
printf '\xff' | dd of="$img" bs=1 seek=$((pblk * 4096 + 2000)) conv=notrunc status=none
sum=$(sha256sum < "$img")
mkdir -p "$T_TMP/corrupt"
"$EXT4SRV" "$img" "$T_TMP/corrupt" > "$T_TMP/corrupt.out" 2>&1 && fail "our server served a corrupt journal"
! is_mounted "$T_TMP/corrupt" || fail "our server mounted an image with a corrupt journal"
grep -q "can't replay the journal of .*: journal block $jblk of transaction [0-9]* has a bad checksum" \
	"$T_TMP/corrupt.out" || fail "no clear message for the corrupt journal: $(cat "$T_TMP/corrupt.out")"
log "refused: $(cat "$T_TMP/corrupt.out")"
[ "$(sha256sum < "$img")" = "$sum" ] || fail "refusing the corrupt journal changed the image"
