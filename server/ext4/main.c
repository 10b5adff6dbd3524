// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: an ext4 image served through Debian's libext2fs, with
 * file data on the iomap path: the kernel asks this server where a file's
 * blocks are (map.c) and moves the data to and from the image itself.
 * File data never passes through the server.
 *
 * This file reads the command line, opens the image (image.c), gives the
 * kernel a block device for it, serves until the mount goes away, and
 * closes the image cleanly at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ext2fs/ext2fs.h>
#include <fuse_lowlevel.h>

#include "ext4.h"

static void ext4_open(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	/* We are the only writer: what the kernel cached stays true. */
	fi->keep_cache = 1;
	ext4_writer_open(srv_of(req), to_ino(nodeid), fi);
	fuse_reply_open(req, fi);
}

static void ext4_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Truncation must come as SETATTR, after the kernel dropped the page
	 * cache past the new size; and cached pages stay valid across opens. */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_AUTO_INVAL_DATA);
}

/* --commit=SEC: whole seconds, 1 to EXT4_COMMIT_SEC_MAX. */
static int parse_commit(const char *arg, unsigned int *sec)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || v < 1 || v > EXT4_COMMIT_SEC_MAX) {
		fprintf(stderr, "fuse-iomap-ext4: --commit must be 1 to %u seconds, not %s\n",
			EXT4_COMMIT_SEC_MAX, arg);
		return -1;
	}
	*sec = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: fuse-iomap-ext4 [OPTIONS] IMAGE MOUNTPOINT\n"
"\n"
"Serve the ext4 file system in IMAGE (an image file or a block device) at\n"
"MOUNTPOINT through the iomap data path of fuse_iomap.ko: file data moves\n"
"between the kernel and IMAGE directly; this server only maps file blocks.\n"
"Runs in the foreground until MOUNTPOINT is unmounted (or SIGINT/SIGTERM/\n"
"SIGHUP), then writes all metadata back and closes IMAGE.  Needs root\n"
"(CAP_SYS_ADMIN and CAP_SYS_RAWIO).  Serves read-write unless told otherwise.\n"
"\n"
"One writer per image: read-write, IMAGE (or the loop device made for an\n"
"image file) is held open exclusively while served, so the kernel refuses\n"
"to mount it, and an IMAGE that is mounted or held open exclusively by\n"
"another program is refused.  Read-only, IMAGE is shared with read-only\n"
"mounts only.  The ext4 MMP feature (tune2fs -O mmp) is honoured.\n"
"\n"
"Writes into holes and fallocated space get uninitialized extents, made\n"
"initialized for exactly the blocks written once the data is on IMAGE.\n"
"An append gets blocks ahead: four times what the file reaches, 1 MiB to\n"
"16 MiB (less when space is short); what it did not use is freed when the\n"
"last writer closes the file.\n"
"\n"
"Options:\n"
"  -r, --read-only   serve read-only (and open IMAGE read-only)\n"
"  -b, --bpf         answer mappings inside the kernel too: load the\n"
"                    extent_map BPF program, attach it to this mount, and\n"
"                    keep each file's extents in its store (a file's first\n"
"                    read asks this server; later ones do not); it also\n"
"                    answers writes into uninitialized extents and queues\n"
"                    their ioends for this server\n"
"  -j, --journal=MODE  ordered (the default for an image with a journal):\n"
"                    journal metadata as above; off (the default, and the\n"
"                    only mode, for an image without one): write metadata\n"
"                    in place, the image marked not clean while served, so\n"
"                    that after a crash e2fsck -f must check it before it\n"
"                    is served read-write again\n"
"  -c, --commit=SEC  commit at least every SEC seconds while something\n"
"                    changed (1 to 3600; default 5, as the kernel's ext4\n"
"                    commit= mount option): a crash loses at most that\n"
"                    much of what was not fsync'd\n"
"  -s, --stats FILE  keep the journal's counters in FILE, one \"name value\"\n"
"                    line each: transactions, blocks_journaled,\n"
"                    log_writes, revoke_records, checkpoints,\n"
"                    commit_us_total, commit_us_max, replays,\n"
"                    replayed_transactions, replayed_blocks (rewritten\n"
"                    after each commit)\n"
"  -l, --log FILE    append one line per FUSE_IOMAP_BEGIN and IOEND, and\n"
"                    per queued ioend applied, to FILE\n"
"  -d, --debug       print every request (libfuse debug output)\n"
"  -h, --help        print this help and exit\n"
"  -V, --version     print the version and exit\n"
"\n"
"Read-write, metadata changes go through the ext4 journal in ordered mode,\n"
"as the kernel's ext4 does by default: a transaction commits at fsync,\n"
"every 5 seconds (--commit) while something changed, when the journal\n"
"fills up and at unmount, and file data reaches IMAGE before the commit\n"
"that makes it reachable.  When fsync returns, the file's data and the\n"
"metadata needed to read it are on stable storage.  After a crash (this\n"
"server killed, the machine losing power), serving IMAGE again, or\n"
"mounting it with the kernel's ext4, replays the journal: no e2fsck is\n"
"needed.\n"
"\n"
"An image whose journal needs recovery has its journal replayed first, as\n"
"the kernel's ext4 and e2fsck do; read-only, it is refused.  A corrupt\n"
"journal is refused, the image left as it was.  Not supported: external\n"
"journals, fast commits, and the features inline_data, encrypt, verity and\n"
"casefold.  Read-write also needs the extent feature and refuses bigalloc,\n"
"quota and images that are not clean.  Not implemented:\n"
"setxattr/removexattr, fallocate's COLLAPSE_RANGE and INSERT_RANGE,\n"
"RENAME_EXCHANGE/WHITEOUT, and allocating writes to block-mapped (ext3)\n"
"files.\n");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ "bpf", no_argument, NULL, 'b' },
		{ "journal", required_argument, NULL, 'j' },
		{ "commit", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct fuse_lowlevel_ops ops = {
		.init = ext4_init,
		.lookup = ext4_lookup,
		.forget = ext4_forget,
		.forget_multi = ext4_forget_multi,
		.getattr = ext4_getattr,
		.setattr = ext4_setattr,
		.readlink = ext4_readlink,
		.mknod = ext4_mknod,
		.mkdir = ext4_mkdir,
		.unlink = ext4_unlink,
		.rmdir = ext4_rmdir,
		.symlink = ext4_symlink,
		.rename = ext4_rename,
		.link = ext4_link,
		.open = ext4_open,
		.release = ext4_release,
		.flush = ext4_flush,
		.fsync = ext4_fsync,
		.readdir = ext4_readdir,
		.fsyncdir = ext4_fsync,
		.statfs = ext4_statfs,
		.listxattr = ext4_listxattr,
		.getxattr = ext4_getxattr,
		.create = ext4_create,
		.fallocate = ext4_fallocate,
	};
	struct ext4srv s = { .rw = true, .commit_sec = EXT4_COMMIT_SEC };
	struct fi_server_opts o = { .name = "fuse-iomap-ext4", .subtype = "ext4" };
	uint64_t size;
	const char *image, *log = NULL;
	char extra[128];
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "rbj:c:s:l:dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			s.rw = false;
			break;
		case 'b':
			s.bpf = true;
			break;
		case 'j':
			if (strcmp(optarg, "ordered") && strcmp(optarg, "off")) {
				fprintf(stderr, "fuse-iomap-ext4: --journal must be ordered or off, "
					"not %s\n", optarg);
				return 2;
			}
			s.journal_opt = optarg;
			break;
		case 'c':
			if (parse_commit(optarg, &s.commit_sec))
				return 2;
			break;
		case 's':
			s.stats_path = optarg;
			break;
		case 'l':
			log = optarg;
			break;
		case 'd':
			o.debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fuse-iomap-ext4 %s\n", FI_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "fuse-iomap-ext4: expected IMAGE and MOUNTPOINT\n");
		usage(stderr);
		return 2;
	}
	image = argv[optind];
	o.mountpoint = argv[optind + 1];
	o.fsname = image;
	o.readonly = !s.rw;

	initialize_ext2_error_table();
	if (fi_check_mountpoint("fuse-iomap-ext4", o.mountpoint, true))
		return 1;
	/* The device first: nothing is written to an image someone else uses. */
	s.dev_fd = ext4_open_dev(image, !s.rw);
	if (s.dev_fd < 0)
		return 1;
	if (ext4_open_fs(image, &s))
		goto out_dev;
	if (log) {
		o.log = fopen(log, "a");
		if (!o.log) {
			fprintf(stderr, "fuse-iomap-ext4: can't open %s: %s\n", log, strerror(errno));
			goto out_fs;
		}
	}
	/* Permissions are checked by the kernel, as for its own ext4, for every user. */
	snprintf(extra, sizeof(extra), "iomap,iomap_blksize=%u,default_permissions,allow_other",
		 s.fs->blocksize);
	o.mount_opts = extra;
	o.max_file_size = s.maxbytes;
	s.srv = fi_server_new(&o, &ops, &ext4_iomap_ops, &s);
	if (!s.srv)
		goto out_log;
	if (!fi_server_mount(s.srv) && !fi_server_add_device(s.srv, s.dev_fd, &s.cookie, &size) &&
	    (!s.bpf || !fi_server_bpf_start(s.srv, 0)))
		ret = fi_server_serve(s.srv) ? 1 : 0;
	fi_server_destroy(s.srv);
out_log:
	if (o.log)
		fclose(o.log);
out_fs:
	if (ext4_close_fs(image, &s))
		ret = 1;
	ext4_report(image, &s);
out_dev:
	/* Our claim on the device ends only once the image is written back. */
	close(s.dev_fd);
	return ret;
}
