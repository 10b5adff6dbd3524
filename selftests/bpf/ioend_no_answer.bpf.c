// SPDX-License-Identifier: GPL-2.0
/*
 * Test program: iomap_begin and iomap_ioend never have an answer, so every
 * mapping and every ioend goes to the server.  iomap_ioend counts its
 * calls in a global (a map, which it may write): the control for the
 * refused ioend programs, and proof that the hook is called.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

__u64 ioend_calls;

SEC("struct_ops/iomap_begin")
int BPF_PROG(ioend_na_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

SEC("struct_ops/iomap_ioend")
int BPF_PROG(ioend_na_ioend, const struct fuse_bpf_iomap_ioend_args *args)
{
	__sync_fetch_and_add(&ioend_calls, 1);
	return FUSE_BPF_NO_ANSWER;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops ioend_no_answer = {
	.iomap_begin = (void *)ioend_na_begin,
	.iomap_ioend = (void *)ioend_na_ioend,
	.name = "ioend_no_answer",
};
