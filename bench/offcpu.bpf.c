// SPDX-License-Identifier: GPL-2.0
/*
 * Where a workload's tasks spend their time, for make bench-explain: for
 * the processes in `tracked` (the workload, and whatever it forks), the
 * time on a CPU, the time off it summed by the kernel stack it left the
 * CPU with, the context switches (voluntary: it went to sleep;
 * involuntary: it was preempted), and cpu-clock samples of it on a CPU by
 * kernel stack.  Read by bench/offcpu.c.
 *
 * The tasks are typed through BTF (tp_btf) and read with CO-RE, so the
 * program does not depend on a tracepoint's format or on struct layouts.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "offcpu.h"

struct task_struct {
	int pid;
	int tgid;
	unsigned int __state;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_PROCS);
	__type(key, __u32);		/* tgid */
	__type(value, __u8);
} tracked SEC(".maps");

struct since {
	__u64 on;		/* when it last got a CPU, or 0 */
	__u64 off;		/* when it last left one, or 0 */
	__s32 stackid;		/* the stack it left with */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_PROCS);
	__type(key, __u32);		/* pid (a thread) */
	__type(value, struct since);
} since SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, OFFCPU_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, OFFCPU_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, OFFCPU_SPILL_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, OFFCPU_DEPTH * sizeof(__u64));
} spill SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_STACKS);
	__type(key, __s32);		/* stack id, or OFFCPU_LOST */
	__type(value, struct offcpu_stack);
} offcpu SEC(".maps");

/* On-CPU samples by kernel stack; OFFCPU_USER: the task was in user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_STACKS);
	__type(key, __s32);
	__type(value, __u64);
} oncpu SEC(".maps");

struct offcpu_totals totals;

static bool is_tracked(struct task_struct *t)
{
	__u32 tgid = BPF_CORE_READ(t, tgid);

	return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

/*
 * bpf_get_stackid() keeps one stack per bucket of the map, chosen by the
 * stack's hash, and loses a stack whose bucket holds another (EEXIST).
 * The hash moves with KASLR, so in some boots a stack that matters (a
 * writer's sleep in its write) was lost every time: such a stack goes to
 * a second map, and its id carries OFFCPU_SPILL.
 */
static __s32 stack_id(void *ctx)
{
	__s32 id = bpf_get_stackid(ctx, &stacks, 0);

	if (id != -17 /* -EEXIST */)
		return id;
	id = bpf_get_stackid(ctx, &spill, 0);
	return id < 0 ? id : id | OFFCPU_SPILL;
}

static void left_cpu(void *ctx, struct task_struct *prev, __u64 now)
{
	__u32 pid = BPF_CORE_READ(prev, pid);
	struct since *s = bpf_map_lookup_elem(&since, &pid), init = {};

	if (!s) {
		bpf_map_update_elem(&since, &pid, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&since, &pid);
		if (!s)
			return;
	}
	if (s->on)
		__sync_fetch_and_add(&totals.oncpu_ns, now - s->on);
	s->on = 0;
	s->off = now;
	s->stackid = stack_id(ctx);
	if (s->stackid < 0)
		__sync_fetch_and_add(&totals.lost_stacks, 1);
	if (BPF_CORE_READ(prev, __state))
		__sync_fetch_and_add(&totals.voluntary, 1);
	else
		__sync_fetch_and_add(&totals.involuntary, 1);
}

static void got_cpu(struct task_struct *next, __u64 now)
{
	__u32 pid = BPF_CORE_READ(next, pid);
	struct since *s = bpf_map_lookup_elem(&since, &pid), init = { .on = now };
	struct offcpu_stack *st, zero = {};
	__s32 id;
	__u64 d;

	if (!s) {
		bpf_map_update_elem(&since, &pid, &init, BPF_NOEXIST);
		return;
	}
	s->on = now;
	if (!s->off)
		return;
	d = now - s->off;
	s->off = 0;
	__sync_fetch_and_add(&totals.offcpu_ns, d);
	id = s->stackid < 0 ? OFFCPU_LOST : s->stackid;
	st = bpf_map_lookup_elem(&offcpu, &id);
	if (!st) {
		bpf_map_update_elem(&offcpu, &id, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&offcpu, &id);
		if (!st)
			return;
	}
	__sync_fetch_and_add(&st->ns, d);
	__sync_fetch_and_add(&st->count, 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();

	if (is_tracked(prev))
		left_cpu(ctx, prev, now);
	if (is_tracked(next))
		got_cpu(next, now);
	return 0;
}

/*
 * A cpu-clock sample on any CPU (bench/offcpu.c opens one per CPU): count
 * it by the kernel stack of a tracked task that was running.
 */
SEC("perf_event")
int offcpu_sample(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *n;
	__s32 id;

	if (!bpf_map_lookup_elem(&tracked, &tgid))
		return 0;
	id = stack_id(ctx);
	/* No kernel stack: the sample hit user space. */
	if (id == -14 /* -EFAULT */)
		id = OFFCPU_USER;
	else if (id < 0)
		id = OFFCPU_LOST;
	n = bpf_map_lookup_elem(&oncpu, &id);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&oncpu, &id, &one, BPF_NOEXIST);
	return 0;
}

/* A tracked process's children are the workload too (a shell's commands). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(offcpu_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (is_tracked(parent))
		bpf_map_update_elem(&tracked, &tgid, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
