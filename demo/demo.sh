#!/bin/bash
# The demo, run inside the guest by 'make demo'.  Narrates each step.
set -eu -o pipefail
KMOD=build/kmod/fuse_iomap.ko
MEMFS=build/server/fuse-iomap-memfs
mnt=/tmp/demo/mnt

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "This is a QEMU guest running Debian's stock kernel $(uname -r)."
say "Load our module, fuse_iomap.ko: a renamed copy of the kernel's fuse that lives beside the built-in one."
run insmod "$KMOD"
run ls -l /dev/fuse /dev/fuse-iomap
run grep fuse /proc/filesystems

say "Start a minimal FUSE server (unmodified libfuse3) on the 'fuseiomap' file system, through /dev/fuse-iomap."
mkdir -p "$mnt"
"$MEMFS" "$mnt" &
server=$!
for _ in $(seq 50); do grep -q " $mnt " /proc/mounts && break; sleep 0.1; done
run grep " $mnt " /proc/mounts

say "Use it like any file system."
run sh -c "echo 'hello through fuse-iomap' > $mnt/greeting"
run cat "$mnt/greeting"
run mkdir "$mnt/docs"
run mv "$mnt/greeting" "$mnt/docs/"
run ln -s docs/greeting "$mnt/link"
run ls -l "$mnt" "$mnt/docs"
run stat -c '%n: %s bytes, mode %A' "$mnt/docs/greeting"

say "Unmount: the server sees the connection close and exits."
run umount "$mnt"
wait $server && echo "server exited cleanly"
run rmmod fuse_iomap
say "Module unloaded; the built-in fuse was never touched.  Next: iomap (file data moved by the kernel, not the server)."
