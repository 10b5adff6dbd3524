# Sourced by the DKMS install tests.

# dkms_refused OTHER LOG RC: dkms build for OTHER, a kernel no target
# names, exited RC with output LOG.  It must have been refused by
# BUILD_EXCLUSIVE_KERNEL, with our message listing the supported kernels.
dkms_refused() {
	local other=$1 out=$2 rc=$3 supported
	[ "$rc" != 0 ] || fail "dkms build for kernel $other succeeded"
	supported=$("$REPO/scripts/target" --kernels | awk '{ print $2 }' | paste -sd, | sed 's/,/, /g')
	grep -q "^fuse-iomap: refusing kernel ${other//./\\.}: " "$out" &&
		grep -qF "the supported kernels are $supported" "$out" ||
		fail "dkms build for $other did not say why it refused: $(grep -m1 -i error "$out")"
	grep -q BUILD_EXCLUSIVE "$out" ||
		fail "dkms build for $other was not refused by BUILD_EXCLUSIVE_KERNEL: $(tail -n1 "$out")"
}
