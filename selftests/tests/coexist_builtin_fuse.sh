#!/bin/bash
# The same server mounted through the stock /dev/fuse and through ours at
# the same time: both work, and unloading our module leaves the stock
# mount working.
# TIMEOUT: 90
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/basic_ops.sh"

fi_load
ours=$T_TMP/ours stock=$T_TMP/stock
start_server "$ours" "$T_TMP/ours.log" "$MEMFS" "$ours"
ours_pid=$SERVER_PID
start_server "$stock" "$T_TMP/stock.log" "$MEMFS" --stock "$stock"
stock_pid=$SERVER_PID
expect_eq "type of our mount" "$(mount_type "$ours")" fuseiomap.memfs
expect_eq "type of the stock mount" "$(mount_type "$stock")" fuse

basic_ops "$ours"
basic_ops "$stock"
echo ours > "$ours/who"
echo stock > "$stock/who"
expect_eq "our mount's file" "$(cat "$ours/who")" ours
expect_eq "stock mount's file" "$(cat "$stock/who")" stock

stop_server "$ours" "$ours_pid"
fi_unload
module_loaded fuse_iomap && fail "fuse_iomap still loaded"
expect_eq "stock mount after rmmod" "$(cat "$stock/who")" stock
mkdir "$stock/after"
basic_ops "$stock/after"
stop_server "$stock" "$stock_pid"
