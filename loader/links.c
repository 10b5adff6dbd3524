// SPDX-License-Identifier: GPL-2.0
/*
 * Finding attached fuse_bpf_ops: every struct_ops link whose map's value
 * type is bpf_struct_ops_fuse_bpf_ops (in the module's BTF).  The value
 * holds the ops as the kernel keeps them, conn_id and name included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "fuse_iomap_bpf.h"
#include "loader.h"

#define FI_VALUE_TYPE	"bpf_struct_ops_fuse_bpf_ops"

/* Offset of the ops ("data") in the map value, or -1 if it is not ours. */
static long ops_offset(const struct bpf_map_info *info)
{
	struct btf *vml, *mod;
	const struct btf_type *t;
	const struct btf_member *m;
	long off = -1;

	if (info->type != BPF_MAP_TYPE_STRUCT_OPS || !info->btf_vmlinux_id)
		return -1;
	vml = btf__load_vmlinux_btf();
	if (!vml)
		return -1;
	mod = btf__load_from_kernel_by_id_split(info->btf_vmlinux_id, vml);
	t = mod ? btf__type_by_id(mod, info->btf_vmlinux_value_type_id) : NULL;
	if (t && btf_is_struct(t) && !strcmp(btf__name_by_offset(mod, t->name_off), FI_VALUE_TYPE)) {
		m = btf_members(t);
		for (unsigned int i = 0; i < btf_vlen(t); i++, m++)
			if (!strcmp(btf__name_by_offset(mod, m->name_off), "data"))
				off = btf_member_bit_offset(t, i) / 8;
	}
	btf__free(mod);
	btf__free(vml);
	return off;
}

int fi_map_ops(int map_fd, struct fi_attached *a)
{
	struct bpf_map_info minfo = { 0 };
	uint32_t mlen = sizeof(minfo);
	char *value = NULL;
	int err = -EINVAL;
	long off;

	if (bpf_map_get_info_by_fd(map_fd, &minfo, &mlen))
		return -errno;
	off = ops_offset(&minfo);
	value = calloc(1, minfo.value_size);
	if (off >= 0 && value && off + sizeof(struct fuse_bpf_ops) <= minfo.value_size &&
	    !bpf_map_lookup_elem(map_fd, &(int){ 0 }, value)) {
		a->map_id = minfo.id;
		a->conn_id = ((struct fuse_bpf_ops *)(value + off))->conn_id;
		a->conn_gen = ((struct fuse_bpf_ops *)(value + off))->conn_gen;
		memcpy(a->name, ((struct fuse_bpf_ops *)(value + off))->name, sizeof(a->name) - 1);
		err = 0;
	}
	free(value);
	return err;
}

static int visit(uint32_t link_id, int (*fn)(struct fi_attached *a, void *arg), void *arg)
{
	struct bpf_link_info linfo = { 0 };
	uint32_t llen = sizeof(linfo);
	struct fi_attached a = { .link_id = link_id, .link_fd = -1 };
	int map_fd = -1, ret = 0;

	a.link_fd = bpf_link_get_fd_by_id(link_id);
	if (a.link_fd < 0 || bpf_link_get_info_by_fd(a.link_fd, &linfo, &llen) ||
	    linfo.type != BPF_LINK_TYPE_STRUCT_OPS)
		goto out;
	map_fd = bpf_map_get_fd_by_id(linfo.struct_ops.map_id);
	if (map_fd >= 0 && !fi_map_ops(map_fd, &a))
		ret = fn(&a, arg);
out:
	if (map_fd >= 0)
		close(map_fd);
	if (a.link_fd >= 0)
		close(a.link_fd);
	return ret;
}

int fi_for_each_attached(int (*fn)(struct fi_attached *a, void *arg), void *arg)
{
	uint32_t id = 0;
	int ret;

	while (!bpf_link_get_next_id(id, &id)) {
		ret = visit(id, fn, arg);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}
