#!/bin/bash
# The guest boots the pinned Debian kernel and runs a test in the chroot of
# the host's root with the repository mounted.
# TIMEOUT: 30
. "$REPO/selftests/lib/common.sh"

expect_eq "guest kernel" "$(uname -r)" "$KREL"
grep -q "fi_repo=$REPO" /proc/cmdline || fail "not running in the test guest (no fi_repo= on the kernel command line)"
[ -w "$REPO/build" ] || fail "$REPO/build is not writable in the guest"
touch "$T_TMP/x" || fail "guest /tmp is not writable"
[ -c /dev/fuse ] || fail "/dev/fuse missing: the guest kernel has no built-in fuse"
