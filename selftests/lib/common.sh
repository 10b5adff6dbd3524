# Sourced by every test.  The runner (selftests/lib/run-tests) sets REPO,
# T_NAME, T_TMP (a fresh scratch directory), T_REASON and T_SERVERS.
# Contract: exit 0 = pass, 77 = skip, anything else = fail; fail/skip write
# the reason the runner prints.  A command that ends the test through
# set -e writes one too (the ERR trap below): the runner's fallback, the
# log's last line, is then never a cleanup's message.  The runner ends a
# failure's reason with the tail of each server log start_server named in
# T_SERVERS.
set -eu -o pipefail

# The kernel target's build tree and release (KTARGET, scripts/target).
eval "$("$REPO/scripts/target" | sed 's/^/T_/')"
BUILD=$REPO/$T_BUILD
# FI_KREL: the release of the kernel the guest booted when it is not the
# target's (make check-debug's).
KREL=${FI_KREL:-$T_KREL}
# FI_KMOD: another build of the module (install_dkms_build passes the
# one DKMS built through selftests/vm/boot --env).
KMOD=${FI_KMOD:-$BUILD/kmod/fuse_iomap.ko}
MEMFS=$BUILD/server/fuse-iomap-memfs
FI_CTL=/sys/fs/fuseiomap/connections

fail() { echo "$*" > "$T_REASON"; echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*" > "$T_REASON"; echo "SKIP: $*" >&2; exit 77; }
log() { echo "# $*" >&2; }

# set -e ended the test: say which command, unless fail() (perhaps in a
# command substitution) already said why.  errtrace: also for a command
# inside a function.  Not under set +e, where a test looks at $? itself.
_on_error() {
	local rc=$1 line=$2 cmd=$3
	[[ $- == *e* ]] || return 0
	[ -s "$T_REASON" ] && return 0
	echo "${BASH_SOURCE[1]##*/}: line $line: exit status $rc from: $cmd" > "$T_REASON"
}
set -o errtrace
trap '_on_error $? $LINENO "$BASH_COMMAND"' ERR

# defer CMD...: run CMD at exit, last deferred first, whatever the outcome.
_deferred=()
defer() { _deferred+=("$*"); }
_run_deferred() {
	local rc=$? i
	set +e
	for ((i = ${#_deferred[@]} - 1; i >= 0; i--)); do
		eval "${_deferred[i]}"
	done
	exit $rc
}
trap _run_deferred EXIT

. "$REPO/selftests/lib/nap.sh"

# wait_for SECS CMD...: poll until CMD succeeds; 1 after SECS seconds.
wait_for() {
	local end=$((EPOCHSECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$EPOCHSECONDS" -lt "$end" ] || return 1
		nap 0.1
	done
}

is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }
mount_type() { awk -v m="$1" '$2 == m { t = $3 } END { print t }' /proc/mounts; }
module_loaded() { grep -q "^$1 " /proc/modules; }

fi_load() {
	module_loaded fuse_iomap && return 0
	[ -f "$KMOD" ] || fail "$KMOD not built (run 'make all')"
	insmod "$KMOD" || fail "insmod $KMOD failed"
	if ! is_mounted "$FI_CTL"; then
		mount -t fuseiomapctl fuseiomapctl "$FI_CTL" || fail "can't mount fuseiomapctl on $FI_CTL"
	fi
}

fi_unload() {
	if is_mounted "$FI_CTL"; then
		umount "$FI_CTL" || fail "can't unmount $FI_CTL"
	fi
	module_loaded fuse_iomap || return 0
	# A released struct_ops map lets go of the module after a grace period.
	wait_for 30 rmmod fuse_iomap 2> "$T_TMP/rmmod.out" ||
		fail "rmmod fuse_iomap failed: $(tail -n1 "$T_TMP/rmmod.out")"
}

# start_server MNT LOG CMD...: run CMD (a server that mounts MNT) in the
# background and wait until MNT is mounted.  Sets SERVER_PID.  The server
# is killed at exit if the test has not stopped it.
start_server() {
	local mnt=$1 slog=$2
	shift 2
	mkdir -p "$mnt"
	"$@" > "$slog" 2>&1 &
	SERVER_PID=$!
	# The runner ends a failure's reason with this log's tail.
	[ -z "${T_SERVERS:-}" ] || echo "$slog" >> "$T_SERVERS"
	# disown: bash would report the kill ("line 26: PID Killed ...") on
	# the test's stderr, a line with nothing to say about the test.
	defer "disown $SERVER_PID 2>/dev/null; kill -9 $SERVER_PID 2>/dev/null; umount -l '$mnt' 2>/dev/null"
	if ! wait_for 30 is_mounted "$mnt"; then
		kill -0 $SERVER_PID 2>/dev/null || fail "server exited before mounting $mnt: $(tail -n1 "$slog")"
		fail "$mnt not mounted after 30s"
	fi
}

# stop_server MNT PID: unmount MNT and check the server exits cleanly.
stop_server() {
	local mnt=$1 pid=$2 rc=0
	umount "$mnt" || fail "can't unmount $mnt"
	wait_for 30 eval "! kill -0 $pid 2>/dev/null" || fail "server $pid still running 30s after umount of $mnt"
	wait "$pid" || rc=$?
	[ $rc = 0 ] || fail "server for $mnt exited with status $rc"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
