// SPDX-License-Identifier: GPL-2.0
/*
 * Test program: answers block k of any file with entry k of the map
 * fz_answers, verbatim, whatever it holds (filled by fault_bpf_fuzz with
 * random, mutated and valid mappings and return values): what it hands the
 * kernel is the kernel's to refuse.  Blocks past the map fall back.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct fz_answer {
	__s32 ret;
	__u32 pad;
	struct fuse_iomap_begin_out out;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 15);
	__type(key, __u32);
	__type(value, struct fz_answer);
} fz_answers SEC(".maps");

SEC("struct_ops/iomap_begin")
int BPF_PROG(fuzz_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	__u32 key = args->pos >> args->blkbits;
	struct fz_answer *a;

	if (args->pos >> args->blkbits >= (1 << 15))
		return FUSE_BPF_NO_ANSWER;
	a = bpf_map_lookup_elem(&fz_answers, &key);
	if (!a)
		return FUSE_BPF_NO_ANSWER;
	__builtin_memcpy(out, &a->out, sizeof(*out));
	return a->ret;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops fuzz_answers = {
	.iomap_begin = (void *)fuzz_begin,
	.name = "fuzz_answers",
};
