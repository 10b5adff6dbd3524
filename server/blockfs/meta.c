// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-blockfs: the side file (--meta), saved at fsync, syncfs and
 * exit, and loaded at start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "blockfs.h"

/*
 * Format, one record a line:  B <block size> / N <ino> <mode> <uid> <gid>
 * <size> <mtime s> <mtime ns> / L <ino> <hex target> / D <dir> <ino> <hex
 * name> / E <ino> <lblk> <pblk> <len> <unwritten> <device>, unwritten 1
 * for an unwritten extent, else 0, device the index of its DEVICE
 * argument (files without them, from before unwritten extents or
 * striping, still load: all written, device 0).  Inode numbers are the
 * saved ones; loading renumbers.
 */
static void bfs_put_hex(FILE *fp, const char *s)
{
	for (; *s; s++)
		fprintf(fp, "%02x", (unsigned char)*s);
}

int bfs_save(struct blockfs *bfs, const char *path)
{
	struct fi_memns *ns = &bfs->ns;
	char tmp[4096];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	if (!fp)
		return -errno;
	fprintf(fp, "B %u\n", 1U << bfs->bbits);
	/* Every node first: names and extents refer to them. */
	for (size_t i = 1; i < ns->nr_nodes; i++) {
		struct fi_memns_node *n = ns->nodes[i];

		if (n && (n->st.st_nlink || i == FUSE_ROOT_ID))
			fprintf(fp, "N %zu %o %u %u %lld %lld %ld\n", i, n->st.st_mode,
				n->st.st_uid, n->st.st_gid, (long long)n->st.st_size,
				(long long)n->st.st_mtim.tv_sec, n->st.st_mtim.tv_nsec);
	}
	for (size_t i = 1; i < ns->nr_nodes; i++) {
		struct fi_memns_node *n = ns->nodes[i];
		struct bfs_file *f;

		if (!n || (!n->st.st_nlink && i != FUSE_ROOT_ID))
			continue;
		if (n->target) {
			fprintf(fp, "L %zu ", i);
			bfs_put_hex(fp, n->target);
			fputc('\n', fp);
		}
		for (struct fi_memns_dirent *d = n->entries; d; d = d->next) {
			fprintf(fp, "D %zu %lu ", i, (unsigned long)d->ino);
			bfs_put_hex(fp, d->name);
			fputc('\n', fp);
		}
		f = S_ISREG(n->st.st_mode) ? n->data : NULL;
		for (size_t k = 0; f && k < f->ext.nr; k++)
			fprintf(fp, "E %zu %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u\n", i,
				f->ext.v[k].lblk, f->ext.v[k].pblk, f->ext.v[k].len,
				f->ext.v[k].unwritten, f->ext.v[k].dev);
	}
	if (fflush(fp) || fsync(fileno(fp)) || fclose(fp))
		return -EIO;
	return rename(tmp, path) ? -errno : 0;
}

static int bfs_get_hex(const char *hex, char *out, size_t max)
{
	size_t n = strlen(hex) / 2;

	if (n >= max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&out[i]) != 1)
			return -1;
	out[n] = 0;
	return 0;
}

int bfs_load(struct blockfs *bfs, FILE *fp)
{
	struct fi_memns *ns = &bfs->ns;
	size_t cap = 1024, *map = calloc(cap, sizeof(*map));
	char line[8192], text[4096];
	int err = -EINVAL;

	if (!map)
		return -ENOMEM;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long a, b, c, d, e, g;
		unsigned int mode, uid, gid, unw = 0, dev = 0;
		struct fi_memns_node *n;
		long ns_;

		if (line[0] == 'B' && sscanf(line, "B %llu", &a) == 1) {
			if (a != 1U << bfs->bbits)
				goto out;
		} else if (sscanf(line, "N %llu %o %u %u %llu %llu %ld", &a, &mode, &uid, &gid,
				  &b, &c, &ns_) == 7) {
			while (a >= cap) {
				size_t *m = realloc(map, 2 * cap * sizeof(*map));

				if (!m)
					goto out;
				memset(m + cap, 0, cap * sizeof(*m));
				map = m;
				cap *= 2;
			}
			n = a == FUSE_ROOT_ID ? fi_memns_node(ns, FUSE_ROOT_ID) : fi_memns_new_node(ns, mode, NULL);
			if (!n)
				goto out;
			map[a] = n->st.st_ino;
			n->st.st_mode = mode;
			n->st.st_uid = uid;
			n->st.st_gid = gid;
			n->st.st_size = b;
			n->st.st_mtim.tv_sec = c;
			n->st.st_mtim.tv_nsec = ns_;
			n->st.st_nlink = S_ISDIR(mode) ? 2 : 0;
		} else if (sscanf(line, "L %llu %4095s", &a, text) == 2) {
			char target[2048];

			if (a >= cap || !map[a] || bfs_get_hex(text, target, sizeof(target)))
				goto out;
			n = fi_memns_node(ns, map[a]);
			n->target = strdup(target);
		} else if (sscanf(line, "D %llu %llu %4095s", &a, &b, text) == 3) {
			char name[FI_MEMNS_MAX_NAME + 1];
			struct fi_memns_node *dir, *child;

			if (a >= cap || b >= cap || !map[a] || !map[b] ||
			    bfs_get_hex(text, name, sizeof(name)))
				goto out;
			dir = fi_memns_node(ns, map[a]);
			child = fi_memns_node(ns, map[b]);
			if (fi_memns_link_name(dir, name, child))
				goto out;
			if (S_ISDIR(child->st.st_mode))
				dir->st.st_nlink++;
			else
				child->st.st_nlink++;
		} else if (sscanf(line, "E %llu %llu %llu %llu %u %u", &a, &d, &e, &g, &unw, &dev) >= 4) {
			struct bfs_file *f;

			if (a >= cap || !map[a] || dev >= bfs->ndev || !g || unw > 1 ||
			    e + g > bfs->dev[dev].alloc.nblocks)
				goto out;
			f = bfs_file(fi_memns_node(ns, map[a]));
			if (!f || ext_insert(&f->ext, (struct ext){ d, e, g, unw, dev }))
				goto out;
			balloc_mark(&bfs->dev[dev].alloc, e, g, 1);
		} else {
			goto out;
		}
	}
	err = 0;
out:
	free(map);
	return err;
}
