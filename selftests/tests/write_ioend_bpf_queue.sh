#!/bin/bash
# Writes into unwritten extents converted by the BPF hook: fuse-iomap-blockfs
# --bpf on a device whose blocks hold another file's old bytes.  After
# writes into holes (the server preallocates) and one warm-up read,
# O_DIRECT and buffered writes into the unwritten blocks make no
# synchronous upcall (no FUSE_IOMAP_BEGIN, END or IOEND: counters and the
# server's log agree): extent_map answers the mappings and handles each
# ioend by queueing it (bpf_ioend_handled rises, bpf_ioend_pending holds
# them).  A read right after each write sees it, through BPF; and after
# the BPF tier is detached, through the upcall: the server applies the
# queue before it answers.  fsync, fdatasync, an O_DSYNC write and syncfs
# return only after the queue is committed: bpf_ioend_pending is 0 when
# they return, and the server's log shows each queued record applied
# (QIOEND) before the FSYNC line.  At the end the bytes are right through
# the mount after dropping caches (never written = zeros, never the old
# bytes), FIEMAP shows the written blocks as no longer unwritten and the
# rest as unwritten, and the written ones are on the device at the FIEMAP
# address.
# TIMEOUT: 300
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

K=4096
IO=$REPO/selftests/lib/ioend_io.py

fi_load
make_dev 16
stale_fill "$dev"
mnt=$T_TMP/mnt ref=$T_TMP/ref written=$T_TMP/written
start_blockfs "$mnt" "$dev" --bpf
cdir=$(conn_dir "$mnt")
need_counters "$mnt" ioend_upcalls bpf_ioend_handled bpf_ioend_fallbacks bpf_ioend_errors \
	bpf_ioend_pending bpf_ioend_committed
expect_eq "attached ops" "$(counter "$mnt" bpf_ops)" extent_map
truncate -s $((4 << 20)) "$mnt/f" "$ref" || fail "can't create $mnt/f"
: > "$written"
# Writes into holes: each preallocates at least 64 unwritten blocks.
python3 "$IO" "$mnt/f" "$ref" "$written" d0+$K d$((128 * K))+$K d$((256 * K))+$K \
	d$((384 * K))+$K d$((512 * K))+$K d$((640 * K))+$K 2> "$T_TMP/io.err" || fail "$(tail -n1 "$T_TMP/io.err")"
sync
dd if="$mnt/f" of=/dev/null bs=$K count=1 iflag=direct status=none || fail "warm-up read failed"
# 40 blocks for reads right after the writes, 4 x 4 for the syncs, 16 for
# the detached reads: unwritten blocks, at random.
python3 "$IOEND_CHECK" unwritten "$mnt/f" | awk '$1 < 1024' > "$T_TMP/unwritten"
[ "$(wc -l < "$T_TMP/unwritten")" -ge 72 ] ||
	fail "6 writes into holes left $(wc -l < "$T_TMP/unwritten") unwritten blocks, want at least 72"
# (python3 starts slowly in a TCG guest: the steps are few and long.)
mapfile -t blk < <(awk 'BEGIN { srand(14) } { print rand(), $1 }' "$T_TMP/unwritten" | sort -g | head -n 72 | cut -d' ' -f2)

snap() {
	begins=$(counter "$mnt" iomap_begin_upcalls) ends=$(counter "$mnt" iomap_end_upcalls)
	ioends=$(counter "$mnt" ioend_upcalls) handled=$(counter "$mnt" bpf_ioend_handled)
	fallbacks=$(counter "$mnt" bpf_ioend_fallbacks)
	lb=$(log_count BEGIN) le=$(log_count END) li=$(log_count IOEND)
}
# no_upcalls WHAT WRITES: WRITES writes since snap made no upcall, and the
# BPF hook handled an ioend for each.
no_upcalls() {
	expect_eq "FUSE_IOMAP_BEGIN upcalls for $1" "$(counter "$mnt" iomap_begin_upcalls)" "$begins"
	expect_eq "FUSE_IOMAP_END upcalls for $1" "$(counter "$mnt" iomap_end_upcalls)" "$ends"
	expect_eq "FUSE_IOMAP_IOEND upcalls for $1" "$(counter "$mnt" ioend_upcalls)" "$ioends"
	expect_eq "BEGIN lines in the server's log for $1" "$(log_count BEGIN)" "$lb"
	expect_eq "END lines in the server's log for $1" "$(log_count END)" "$le"
	expect_eq "IOEND lines in the server's log for $1" "$(log_count IOEND)" "$li"
	expect_eq "bpf_ioend_fallbacks for $1" "$(counter "$mnt" bpf_ioend_fallbacks)" "$fallbacks"
	[ $(($(counter "$mnt" bpf_ioend_handled) - handled)) -ge "$2" ] ||
		fail "$1: bpf_ioend_handled rose by $(($(counter "$mnt" bpf_ioend_handled) - handled)), want at least $2"
}
# quiet WHAT: once the writer closed the file (its RELEASE drains the
# queue), every queued record was applied and logged once.  The library
# then publishes the file's extents again, after the count: a write in
# that moment would find the BPF tier without them and go to the server,
# so the next step waits a little.
quiet() {
	wait_for 30 eval "[ \$(counter '$mnt' bpf_ioend_pending) = 0 ]" ||
		fail "$1: $(counter "$mnt" bpf_ioend_pending) ioends still pending 30 s after the file was closed"
	expect_eq "QIOEND lines vs bpf_ioend_committed $1" "$(log_count QIOEND)" "$(counter "$mnt" bpf_ioend_committed)"
	sleep 1
}

# One writer, the file open throughout (a close drains the queue, so what
# is pending is checked while it is open):
#  - 40 writes (O_DIRECT and buffered, alternating), each read back at
#    once through BPF, which then hold queued changes (pending+);
#  - 4 O_DIRECT writes then fsync, 4 then fdatasync, 4 O_DSYNC writes, 4
#    then syncfs: each returns with nothing pending (pending0).
ops=()
for i in $(seq 0 39); do
	b=${blk[i]}
	if [ $((i % 2)) = 0 ]; then ops+=("d$((b * K))+$K"); else ops+=("b$((b * K + 123))+1000"); fi
done
ops+=(pending+)
: > "$T_TMP/rounds"
i=40
for sync_op in fsync fdatasync dsync syncfs; do
	round=()
	for j in 0 1 2 3; do
		b=${blk[i + j]}
		if [ $sync_op = dsync ]; then round+=("D$((b * K))+$K"); else round+=("d$((b * K))+$K"); fi
	done
	i=$((i + 4))
	echo "$sync_op ${round[*]}" >> "$T_TMP/rounds"
	if [ $sync_op = dsync ]; then ops+=("${round[@]}" pending0); else ops+=("${round[@]}" pending+ "$sync_op" pending0); fi
done
snap
python3 "$IO" --verify --conn "$cdir" "$mnt/f" "$ref" "$written" "${ops[@]}" 2> "$T_TMP/io.err" ||
	fail "$(tail -n1 "$T_TMP/io.err")"
no_upcalls "56 writes into unwritten blocks, each read back, and the syncs" 56
log "fsync, fdatasync, O_DSYNC and syncfs returned with the queue committed"
quiet "after the writes and syncs"

# Queued, then read through the upcall with the BPF tier detached: the
# server applies the queue before it answers the read's mapping.
ops=() reads=()
for j in $(seq 0 15); do
	ops+=("d$((blk[i + j] * K))+$K") reads+=("r$((blk[i + j] * K))+$K")
done
echo "detached $(wc -l < "$T_TMP/blockfs.log") ${ops[*]}" >> "$T_TMP/rounds"
snap
python3 "$IO" --conn "$cdir" "$mnt/f" "$ref" "$written" "${ops[@]}" pending+ "sh:'$LOADER' detach '$mnt'" \
	"${reads[@]}" pending0 2> "$T_TMP/io.err" || fail "detached: $(tail -n1 "$T_TMP/io.err")"
expect_eq "attached ops after detach" "$(counter "$mnt" bpf_ops)" ""
[ "$(counter "$mnt" iomap_begin_upcalls)" -gt "$begins" ] || fail "detached reads made no FUSE_IOMAP_BEGIN upcall"
quiet "after the detached reads"

# The server's log: for the fsync, fdatasync and O_DSYNC rounds, each
# write's QIOEND and then an FSYNC line before the next round's; for the
# detached reads, each write's QIOEND before the first BEGIN.
python3 - "$T_TMP/blockfs.log" "$T_TMP/rounds" > "$T_TMP/order.err" <<'PY' || fail "$(cat "$T_TMP/order.err")"
import sys
log = [l.split() for l in open(sys.argv[1])]
rounds = [l.split() for l in open(sys.argv[2])]
pos = lambda op: int(op[1:].split("+")[0])
qi = {int(l[2]): i for i, l in enumerate(log) if l[0] == "QIOEND"}
for r, (name, *ops) in enumerate(rounds):
    if name == "detached":
        start, ops = int(ops[0]), ops[1:]
    want = [pos(op) for op in ops]
    missing = [p for p in want if p not in qi]
    if missing:
        sys.exit("%s: no QIOEND for the writes at %s" % (name, missing))
    last = max(qi[p] for p in want)
    if name == "syncfs":
        continue
    if name == "detached":
        begin = next((i for i in range(start, len(log)) if log[i][0] == "BEGIN"), None)
        if begin is None or begin < last:
            sys.exit("detached: the server answered a BEGIN (line %s) before it applied the queued "
                     "ioends (last QIOEND at line %d)" % (begin, last))
        continue
    nxt = min([qi[pos(op)] for op in rounds[r + 1][1:] if op[0] in "dD"] or [len(log)])
    if not any(l[0] == "FSYNC" for l in log[last + 1:nxt]):
        sys.exit("%s: no FSYNC line between the QIOEND lines of its writes and the next round's"
                 % name)
PY

expect_eq "bpf_ioend_errors" "$(counter "$mnt" bpf_ioend_errors)" 0
expect_eq "rejected mappings" "$(counter "$mnt" mappings_rejected)" 0
sync
check_unwritten_states "$mnt/f" "$written"
log "FIEMAP: $uw_written blocks written, $uw_unwritten unwritten"
check_written_on_device "$mnt/f" "$ref" "$dev"
drop_caches
cmp "$mnt/f" "$ref" > "$T_TMP/cmp" 2>&1 ||
	fail "bytes differ from what was written ($(grep -c "$STALE_LINE" "$mnt/f") lines of stale bytes): $(head -c 200 "$T_TMP/cmp")"
stop_server "$mnt" "$SERVER_PID"
