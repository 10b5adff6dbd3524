#!/bin/bash
# A failing test's reason is its own, whatever its cleanup prints: fail()'s
# text, or for a command that ended it through set -e, that command (not
# bash's "line 26: PID Killed" for the server a deferred cleanup killed,
# the reason bpf_miss_falls_back once gave); either way it ends with the
# tail of the server's log.  Runs selftests/lib/run-tests on fixture tests
# in a scratch copy of the tree.
# WHERE: host
# TIMEOUT: 30
. "$REPO/selftests/lib/common.sh"

repo=$T_TMP/repo
mkdir -p "$repo/selftests/tests"
ln -s "$REPO/selftests/lib" "$repo/selftests/lib"
ln -s "$REPO/deps.pins" "$repo/deps.pins"
ln -s "$REPO/scripts" "$repo/scripts"

# A server that says something and stays up; mounting is not the point.
head='#!/bin/bash
. "$REPO/selftests/lib/common.sh"
is_mounted() { true; }
start_server "$T_TMP/mnt" "$T_TMP/srv.out" sh -c "echo serving; echo BEGIN 12 0 4096; echo last words; exec sleep 100"
sleep 0.2'
printf '%s\n%s\n' "$head" 'expect_eq upcalls 2 1' > "$repo/selftests/tests/fx_fail.sh"
printf '%s\n%s\n%s\n' "$head" 'inner() { false; }' 'inner' > "$repo/selftests/tests/fx_errexit.sh"
printf '%s\n%s\n' "$head" 'v=$(yes | head -c 200000 | awk "{ exit }")' > "$repo/selftests/tests/fx_sigpipe.sh"

"$repo/selftests/lib/run-tests" host "$T_TMP/out" fx_fail fx_errexit fx_sigpipe > "$T_TMP/run.out" 2>&1
tail_='server log srv.out: serving / BEGIN 12 0 4096 / last words'
reason() { awk -F'\t' -v n="$1" '$2 == n { print $4 }' "$T_TMP/out/results.raw"; }
expect_eq "fx_fail's reason" "$(reason fx_fail)" "upcalls: got '2', want '1'; $tail_"
expect_eq "fx_errexit's reason" "$(reason fx_errexit)" "fx_errexit.sh: line 6: exit status 1 from: false; $tail_"
expect_eq "fx_sigpipe's reason" "$(reason fx_sigpipe)" \
	"fx_sigpipe.sh: line 6: exit status 141 from: v=\$(yes | head -c 200000 | awk \"{ exit }\"); $tail_"
! grep -q Killed "$T_TMP/out/logs/"fx_*.log || fail "a test's log has bash's job report: $(grep -h Killed "$T_TMP/out/logs/"fx_*.log)"
