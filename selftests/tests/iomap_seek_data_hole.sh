#!/bin/bash
# SEEK_DATA/SEEK_HOLE walk a sparse file's data segments exactly as they
# were written, including data at the very end and a hole at the end.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"

blockfs_setup
B=4096
truncate -s $((1000 * B)) "$mnt/a"
for seg in "3 2" "10 1" "11 4" "500 7" "999 1"; do
	set -- $seg
	dd if=/dev/urandom of="$mnt/a" bs=$B count="$2" seek="$1" conv=notrunc status=none
done
python3 "$FIEMAP_PY" seek "$mnt/a" > "$T_TMP/got"
printf 'data %d %d\n' $((3 * B)) $((5 * B)) $((10 * B)) $((15 * B)) $((500 * B)) $((507 * B)) \
	$((999 * B)) $((1000 * B)) > "$T_TMP/want"
cmp -s "$T_TMP/got" "$T_TMP/want" || fail "SEEK_DATA/SEEK_HOLE walk [$(tr '\n' ';' < "$T_TMP/got")], want [$(tr '\n' ';' < "$T_TMP/want")]"

# A hole at the end, and a file with no data at all.
truncate -s $((2000 * B)) "$mnt/a"
python3 - "$mnt/a" $((1000 * B)) <<'PY' || fail "SEEK_DATA past the last data did not give ENXIO, or SEEK_HOLE missed the tail hole"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
end = int(sys.argv[2])
assert os.lseek(fd, end - 4096, os.SEEK_HOLE) == end
try:
    os.lseek(fd, end, os.SEEK_DATA)
    sys.exit(1)
except OSError as e:
    assert e.errno == errno.ENXIO
PY
truncate -s $((10 * B)) "$mnt/empty"
expect_eq "data segments of an all-hole file" "$(python3 "$FIEMAP_PY" seek "$mnt/empty" | wc -l)" 0
stop_server "$mnt" "$SERVER_PID"
