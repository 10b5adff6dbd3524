#!/bin/bash
# 10,000 FUSE_IOMAP_BEGIN replies from fuse-iomap-fuzz (valid mappings,
# valid ones with one field mutated, random ones, replies too short and too
# long, error codes, and stray writes with wrong unique ids, impossible
# error codes or lying lengths before the real reply), one per 4 KiB
# O_DIRECT read or write.  fuzz_check.py's oracle says what the kernel must
# do with each: every invalid one fails with EIO and moves its rule's
# counter, every error reaches the caller, every valid one moves the bytes
# of the claimed device address; the kernel stays clean (the runner).
# TIMEOUT: 900
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

FUZZ=$BUILD/testsrv/fuse-iomap-fuzz
REPLIES=10000 SEED=${FUZZ_SEED:-20261125}

fi_load
make_dev 32
dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none
mnt=$T_TMP/mnt
start_server "$mnt" "$T_TMP/fuzz.out" "$FUZZ" -S "$SEED" -l "$T_TMP/fuzz.log" "$dev" "$mnt"
python3 "$REPO/selftests/lib/fuzz_check.py" run reply "$mnt" "$dev" "$T_TMP/fuzz.log" \
	"$(conn_dir "$mnt")" "$REPLIES" "$SEED" > "$T_TMP/check.out" 2>&1 ||
	fail "seed $SEED: $(tail -n1 "$T_TMP/check.out")"
log "seed $SEED: $(cat "$T_TMP/check.out")"
stop_server "$mnt" "$SERVER_PID"
read -r _ strays surprises < <(grep '^STRAYS ' "$T_TMP/fuzz.log") || fail "the server did not count its stray writes"
expect_eq "stray writes the kernel did not refuse as it should" "$surprises" 0
[ "$strays" -gt 0 ] || fail "no stray writes were made"
log "$strays stray writes, each refused (ENOENT/EINVAL) without touching a request"
