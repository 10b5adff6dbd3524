// SPDX-License-Identifier: GPL-2.0
/*
 * Test program: no_answer, but sleepable.  The hooks run under
 * rcu_read_lock() and for IOMAP_NOWAIT I/O, so it must not load.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops.s/iomap_begin")
int BPF_PROG(sleepable_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops sleepable = {
	.iomap_begin = (void *)sleepable_begin,
	.name = "sleepable",
};
