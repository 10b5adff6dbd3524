#!/usr/bin/env python3
# O_DIRECT reads for the simple_read_* tests, into page-aligned (mmap)
# buffers.
#
#   read FILE POS LEN [nowait|misaligned]
#	one O_DIRECT preadv2 of LEN bytes at POS; prints "ok N SHA256" (N
#	bytes read, the hash of those bytes) or "err ERRNO-NAME".  nowait
#	passes RWF_NOWAIT; misaligned reads into a buffer one byte past a
#	page boundary.
#   compare OURS KERN SEED N FILE...
#	N random block-aligned 4 KiB O_DIRECT reads per FILE (paths relative
#	to OURS and KERN), only of blocks wholly inside the file; each must
#	read 4096 bytes equal to the same bytes read from KERN.  Prints the
#	number of reads issued.
#   zeros FILE BLOCK...
#	O_DIRECT 4 KiB reads of those blocks: each must read 4096 zero bytes.
#	Prints the number of reads issued.
#   pattern GEN BLOCK
#	the 4 KiB test pattern of that block and generation, on stdout.
#   race FILE SECONDS READERS MAXBLOCKS
#	a writer (overwrites, extending writes over gaps, shrinking and
#	regrowing truncates) against READERS O_DIRECT 4 KiB readers of FILE;
#	every 512-byte sector a reader gets must be zeros or the pattern of
#	its block for a generation the writer has begun.  Prints "reads N
#	ops N zero-sectors N"; exits 1 with the first bad sector described.
import errno
import hashlib
import mmap
import os
import random
import sys
import time

BLK = 4096
SECT = 512


def dio_read(fd, pos, length, flags=0, misaligned=False):
	"""bytes read, or an OSError's errno."""
	size = (length + 2 * mmap.PAGESIZE) // mmap.PAGESIZE * mmap.PAGESIZE
	mm = mmap.mmap(-1, size)
	try:
		off = 1 if misaligned else 0
		view = memoryview(mm)[off:off + length]
		try:
			n = os.preadv(fd, [view], pos, flags)
		except OSError as e:
			view.release()
			return e.errno
		data = bytes(view[:n])
		view.release()
		return data
	finally:
		mm.close()


def pattern(gen, blk):
	out = bytearray()
	for s in range(BLK // SECT):
		rec = b"gen%07d blk%07d sec%d|" % (gen, blk, s)
		out += (rec * (SECT // len(rec) + 1))[:SECT]
	return bytes(out)


def cmd_read(args):
	path, pos, length = args[0], int(args[1]), int(args[2])
	mode = args[3] if len(args) > 3 else ""
	fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
	r = dio_read(fd, pos, length, os.RWF_NOWAIT if mode == "nowait" else 0,
		     mode == "misaligned")
	os.close(fd)
	if isinstance(r, int):
		print("err", errno.errorcode.get(r, str(r)))
	else:
		print("ok", len(r), hashlib.sha256(r).hexdigest())


def cmd_compare(args):
	ours, kern, seed, n = args[0], args[1], int(args[2]), int(args[3])
	rnd = random.Random(seed)
	reads = 0
	for name in args[4:]:
		size = os.stat(os.path.join(kern, name)).st_size
		blocks = size // BLK
		if blocks == 0:
			sys.exit("%s: no whole block" % name)
		fd = os.open(os.path.join(ours, name), os.O_RDONLY | os.O_DIRECT)
		with open(os.path.join(kern, name), "rb") as k:
			for _ in range(n):
				b = rnd.randrange(blocks)
				got = dio_read(fd, b * BLK, BLK)
				reads += 1
				k.seek(b * BLK)
				want = k.read(BLK)
				if isinstance(got, int):
					sys.exit("%s block %d: %s" % (name, b, os.strerror(got)))
				if got != want:
					sys.exit("%s block %d: %d bytes differ from the kernel's (%d bytes)" %
						 (name, b, len(got), len(want)))
		os.close(fd)
	print(reads)


def cmd_zeros(args):
	fd = os.open(args[0], os.O_RDONLY | os.O_DIRECT)
	reads = 0
	for b in map(int, args[1:]):
		got = dio_read(fd, b * BLK, BLK)
		reads += 1
		if isinstance(got, int):
			sys.exit("%s block %d: %s" % (args[0], b, os.strerror(got)))
		if got != bytes(BLK):
			sys.exit("%s block %d: not zeros (%d bytes, first %r)" % (args[0], b, len(got), got[:16]))
	os.close(fd)
	print(reads)


def cmd_pattern(args):
	sys.stdout.buffer.write(pattern(int(args[0]), int(args[1])))


def race_writer(path, end, maxblocks, gen_val, ops_val):
	rnd = random.Random(1234)
	fd = os.open(path, os.O_RDWR | os.O_DIRECT)
	bfd = os.open(path, os.O_RDWR)		# buffered, some of the writes
	mm = mmap.mmap(-1, 16 * BLK)
	gen = 0
	while time.time() < end:
		size = os.fstat(fd).st_size // BLK
		op = rnd.randrange(10)
		gen += 1
		with gen_val.get_lock():
			gen_val.value = gen
		if op < 3 and size > 0:		# overwrite inside the file
			first = rnd.randrange(size)
			n = min(rnd.randint(1, 4), size - first)
		elif op < 6:			# extend: at EOF or past it (a gap)
			first = size + rnd.choice([0, 0, 1, 3])
			n = rnd.randint(1, 8)
		elif op < 8:			# shrink
			os.ftruncate(fd, rnd.randrange(size + 1) * BLK)
			ops_val.value += 1
			continue
		else:				# regrow over a hole
			os.ftruncate(fd, min(maxblocks, size + rnd.randint(1, 16)) * BLK)
			ops_val.value += 1
			continue
		if first + n > maxblocks:
			os.ftruncate(fd, rnd.randrange(maxblocks // 2) * BLK)
			ops_val.value += 1
			continue
		data = b"".join(pattern(gen, b) for b in range(first, first + n))
		if rnd.randrange(4) == 0:
			os.pwrite(bfd, data, first * BLK)
		else:
			mm[:len(data)] = data
			with memoryview(mm)[:len(data)] as v:
				os.pwritev(fd, [v], first * BLK)
		ops_val.value += 1
	os.close(fd)
	os.close(bfd)


def race_reader(path, end, maxblocks, gen_val, seed, out):
	rnd = random.Random(seed)
	fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
	reads = zero = 0
	while time.time() < end:
		b = rnd.randrange(maxblocks)
		got = dio_read(fd, b * BLK, BLK)
		gen_now = gen_val.value
		reads += 1
		if isinstance(got, int):
			out.put("error: block %d: %s" % (b, os.strerror(got)))
			return
		if len(got) % SECT:
			out.put("error: block %d: a read of %d bytes (not whole sectors)" % (b, len(got)))
			return
		for s in range(len(got) // SECT):
			sect = got[s * SECT:(s + 1) * SECT]
			if sect == bytes(SECT):
				zero += 1
				continue
			ok = False
			if sect.startswith(b"gen"):
				try:
					g = int(sect[3:10])
				except ValueError:
					g = -1
				ok = 1 <= g <= gen_now and sect == pattern(g, b)[s * SECT:(s + 1) * SECT]
			if not ok:
				what = "STALE device bytes" if b"STALE" in sect else "unexpected bytes"
				out.put("error: block %d sector %d (read %d bytes): %s: %r" %
					(b, s, len(got), what, sect[:40]))
				return
	os.close(fd)
	out.put("ok %d %d" % (reads, zero))


def cmd_race(args):
	import multiprocessing as mp
	path, secs, readers, maxblocks = args[0], float(args[1]), int(args[2]), int(args[3])
	end = time.time() + secs
	gen_val = mp.Value("q", 0)
	ops_val = mp.Value("q", 0)
	out = mp.Queue()
	w = mp.Process(target=race_writer, args=(path, end, maxblocks, gen_val, ops_val))
	rs = [mp.Process(target=race_reader, args=(path, end, maxblocks, gen_val, 100 + i, out))
	      for i in range(readers)]
	w.start()
	for r in rs:
		r.start()
	results = [out.get(timeout=secs + 120) for _ in rs]
	for r in rs:
		r.join()
	w.join()
	bad = [r for r in results if not r.startswith("ok")]
	if bad:
		sys.exit(bad[0])
	if w.exitcode != 0:
		sys.exit("the writer failed (exit %d)" % w.exitcode)
	reads = sum(int(r.split()[1]) for r in results)
	zero = sum(int(r.split()[2]) for r in results)
	print("reads %d ops %d zero-sectors %d" % (reads, ops_val.value, zero))


if __name__ == "__main__":
	cmds = {"read": cmd_read, "compare": cmd_compare, "zeros": cmd_zeros,
		"pattern": cmd_pattern, "race": cmd_race}
	if len(sys.argv) < 2 or sys.argv[1] not in cmds:
		sys.exit("usage: simple_read_io.py read|compare|zeros|pattern|race ...")
	cmds[sys.argv[1]](sys.argv[2:])
