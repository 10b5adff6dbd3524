// SPDX-License-Identifier: GPL-2.0
/*
 * Test program: an iomap_begin with no answer and a sleepable iomap_ioend.
 * iomap_ioend runs from a bio completion work item and under RCU, where
 * nothing may sleep, so the ops must not load.  iomap_begin is the plain
 * one of no_answer.bpf.c: the refusal is the ioend member's.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/iomap_begin")
int BPF_PROG(ioend_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

SEC("struct_ops.s/iomap_ioend")
int BPF_PROG(ioend_sleepable, const struct fuse_bpf_iomap_ioend_args *args)
{
	return FUSE_BPF_NO_ANSWER;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops ioend_sleepable_ops = {
	.iomap_begin = (void *)ioend_begin,
	.iomap_ioend = (void *)ioend_sleepable,
	.name = "ioend_sleepable",
};
