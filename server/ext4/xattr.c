// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: extended attributes, read-only (listxattr, getxattr)
 * through libext2fs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ext2fs/ext2fs.h>
#include <fuse_lowlevel.h>

#include "ext4.h"

struct xattr_list {
	char *buf;
	size_t size, used;
};

static int ext4_xattr_name(char *name, char *value, size_t value_len, void *priv)
{
	struct xattr_list *l = priv;
	size_t n = strlen(name) + 1;

	(void)value, (void)value_len;
	if (l->buf && l->used + n <= l->size)
		memcpy(l->buf + l->used, name, n);
	l->used += n;
	return 0;
}

static int open_xattrs(struct ext4srv *s, fuse_ino_t nodeid, struct ext2_xattr_handle **h)
{
	errcode_t err = ext2fs_xattrs_open(s->fs, to_ino(nodeid), h);

	if (err)
		return to_errno(err);
	err = ext2fs_xattrs_read(*h);
	if (err) {
		ext2fs_xattrs_close(h);
		return to_errno(err);
	}
	return 0;
}

void ext4_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size)
{
	struct ext2_xattr_handle *h;
	struct xattr_list l = { .size = size };
	int err;

	err = open_xattrs(srv_of(req), nodeid, &h);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	l.buf = size ? malloc(size) : NULL;
	ext2fs_xattrs_iterate(h, ext4_xattr_name, &l);
	ext2fs_xattrs_close(&h);
	if (!size)
		fuse_reply_xattr(req, l.used);
	else if (l.used > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, l.buf, l.used);
	free(l.buf);
}

void ext4_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name, size_t size)
{
	struct ext2_xattr_handle *h;
	size_t len = 0;
	void *value;
	int err;

	err = open_xattrs(srv_of(req), nodeid, &h);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	err = to_errno(ext2fs_xattr_get(h, name, &value, &len));
	ext2fs_xattrs_close(&h);
	if (err)
		fuse_reply_err(req, err);
	else if (!size)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
	if (!err)
		ext2fs_free_mem(&value);
}
