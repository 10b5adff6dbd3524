# Sourced by the kernels_core_* tests (make check-kernels).

# kernels_core TARGET: selftests/kernels-core TARGET (the target's deps,
# build and guests, then CORE's tests there); its lines go to the log,
# its counts into the reason if it fails.
kernels_core() {
	local t=$1 rc=0
	"$REPO/selftests/kernels-core" "$t" > "$T_TMP/core.out" 2>&1 < /dev/null || rc=$?
	cat "$T_TMP/core.out" >&2
	[ $rc = 0 ] || fail "$(grep '^FAIL ' "$T_TMP/core.out" | head -n3 | tr '\n' ' ')$(tail -n1 "$T_TMP/core.out")"
	log "$(tail -n1 "$T_TMP/core.out")"
}
