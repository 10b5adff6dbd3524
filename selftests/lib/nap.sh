# Sourced by the runner (run-tests) and by every test (common.sh).

# nap SECS: sleep without a fork (read times out on a pipe we also hold
# open for writing).  Under TCG a fork and exec of sleep(1) takes about
# 80 ms of the guest's CPU: a loop that polls with it, five or ten times
# a second, would spend a third of that CPU or more, which the test it
# waits for needs, on sleeping.
exec {_nap_fd}<> <(:)
nap() { read -rt "$1" -u "$_nap_fd" || :; }
