#!/bin/bash
# Where 4 KiB O_DIRECT writes spend the guest's one CPU: the kernel's ext4
# against fuse-iomap-ext4 --bpf, on copies of one image, each profiled
# with perf (software cpu-clock, TCG has no PMU; call graphs) over fio
# random writes, in one guest boot:
#   overwrite  randwrite_4k_direct: a written 64 MiB file
#   prealloc   randwrite_4k_direct_prealloc: a file fallocated to 1 GiB
# Prints each run's IOPS, perf's top symbols by self time (the idle CPU
# left out), and the call chains into clear_page_erms (memory a write
# allocates).  Runs in the guest:
#   selftests/vm/boot --timeout 1200 -- bench/profile_write.sh
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/$("$REPO/scripts/target" --var BUILD)
W=/tmp/profile_write
SECS=${SECS:-15}

insmod "$BUILD/kmod/fuse_iomap.ko"
modprobe loop
modprobe ext4
mkdir -p "$W/ext4" "$W/iomap_bpf"
mke2fs -q -F -t ext4 -b 4096 "$W/ext4.img" 2G
mount -o loop "$W/ext4.img" "$W/ext4"
dd if=/dev/urandom of="$W/ext4/rewrite" bs=1M count=64 conv=fsync status=none
umount "$W/ext4"
cp --sparse=always "$W/ext4.img" "$W/iomap_bpf.img"
mount -o loop "$W/ext4.img" "$W/ext4"
"$BUILD/server/fuse-iomap-ext4" --bpf "$W/iomap_bpf.img" "$W/iomap_bpf" > "$W/bpf.out" 2>&1 &
for _ in $(seq 50); do mountpoint -q "$W/iomap_bpf" && break; sleep 0.2; done
mountpoint -q "$W/iomap_bpf" || { cat "$W/bpf.out"; exit 1; }
# The warm-up read publishes the file's extents to BPF, as in the bench.
cat "$W/iomap_bpf/rewrite" > /dev/null

run() {	# SYSTEM WORKLOAD
	local mnt=$W/$1 file args
	case $2 in
	overwrite) file=$mnt/rewrite args="--size=64M" ;;
	prealloc)  file=$mnt/prealloc args="--size=1G"
		   fallocate -l 1G "$file" ;;
	esac
	sync
	echo 3 > /proc/sys/vm/drop_caches
	perf record -q -e cpu-clock -a -g -o "$W/$1.$2.data" -- \
		fio --name=p --filename="$file" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=psync --time_based --runtime="$SECS" $args \
		--output-format=json > "$W/$1.$2.json" 2> "$W/$1.$2.perf.err"
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1]))["jobs"][0]["write"]
print("%s %s: %.0f IOPS" % (sys.argv[2], sys.argv[3], j["iops"]))' "$W/$1.$2.json" "$1" "$2"
	# The idle CPU (the guest has two) is left out.
	perf report -q -i "$W/$1.$2.data" --no-children --sort comm,symbol --percent-limit 0.7 \
		--stdio -g none 2> /dev/null | grep -v swapper | sed 's/ *$//' | head -n 25
	# Who clears pages: a write that allocates memory.
	perf report -q -i "$W/$1.$2.data" --no-children --symbols clear_page_erms --stdio \
		-g caller,0.5,callee,function,percent --percent-limit 0 2> /dev/null |
		sed 's/ *$//' | grep -v '^$' | head -n 30
	[ "$2" = prealloc ] && rm -f "$file"
	return 0
}

for w in overwrite prealloc; do
	for s in ext4 iomap_bpf; do
		run "$s" "$w"
	done
done
c=/sys/fs/fuseiomap/iomap/$(stat -c %d "$W/iomap_bpf")
echo "iomap_bpf upcalls: BEGIN $(cat "$c/iomap_begin_upcalls") END $(cat "$c/iomap_end_upcalls")" \
	"IOEND $(cat "$c/ioend_upcalls"), BPF ioends $(cat "$c/bpf_ioend_handled")"
umount "$W/iomap_bpf" "$W/ext4"
wait
