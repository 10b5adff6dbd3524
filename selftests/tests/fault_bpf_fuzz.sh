#!/bin/bash
# 12,000 answers from a BPF program (selftests/bpf/fuzz_answers: block k of
# the file gets map entry k verbatim), the entries drawn by fuse-iomap-fuzz
# --plan: valid, mutated and random mappings, "no answer" (the upcall then
# answers with a valid mapping), errnos and return values that are no
# errno.  One 4 KiB O_DIRECT read or write per block; fuzz_check.py's
# oracle says what the kernel must do with each (as in fault_reply_fuzz),
# and the bpf_hits/rejected/errors/fallbacks counters must agree.
# TIMEOUT: 900
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/bpf.sh"

FUZZ=$BUILD/testsrv/fuse-iomap-fuzz
ANSWERS=12000 SEED=${FUZZ_SEED:-20261125}
CHECK=$REPO/selftests/lib/fuzz_check.py

fi_load
make_dev 32
dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none
"$FUZZ" --plan "$ANSWERS" --dev-size $((32 << 20)) -S "$SEED" -l "$T_TMP/plan" ||
	fail "fuse-iomap-fuzz --plan failed"
mnt=$T_TMP/mnt
start_server "$mnt" "$T_TMP/fuzz.out" "$FUZZ" --valid-only -s $((ANSWERS * 4096)) \
	-l "$T_TMP/fuzz.log" "$dev" "$mnt"
attach "$mnt" "$TESTBPF/fuzz_answers.bpf.o"
python3 "$CHECK" batch "$T_TMP/plan" > "$T_TMP/batch"
"$BPFTOOL" batch file "$T_TMP/batch" > "$T_TMP/bpftool.out" 2>&1 ||
	fail "bpftool could not fill fz_answers: $(tail -n1 "$T_TMP/bpftool.out")"
# The plan's valid mappings name cookie 1: the device must have it.
read -r _ cookie _ < "$T_TMP/fuzz.log"
expect_eq "the device's cookie" "$cookie" 1
python3 "$CHECK" run bpf "$mnt" "$dev" "$T_TMP/fuzz.log" "$(conn_dir "$mnt")" "$T_TMP/plan" \
	> "$T_TMP/check.out" 2>&1 || fail "seed $SEED: $(tail -n1 "$T_TMP/check.out")"
log "seed $SEED: $(cat "$T_TMP/check.out")"
stop_server "$mnt" "$SERVER_PID"
