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
