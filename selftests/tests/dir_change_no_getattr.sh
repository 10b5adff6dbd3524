#!/bin/bash
# Creating and removing files asks the server nothing about their
# directory: fuse drops every attribute of a directory whose entries
# change, so the next permission check (default_permissions) made a
# GETATTR after each create and each unlink.  An iomap server's directory
# keeps its mode and owner across such a change, as on a kernel file
# system.  Counted in fuse-iomap-ext4 -d's request trace over 64 rounds of
# create, write 4 KiB, fsync, unlink.  What must stay right is run
# beside the kernel's ext4: the directory's link count after mkdir and
# rmdir, its mtime moving at each create and unlink, and a chmod of the
# directory taking effect at once for an unprivileged user.
# TIMEOUT: 180
. "$REPO/selftests/lib/common.sh"
. "$REPO/selftests/lib/iomap.sh"
. "$REPO/selftests/lib/ext4.sh"

chmod 755 "$T_TMP" "$(dirname "$T_TMP")"
ext4_beside_kernel 64M -d --bpf

# mtime_moves DIR CMD...: "moved" if CMD changes DIR's mtime.
mtime_moves() {
	local d=$1
	shift
	touch -d '2000-01-01 00:00:00' "$d"
	"$@"
	[ "$(stat -c %Y "$d")" != 946684800 ] && echo moved || echo stayed
}

# steps BASE: prints what a user sees of BASE/d.
steps() {
	local d=$1/d
	mkdir "$d" && chmod 777 "$d"
	mkdir "$d/sub1" "$d/sub2"
	stat -c 'nlink %h' "$d"
	rmdir "$d/sub1"
	stat -c 'nlink %h' "$d"
	echo "create $(mtime_moves "$d" touch "$d/f")"
	echo "unlink $(mtime_moves "$d" rm "$d/f")"
	echo "rename $(mtime_moves "$d" mv "$d/sub2" "$d/sub3")"
	chmod 755 "$d"
	setpriv --reuid=nobody --regid=nogroup --clear-groups touch "$d/g" 2> /dev/null &&
		echo "nobody creates in 755" || echo "nobody refused in 755"
	chmod 777 "$d"
	setpriv --reuid=nobody --regid=nogroup --clear-groups touch "$d/g" 2> /dev/null &&
		echo "nobody creates in 777" || echo "nobody refused in 777"
}
want=$(steps "$T_TMP/ref" | paste -sd,)
got=$(steps "$T_TMP/mnt" | paste -sd,)
expect_eq "what a user sees of the directory (kernel ext4: $want)" "$got" "$want"

before=$(srv_requests GETATTR)
python3 - "$T_TMP/mnt/d" <<'PY'
import os, sys
block = os.urandom(4096)
for i in range(64):
    p = os.path.join(sys.argv[1], "r%d" % i)
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, block)
    os.fsync(fd)
    os.close(fd)
    os.unlink(p)
PY
after=$(srv_requests GETATTR)
expect_eq "GETATTR upcalls in 64 rounds of create, write, fsync, unlink" $((after - before)) 0
stop_server "$T_TMP/mnt" "$SERVER_PID"
ext4_fsck_clean "$T_TMP/ours.img"
log "the directory as on the kernel's ext4 ($got); no GETATTR in 64 rounds"
