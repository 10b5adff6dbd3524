#!/bin/bash
# The core tests (selftests/CORE) pass on the deb13 kernel target:
# selftests/kernels-core makes its deps and its build, boots its kernel
# with its userland and runs CORE's tests there.  The log ends with the
# pass counts; any core test that fails or skips fails this one.
# Run by make check-kernels, on this machine (the target's root, if it
# has one, is entered by the build and the runner themselves).
# WHERE: machine
# RUN: named
# TIMEOUT: 3600
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/kernels.sh"

kernels_core deb13
