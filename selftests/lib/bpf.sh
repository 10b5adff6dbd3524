# Helpers for tests of the BPF tier.  Sourced after common.sh and iomap.sh.

LOADER=$BUILD/loader/fuse-iomap-bpf
TESTBPF=$BUILD/testbpf
BPFTOOL=$BUILD/bpftool/bpftool
# Looks into (and writes over) a running server's extent store.
FISTORE=$BUILD/testsrv/fi-store

# attach_refused MNT OBJECT: the loader fails (exit 1) to attach OBJECT and
# nothing is attached; what it said is in $T_TMP/out.
attach_refused() {
	local rc=0
	"$LOADER" attach "$1" "$2" > "$T_TMP/out" 2>&1 || rc=$?
	expect_eq "loader exit status for ${2##*/}" "$rc" 1
	expect_eq "attached ops" "$(counter "$1" bpf_ops)" ""
}

# attach MNT OBJECT: attach with the loader; detached again at exit.
attach() {
	"$LOADER" attach "$1" "$2" > "$T_TMP/attach.out" 2>&1 ||
		fail "can't attach $2 to $1: $(tail -n1 "$T_TMP/attach.out")"
	defer "'$LOADER' detach '$1' > /dev/null 2>&1"
}

# spaced_extents N SEED PICK FROM: blockfs side file $meta for one file
# "big" of N one-block extents (file block 2i at device block i + 16) on
# $dev, and PICK of them drawn from [FROM, N) with SEED, listed in
# $T_TMP/samples, whose device blocks get a stamp ("extent i ...").
spaced_extents() {
	python3 - "$meta" "$dev" "$T_TMP/samples" "$@" <<'PY'
import os, random, sys
meta, dev, samples = sys.argv[1:4]
n, seed, count, first = map(int, sys.argv[4:8])
with open(meta, "w") as f:
    f.write("B 4096\nN 1 40755 0 0 0 0 0\nN 2 100644 0 0 %d 0 0\nD 1 2 %s\n" % (2 * n * 4096, b"big".hex()))
    f.writelines("E 2 %d %d 1\n" % (2 * i, i + 16) for i in range(n))
random.seed(seed)
pick = random.sample(range(first, n), count)
fd = os.open(dev, os.O_WRONLY)
for i in pick:
    os.pwrite(fd, (b"extent %d " % i).ljust(4096, b"."), (i + 16) * 4096)
os.fsync(fd)
os.close(fd)
with open(samples, "w") as f:
    f.write("\n".join(map(str, pick)) + "\n")
PY
}

# stamped_file FILE: 256 blocks of 4 KiB, block b reading "block b ....".
stamped_file() {
	python3 - "$1" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for b in range(256):
        f.write((b"block %d " % b).ljust(4096, b"."))
PY
}
