# Helpers for tests of the BPF tier.  Sourced after common.sh and iomap.sh.

LOADER=$BUILD/loader/fuse-iomap-bpf
TESTBPF=$BUILD/testbpf
BPFTOOL=$BUILD/bpftool/bpftool

# attach MNT OBJECT: attach with the loader; detached again at exit.
attach() {
	"$LOADER" attach "$1" "$2" > "$T_TMP/attach.out" 2>&1 ||
		fail "can't attach $2 to $1: $(tail -n1 "$T_TMP/attach.out")"
	defer "'$LOADER' detach '$1' > /dev/null 2>&1"
}
