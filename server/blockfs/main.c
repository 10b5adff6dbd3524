// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-blockfs: the command line, the devices, and serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

#include "blockfs.h"

static const struct fi_iomap_ops bfs_iomap_ops = {
	.begin = bfs_begin,
	.end = bfs_end,
	.ioend = bfs_ioend,
	.extents = bfs_extents,
	.reports_changes = true,
	.syncfs = bfs_syncfs,
};

static void bfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Truncation must come as SETATTR, after the kernel dropped the page
	 * cache past the new size; and cached pages stay valid across opens. */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_AUTO_INVAL_DATA);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-blockfs [OPTIONS] DEVICE MOUNTPOINT\n"
"       fuse-iomap-blockfs --stripe N:CHUNK [OPTIONS] DEVICE... MOUNTPOINT\n"
"\n"
"Serve a file system whose file data lives on DEVICE (a block device, or an\n"
"image file, which gets a loop device of its own), at\n"
"MOUNTPOINT, through the iomap data path of fuse_iomap.ko: the kernel asks\n"
"this server only where file ranges live on DEVICE and moves the data\n"
"itself.  Metadata (names, attributes, extents) lives in memory.  Runs in\n"
"the foreground until MOUNTPOINT is unmounted (or SIGINT/SIGTERM/SIGHUP).\n"
"Needs root (CAP_SYS_ADMIN and CAP_SYS_RAWIO).  DEVICE is held open\n"
"exclusively while served, so the kernel refuses to mount it; a DEVICE\n"
"that is mounted or held open exclusively is refused.\n"
"\n"
"Blocks are overwritten in place.  A write into a hole allocates at least\n"
"64 blocks (fewer if the next extent is nearer), also past the end of the\n"
"file, as unwritten extents: they read as zeros until data written to them\n"
"reaches DEVICE (the kernel's FUSE_IOMAP_IOEND), and so does a larger\n"
"size.  Truncating frees the blocks past the new size.\n"
"\n"
"With --stripe, file data is striped over N DEVICEs, famfs-style: the\n"
"file's chunk c (CHUNK bytes from c * CHUNK) lives on the (c %% N)th\n"
"DEVICE.  A write into a hole allocates the rest of its chunk, unwritten\n"
"as above; each chunk is one extent (or more, where its device had no\n"
"contiguous run).  The side file names each extent's device by its place\n"
"on the command line: serve the DEVICEs in the same order again.\n"
"\n"
"Options:\n"
"  -s, --block-size N   file system block size, 512..4096 (default 4096)\n"
"  -m, --meta FILE      load the metadata from FILE if it exists, save it\n"
"                       there on fsync, fsyncdir, syncfs and exit, after\n"
"                       flushing DEVICE (otherwise the file system starts\n"
"                       empty and is forgotten): a server that is killed\n"
"                       keeps what was fsync'd.  Freed blocks are reused\n"
"                       only after the next save (one is made when space\n"
"                       runs out).  Refused at start if FILE.tmp can't be\n"
"                       created next to it\n"
"  -S, --stripe N:CHUNK stripe over N DEVICEs (2 to 16) in chunks of CHUNK\n"
"                       bytes (a multiple of the block size; a K or M\n"
"                       suffix multiplies by 1024 or 1048576); not with\n"
"                       --out-of-place\n"
"  -o, --out-of-place   write every write to newly allocated blocks, which\n"
"                       replace the old ones once the data is on DEVICE\n"
"                       (FUSE_IOMAP_IOEND): until then the file reads its\n"
"                       old blocks; holes get just the blocks written,\n"
"                       nothing unwritten\n"
"  -b, --bpf            answer mappings inside the kernel too: load the\n"
"                       extent_map BPF program, attach it to this mount and\n"
"                       keep each file's extents in its store; in place it\n"
"                       also answers writes into unwritten extents and takes\n"
"                       their ioends, queued for this server\n"
"  -q, --ioend-queue BYTES\n"
"                       with --bpf: the size of that queue (default 262144;\n"
"                       rounded up to a power of two of at least a page, 64\n"
"                       bytes an ioend); when it is full the kernel sends\n"
"                       ioends to this server instead\n"
"  -l, --log FILE       append one line per FUSE_IOMAP_BEGIN, END and IOEND\n"
"                       to FILE, one per queued ioend applied (QIOEND) and\n"
"                       one per FSYNC\n"
"  -t, --threads N      answer requests from N threads (default 1); the log\n"
"                       lines then say which thread and how many requests\n"
"                       were in progress\n"
"  -d, --debug          print every request (libfuse debug output)\n"
"  -h, --help           print this help and exit\n"
"  -V, --version        print the version and exit\n");
}

struct bfs_opts {
	unsigned int bs;
	const char *meta, *log, *mnt;
	const char *dev[BFS_MAX_DEVS];
	unsigned int ndev;		/* --stripe's N, else 1 */
	uint64_t chunk;			/* --stripe's CHUNK in bytes, else 0 */
	unsigned int threads;
	uint32_t ioend_queue;		/* bytes, 0 = the library's default */
	bool oop, debug, bpf;
};

/* --stripe N:CHUNK */
static int bfs_parse_stripe(const char *arg, struct bfs_opts *o)
{
	unsigned long n;
	uint64_t chunk;
	char *end;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end != ':' || n < 2 || n > BFS_MAX_DEVS)
		goto bad;
	chunk = strtoull(end + 1, &end, 10);
	if (errno || end == strchr(arg, ':') + 1)
		goto bad;
	if (*end == 'K' || *end == 'k')
		chunk <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		chunk <<= 20, end++;
	if (*end || !chunk || chunk > 1ULL << 30)
		goto bad;
	o->ndev = n;
	o->chunk = chunk;
	return 0;
bad:
	fprintf(stderr, "fuse-iomap-blockfs: bad --stripe '%s': want N:CHUNK, N from 2 to %u devices, CHUNK from one block to 1G bytes\n",
		arg, BFS_MAX_DEVS);
	return -1;
}

static int bfs_parse(int argc, char *argv[], struct bfs_opts *o)
{
	static const struct option longopts[] = {
		{ "block-size", required_argument, NULL, 's' },
		{ "stripe", required_argument, NULL, 'S' },
		{ "meta", required_argument, NULL, 'm' },
		{ "out-of-place", no_argument, NULL, 'o' },
		{ "bpf", no_argument, NULL, 'b' },
		{ "log", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "ioend-queue", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long ul;
	char *end;
	int c;

	*o = (struct bfs_opts){ .bs = 4096, .ndev = 1 };
	while ((c = getopt_long(argc, argv, "s:S:m:obl:t:q:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			errno = 0;
			o->bs = strtoul(optarg, &end, 0);
			if (errno || *end || o->bs < 512 || o->bs > 4096 || (o->bs & (o->bs - 1))) {
				fprintf(stderr, "fuse-iomap-blockfs: bad block size '%s': want a power of 2 from 512 to 4096\n", optarg);
				return 2;
			}
			break;
		case 'S':
			if (bfs_parse_stripe(optarg, o))
				return 2;
			break;
		case 'm':
			o->meta = optarg;
			break;
		case 'o':
			o->oop = true;
			break;
		case 'b':
			o->bpf = true;
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 't':
			errno = 0;
			o->threads = strtoul(optarg, &end, 0);
			if (errno || *end || o->threads < 1 || o->threads > 64) {
				fprintf(stderr, "fuse-iomap-blockfs: bad thread count '%s': want 1 to 64\n", optarg);
				return 2;
			}
			break;
		case 'q':
			errno = 0;
			ul = strtoul(optarg, &end, 0);
			if (errno || *end || !*optarg || ul < 1 || ul > FI_IOEND_QUEUE_MAX) {
				fprintf(stderr, "fuse-iomap-blockfs: bad ioend queue size '%s': want 1 to %u bytes\n",
					optarg, FI_IOEND_QUEUE_MAX);
				return 2;
			}
			o->ioend_queue = ul;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fuse-iomap-blockfs %s\n", FI_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != (int)o->ndev + 1) {
		if (o->chunk)
			fprintf(stderr, "fuse-iomap-blockfs: --stripe %u: expected %u DEVICEs and MOUNTPOINT\n",
				o->ndev, o->ndev);
		else
			fprintf(stderr, "fuse-iomap-blockfs: expected DEVICE and MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	if (o->ioend_queue && !o->bpf) {
		fprintf(stderr, "fuse-iomap-blockfs: --ioend-queue needs --bpf\n");
		return 2;
	}
	if (o->chunk && o->oop) {
		fprintf(stderr, "fuse-iomap-blockfs: --stripe does not go with --out-of-place\n");
		return 2;
	}
	if (o->chunk % o->bs) {
		fprintf(stderr, "fuse-iomap-blockfs: stripe chunk %" PRIu64 " is not a multiple of the block size %u\n",
			o->chunk, o->bs);
		return 2;
	}
	for (unsigned int k = 0; k < o->ndev; k++)
		o->dev[k] = argv[optind + k];
	o->mnt = argv[optind + o->ndev];
	return -1;
}

/*
 * Open @path (a device or an image: fi_open_device) as the next device and
 * size its allocator from it.
 */
static int bfs_open_dev(struct blockfs *bfs, const char *path)
{
	struct bfs_dev *d = &bfs->dev[bfs->ndev];
	uint64_t bytes;
	int fd, err;

	fd = fi_open_device("fuse-iomap-blockfs", path, true);
	if (fd < 0)
		return fd;
	if (ioctl(fd, BLKGETSIZE64, &bytes)) {
		err = errno;
		fprintf(stderr, "fuse-iomap-blockfs: can't get the size of %s: %s\n", path,
			strerror(err));
		close(fd);
		return -err;
	}
	err = balloc_init(&d->alloc, bytes >> bfs->bbits);
	if (err) {
		fprintf(stderr, "fuse-iomap-blockfs: can't size the allocator for %s: %s\n", path,
			strerror(-err));
		close(fd);
		return err;
	}
	d->fd = fd;
	d->path = path;
	bfs->ndev++;
	return 0;
}

static void bfs_close_devs(struct blockfs *bfs)
{
	for (unsigned int k = 0; k < bfs->ndev; k++) {
		close(bfs->dev[k].fd);
		ext_free(&bfs->dev[k].freed);
		balloc_destroy(&bfs->dev[k].alloc);
	}
}

/* Register every device with the library, which gives each its cookie. */
static int bfs_add_devs(struct blockfs *bfs)
{
	uint64_t size;

	for (unsigned int k = 0; k < bfs->ndev; k++)
		if (fi_server_add_device(bfs->srv, bfs->dev[k].fd, &bfs->dev[k].cookie, &size))
			return -1;
	return 0;
}

/*
 * Load @path if it exists, and make sure it can be saved: written data is
 * only reachable through the metadata, so a server that could not save it
 * at exit must not accept any.
 */
static int bfs_meta_start(struct blockfs *bfs, const char *path)
{
	char tmp[4096];
	struct stat st;
	FILE *fp;
	int fd, err;

	fp = fopen(path, "r");
	if (!fp && errno != ENOENT) {
		fprintf(stderr, "fuse-iomap-blockfs: can't load %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fp && (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode))) {
		fprintf(stderr, "fuse-iomap-blockfs: can't load %s: not a regular file\n", path);
		fclose(fp);
		return -1;
	}
	if (fp) {
		err = bfs_load(bfs, fp);
		fclose(fp);
		if (err) {
			fprintf(stderr, "fuse-iomap-blockfs: can't load %s: malformed\n", path);
			return -1;
		}
	}
	/* bfs_save() writes this file and renames it over @path. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "fuse-iomap-blockfs: can't save metadata to %s (%s: %s); "
			"refusing to serve what could not be kept\n", path, tmp, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_lowlevel_ops ops = { .init = bfs_init };
	struct blockfs bfs = { 0 };
	struct fi_server_opts so = {
		.name = "fuse-iomap-blockfs", .fsname = "fuse-iomap-blockfs", .subtype = "blockfs",
	};
	char extra[64];
	struct bfs_opts o;
	bool served = false;
	int ret, err;

	ret = bfs_parse(argc, argv, &o);
	if (ret >= 0)
		return ret;
	bfs.bbits = __builtin_ctz(o.bs);
	bfs.out_of_place = o.oop;
	bfs.bpf = o.bpf;
	bfs.meta = o.meta;
	bfs.chunk = o.chunk / o.bs;
	if (fi_check_mountpoint("fuse-iomap-blockfs", o.mnt, true))
		return 1;
	if (fi_memns_init(&bfs.ns, &bfs_backend, o.bs)) {
		fprintf(stderr, "fuse-iomap-blockfs: out of memory\n");
		return 1;
	}
	ret = 1;
	for (unsigned int k = 0; k < o.ndev; k++)
		if (bfs_open_dev(&bfs, o.dev[k]))
			goto out_dev;
	if (o.meta && bfs_meta_start(&bfs, o.meta))
		goto out_dev;
	if (o.log) {
		so.log = fopen(o.log, "a");
		if (!so.log) {
			fprintf(stderr, "fuse-iomap-blockfs: can't open %s: %s\n", o.log, strerror(errno));
			goto out_dev;
		}
	}

	fi_memns_fill_ops(&ops);
	ops.fsync = bfs_fsync;
	ops.fsyncdir = bfs_fsync;
	snprintf(extra, sizeof(extra), "iomap,iomap_blksize=%u", o.bs);
	so.mountpoint = o.mnt;
	so.mount_opts = extra;
	so.debug = o.debug;
	so.threads = o.threads;
	bfs.srv = fi_server_new(&so, &ops, &bfs_iomap_ops, &bfs);
	if (!bfs.srv)
		goto out_log;
	if (!fi_server_mount(bfs.srv) && !bfs_add_devs(&bfs) &&
	    (!bfs.bpf || (!fi_server_bpf_set_ioend_queue(bfs.srv, o.ioend_queue) &&
			  !fi_server_bpf_start(bfs.srv, 1 << 20)))) {
		served = true;
		ret = fi_server_serve(bfs.srv) ? 1 : 0;
	}
	fi_server_destroy(bfs.srv);
	/* Saved once the last writeback is done: the file system is unmounted. */
	if (served && o.meta) {
		err = 0;
		for (unsigned int k = 0; k < bfs.ndev && !err; k++)
			err = fdatasync(bfs.dev[k].fd) ? -errno : 0;
		err = err ? err : bfs_save(&bfs, o.meta);
		if (err) {
			fprintf(stderr, "fuse-iomap-blockfs: can't save %s: %s\n", o.meta, strerror(-err));
			ret = 1;
		}
	}
out_log:
	if (so.log)
		fclose(so.log);
out_dev:
	/* Files give their blocks back to the allocators: they go last. */
	fi_memns_destroy(&bfs.ns);
	bfs_close_devs(&bfs);
	return ret;
}
