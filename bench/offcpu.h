/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by bench/offcpu.bpf.c and bench/offcpu.c (fi-offcpu). */
#ifndef FI_OFFCPU_H
#define FI_OFFCPU_H

#include <linux/types.h>

#define OFFCPU_MAX_PROCS	4096
#define OFFCPU_MAX_STACKS	16384
#define OFFCPU_DEPTH		32
/* Keys of the stack-keyed maps that are not stack ids. */
#define OFFCPU_LOST		(-1)	/* stack maps full, or a hash collision in both */
#define OFFCPU_USER		(-2)	/* an on-CPU sample in user space */
/* Set in the id of a stack kept in the spill map (offcpu.bpf.c: stack_id). */
#define OFFCPU_SPILL		(1 << 24)
#define OFFCPU_SPILL_STACKS	1024

/* Time off a CPU that began with one kernel stack. */
struct offcpu_stack {
	__u64 ns;
	__u64 count;
};

struct offcpu_totals {
	__u64 oncpu_ns;
	__u64 offcpu_ns;
	__u64 voluntary;	/* switches out to sleep */
	__u64 involuntary;	/* preempted while runnable */
	__u64 lost_stacks;	/* stack maps full, or a hash collision in both */
};

#endif
