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
#   fallthrough OURS KERN CONNDIR pre|main|detached
#   badmap FILE DATA DEV CONNDIR
#   coherent OURS-FILE KERN-FILE DEV CONNDIR BLOCK:DEVBLOCK0:DEVBLOCK1...
#	the reads and counter checks of simple_read_fallthrough,
#	simple_read_bad_mapping and simple_read_page_cache_coherent, in one
#	process each (a process per read costs seconds under TCG).
# Every failure exits non-zero with one line saying what differed.
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


def ctr(cdir, name):
	with open(os.path.join(cdir, name)) as f:
		return int(f.read())


def result(path, pos, length, mode=""):
	"""What cmd_read prints, as a string."""
	fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
	r = dio_read(fd, pos, length, os.RWF_NOWAIT if mode == "nowait" else 0,
		     mode == "misaligned")
	os.close(fd)
	if isinstance(r, int):
		return "err " + errno.errorcode.get(r, str(r))
	return "ok %d %s" % (len(r), hashlib.sha256(r).hexdigest())


def check(ours, kern, cdir, what, delta, name, pos, length, mode="", want=None):
	"""The read on OURS gives what it gives on KERN (or WANT), and
	simple_reads moves by DELTA."""
	c0 = ctr(cdir, "simple_reads")
	got = result(os.path.join(ours, name), pos, length, mode)
	c1 = ctr(cdir, "simple_reads")
	if want is None:
		want = result(os.path.join(kern, name), pos, length, mode)
	if got != want:
		sys.exit("%s (%s at %d, %d bytes%s): got %s, want %s" %
			 (what, name, pos, length, " " + mode if mode else "", got, want))
	if c1 - c0 != delta:
		sys.exit("%s: simple_reads moved by %d, want %d" % (what, c1 - c0, delta))
	print("# %s: %s, simple_reads +%d" % (what, got[:40], c1 - c0), file=sys.stderr)
	return got


def cmd_fallthrough(args):
	"""OURS KERN CONNDIR pre|main|detached: simple_read_fallthrough's reads."""
	ours, kern, cdir, phase = args
	med, small = "dir/medium", "small"
	size = os.stat(os.path.join(kern, small)).st_size
	tail = size // BLK * BLK
	if size % BLK == 0:
		sys.exit("small's size %d is a block multiple" % size)
	ck = lambda *a, **k: check(ours, kern, cdir, *a, **k)
	if phase == "pre":
		ck("NOWAIT, no BPF answer", 0, med, 8192, BLK, "nowait", want="err EAGAIN")
		b0 = ctr(cdir, "iomap_begin_upcalls")
		ck("no BPF answer (warm-up)", 0, med, 4096, BLK)
		if ctr(cdir, "iomap_begin_upcalls") <= b0:
			sys.exit("the warm-up read made no upcall")
		ck("no BPF answer (warm-up)", 0, small, 0, BLK)
	elif phase == "main":
		ck("qualifying read", 1, med, 40960, BLK)
		plain = result(os.path.join(kern, med), 49152, BLK)
		ck("qualifying NOWAIT read", 1, med, 49152, BLK, "nowait", want=plain)
		ck("512 bytes at 512", 0, med, 512, 512)
		# Aligned and no larger than a block: this one qualifies.
		ck("512 bytes at 4096 (qualifies)", 1, med, 4096, 512)
		ck("8 KiB", 0, med, 8192, 8192)
		ck("64 KiB", 0, med, 64 * BLK, 65536)
		ck("misaligned buffer", 0, med, 16384, BLK, "misaligned", want="err EINVAL")
		ck("tail block (crosses EOF)", 0, small, tail, BLK,
		   want=result(os.path.join(kern, small), tail, BLK))
		if not result(os.path.join(ours, small), tail, BLK).startswith("ok %d " % (size - tail)):
			sys.exit("the tail block's read is not %d bytes" % (size - tail))
		ck("8 KiB across EOF", 0, small, tail - BLK, 2 * BLK)
		ck("past EOF", 0, small, tail + BLK, BLK, want="ok 0 " + hashlib.sha256(b"").hexdigest())
		knob = os.path.join(cdir, "simple_read")
		with open(knob, "w") as f:
			f.write("0")
		try:
			if open(knob).read().strip() != "0":
				sys.exit("simple_read reads %r after writing 0" % open(knob).read())
			ck("knob 0", 0, med, 20480, BLK)
			plain = result(os.path.join(kern, med), 24576, BLK)
			ck("knob 0, NOWAIT", 0, med, 24576, BLK, "nowait", want=plain)
			ck("knob 0, small", 0, small, 8192, BLK)
		finally:
			with open(knob, "w") as f:
				f.write("1")
		if open(knob).read().strip() != "1":
			sys.exit("simple_read reads %r after writing 1" % open(knob).read())
		ck("knob back at 1", 1, med, 20480, BLK)
	elif phase == "detached":
		b0 = ctr(cdir, "iomap_begin_upcalls")
		ck("detached", 0, med, 28672, BLK)
		ck("detached, small", 0, small, 12288, BLK)
		if ctr(cdir, "iomap_begin_upcalls") < b0 + 2:
			sys.exit("reads with the program detached made no upcalls")


def cmd_badmap(args):
	"""FILE DATA DEV CONNDIR: simple_read_bad_mapping's reads (see there)."""
	path, data, dev, cdir = args
	with open(data, "rb") as f:
		want = f.read()
	fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
	def rd(b):
		return dio_read(fd, b * BLK, BLK)
	def delta(before, name):
		return ctr(cdir, name) - before[name]
	def snap(*names):
		return {n: ctr(cdir, n) for n in names}
	# The control: block 16's valid answer, through the simple path.
	s = snap("simple_reads", "mappings_rejected")
	got = rd(16)
	dfd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
	devb = dio_read(dfd, 40960, BLK)
	os.close(dfd)
	if got != devb:
		sys.exit("block 16 (valid answer): %s" % (os.strerror(got) if isinstance(got, int)
							   else "differs from the device at 40960"))
	if delta(s, "simple_reads") != 1 or delta(s, "mappings_rejected") != 0:
		sys.exit("block 16 (valid answer): simple_reads +%d, rejections +%d; want +1, +0" %
			 (delta(s, "simple_reads"), delta(s, "mappings_rejected")))
	rules = ["type", "flags", "length", "overflow", "align", "need_dev", "unexpected_dev",
		 "pos", "dev_unknown", "dev_range", "inline"]
	for b, rule in enumerate(rules, 1):
		r = "rejected/" + rule
		s = snap("simple_reads", "mappings_rejected", "bpf_rejected", r)
		got = rd(b)
		if got != errno.EIO:
			sys.exit("block %d (%s): want EIO, got %s" %
				 (b, rule, os.strerror(got) if isinstance(got, int) else "%d bytes" % len(got)))
		for n, d in ((r, 1), ("mappings_rejected", 1), ("bpf_rejected", 1), ("simple_reads", 0)):
			if delta(s, n) != d:
				sys.exit("block %d (%s): %s moved by %d, want %d" % (b, rule, n, delta(s, n), d))
		print("# block %d (%s): EIO, counted once" % (b, rule), file=sys.stderr)
	s = snap("simple_reads", "bpf_errors")
	for b, e in ((12, errno.EIO), (13, errno.ENOSPC)):
		got = rd(b)
		if got != e:
			sys.exit("block %d: want %s, got %s" % (b, os.strerror(e),
				 os.strerror(got) if isinstance(got, int) else "%d bytes" % len(got)))
	if delta(s, "bpf_errors") != 2 or delta(s, "simple_reads") != 0:
		sys.exit("blocks 12, 13: bpf_errors +%d, simple_reads +%d; want +2, +0" %
			 (delta(s, "bpf_errors"), delta(s, "simple_reads")))
	s = snap("simple_reads", "bpf_fallbacks")
	for b in (0, 15):
		got = rd(b)
		if got != want[b * BLK:(b + 1) * BLK]:
			sys.exit("block %d (no answer, upcall): %s" % (b, os.strerror(got) if isinstance(got, int)
								       else "bytes differ"))
	if delta(s, "simple_reads") != 0 or delta(s, "bpf_fallbacks") < 2:
		sys.exit("blocks 0, 15 (no answer): simple_reads +%d, bpf_fallbacks +%d; want +0, >= +2" %
			 (delta(s, "simple_reads"), delta(s, "bpf_fallbacks")))
	os.close(fd)


def cmd_coherent(args):
	"""OURS-FILE KERN-FILE DEV CONNDIR BLOCK:DEVBLOCK0:DEVBLOCK1...: for
	each, 8 KiB written at BLOCK of both files through the page cache
	(pwrite(2) in even rounds, stores into a shared mapping, kept until
	after the reads, in odd ones), then O_DIRECT reads of its two blocks:
	see simple_read_page_cache_coherent.  Prints the reads and the rounds
	whose pages were still dirty (the device had the old bytes) when the
	reads began."""
	ours, kern, dev, cdir = args[:4]
	rnd = random.Random(7)
	ofd_b = os.open(ours, os.O_RDWR)
	kfd_b = os.open(kern, os.O_RDWR)
	ofd = os.open(ours, os.O_RDONLY | os.O_DIRECT)
	kfd = os.open(kern, os.O_RDONLY | os.O_DIRECT)
	dfd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
	reads = dirty = 0
	for rnum, spec in enumerate(args[4:]):
		b, d0, d1 = map(int, spec.split(":"))
		new = rnd.randbytes(2 * BLK)
		maps = []
		for wfd in (ofd_b, kfd_b):		# no sync
			if rnum % 2 == 0:
				os.pwrite(wfd, new, b * BLK)
			else:
				m = mmap.mmap(wfd, 2 * BLK, offset=b * BLK)
				m[:] = new
				maps.append(m)
		how = "mmap" if maps else "pwrite"
		clean = [dio_read(dfd, d * BLK, BLK) == new[i * BLK:(i + 1) * BLK]
			 for i, d in enumerate((d0, d1))]
		if any(clean):
			print("# block %d (%s): written back before the read" % (b, how), file=sys.stderr)
		else:
			print("# block %d (%s): still dirty at the read" % (b, how), file=sys.stderr)
			dirty += 1
		c0 = ctr(cdir, "simple_reads")
		for i, d in enumerate((d0, d1)):
			got = dio_read(ofd, (b + i) * BLK, BLK)
			reads += 1
			if got != new[i * BLK:(i + 1) * BLK]:
				sys.exit("block %d: the O_DIRECT read did not see the dirty page cache (%s)" %
					 (b + i, os.strerror(got) if isinstance(got, int) else "other bytes"))
			if dio_read(kfd, (b + i) * BLK, BLK) != got:
				sys.exit("block %d: the kernel's ext4 reads other bytes than ours" % (b + i))
			if dio_read(dfd, d * BLK, BLK) != got:
				sys.exit("block %d: the device does not have the written bytes after the read (no flush?)" % (b + i))
		if ctr(cdir, "simple_reads") - c0 != 2:
			sys.exit("blocks %d-%d: simple_reads moved by %d for 2 reads" %
				 (b, b + 1, ctr(cdir, "simple_reads") - c0))
		for m in maps:
			m.close()
	print(reads, dirty)


if __name__ == "__main__":
	cmds = {"read": cmd_read, "compare": cmd_compare, "zeros": cmd_zeros,
		"pattern": cmd_pattern, "race": cmd_race, "fallthrough": cmd_fallthrough,
		"badmap": cmd_badmap, "coherent": cmd_coherent}
	if len(sys.argv) < 2 or sys.argv[1] not in cmds:
		sys.exit("usage: simple_read_io.py read|compare|zeros|pattern|race|fallthrough|badmap|coherent ...")
	cmds[sys.argv[1]](sys.argv[2:])
