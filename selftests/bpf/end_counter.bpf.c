// SPDX-License-Identifier: GPL-2.0
/* Test program: no answers; counts iomap_end calls and bytes written. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} ends SEC(".maps");

SEC("struct_ops/iomap_begin")
int BPF_PROG(end_counter_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

SEC("struct_ops/iomap_end")
void BPF_PROG(end_counter_end, const struct fuse_bpf_iomap_end_args *args)
{
	__u32 calls = 0, bytes = 1;
	__u64 *v;

	v = bpf_map_lookup_elem(&ends, &calls);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&ends, &bytes);
	if (v && args->written > 0)
		__sync_fetch_and_add(v, args->written);
}

SEC(".struct_ops.link")
struct fuse_bpf_ops end_counter = {
	.iomap_begin = (void *)end_counter_begin,
	.iomap_end = (void *)end_counter_end,
	.name = "end_counter",
};
