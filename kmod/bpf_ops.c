// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF tier: struct_ops type fuse_bpf_ops (see fuse_iomap_bpf.h).  A
 * program attached to a connection answers FUSE_IOMAP_BEGIN before any
 * upcall.  It sees its arguments (plain values) and may write only its
 * answer: the verifier refuses a store anywhere else.  What it answers goes
 * through the same validation as a server's reply (iomap.c).
 *
 * Attachment is by BPF link: reg() finds the connection named by conn_id
 * and conn_gen among the mounted ones (iomap_conn.c adds and removes them)
 * and publishes the ops under RCU; unreg() unpublishes and waits for the
 * readers.  The struct_ops map holds a module reference, so
 * the module cannot go while ops exist.
 */
#include "fuse_i.h"

#include <linux/bpf.h>
#include <linux/bpf_verifier.h>
#include <linux/btf.h>

static const struct btf *fuse_bpf_btf;	/* ours, as the kernel holds it */
/*
 * The id of struct fuse_iomap_begin_out in fuse_bpf_btf: what iomap_begin's
 * answer points to, found through our struct_ops type.  Not a BTF_ID_LIST
 * entry: a module built with pahole 1.26 or later (Debian 13's) carries
 * distilled base BTF, which the kernel renumbers at load, and only the
 * kernel's own id lists (kfunc sets, dtors) follow the new numbers.
 */
static u32 fuse_bpf_writable_id;

static int fuse_bpf_ops_init(struct btf *btf)
{
	fuse_bpf_btf = btf;
	return 0;
}

/* @ptr_id's pointee, if it is a struct of @size bytes; else 0. */
static u32 fuse_bpf_pointee(u32 ptr_id, u32 size)
{
	const struct btf_type *t = btf_type_by_id(fuse_bpf_btf, ptr_id);
	u32 id;

	if (!t || !btf_type_is_ptr(t))
		return 0;
	id = t->type;
	t = btf_type_by_id(fuse_bpf_btf, id);
	if (!t || BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT || t->size != size)
		return 0;
	return id;
}

/* @ops is struct fuse_bpf_ops: its iomap_begin's second argument's struct. */
static u32 fuse_bpf_answer_id(const struct btf_type *ops)
{
	const struct btf_member *m = btf_type_member(ops);
	const struct btf_type *t;
	u16 i;

	for (i = 0; i < btf_type_vlen(ops); i++, m++) {
		if (__btf_member_bit_offset(ops, m) != offsetof(struct fuse_bpf_ops, iomap_begin) * 8)
			continue;
		t = btf_type_by_id(fuse_bpf_btf, m->type);
		if (!t || !btf_type_is_ptr(t))
			return 0;
		t = btf_type_by_id(fuse_bpf_btf, t->type);
		if (!t || !btf_type_is_func_proto(t) || btf_type_vlen(t) != 2)
			return 0;
		return fuse_bpf_pointee(btf_params(t)[1].type, sizeof(struct fuse_iomap_begin_out));
	}
	return 0;
}

static bool fuse_bpf_is_valid_access(int off, int size, enum bpf_access_type type,
				     const struct bpf_prog *prog, struct bpf_insn_access_aux *info)
{
	return bpf_tracing_btf_ctx_access(off, size, type, prog, info);
}

/* Called for every store through a pointer argument: only into the answer. */
static int fuse_bpf_btf_struct_access(struct bpf_verifier_log *log,
				      const struct bpf_reg_state *reg, int off, int size)
{
	u32 id = READ_ONCE(fuse_bpf_writable_id);

	if (id && reg->btf == fuse_bpf_btf && reg->btf_id == id &&
	    off >= 0 && off + size <= sizeof(struct fuse_iomap_begin_out))
		return NOT_INIT;
	bpf_log(log, "fuse_bpf_ops: a program may write only its answer (struct fuse_iomap_begin_out)\n");
	return -EACCES;
}

static const struct bpf_verifier_ops fuse_bpf_verifier_ops = {
	.get_func_proto = bpf_base_func_proto,
	.is_valid_access = fuse_bpf_is_valid_access,
	.btf_struct_access = fuse_bpf_btf_struct_access,
};

/*
 * The hooks run under rcu_read_lock() (iomap_ioend too, although its
 * callers could sleep), and for IOMAP_NOWAIT I/O, where nothing may sleep: a sleepable program can never be called.  The
 * verifier logs "attach to unsupported member" for the refused member.
 */
static int fuse_bpf_ops_check_member(const struct btf_type *t, const struct btf_member *member,
				     const struct bpf_prog *prog)
{
	/*
	 * Before the verifier walks the program, which asks
	 * fuse_bpf_btf_struct_access(); every load finds the same id.
	 */
	if (!READ_ONCE(fuse_bpf_writable_id))
		WRITE_ONCE(fuse_bpf_writable_id, fuse_bpf_answer_id(t));
	if (!READ_ONCE(fuse_bpf_writable_id)) {
		pr_err_ratelimited("fuse_bpf_ops: no struct fuse_iomap_begin_out behind iomap_begin in the module's BTF\n");
		return -EINVAL;
	}
	if (!prog->sleepable)
		return 0;
	pr_info_ratelimited("fuse_bpf_ops: %s refused: sleepable, but called under RCU where nothing may sleep\n",
			    prog->aux->name);
	return -EINVAL;
}

/* The members that are not programs come from user space, checked here. */
static int fuse_bpf_ops_init_member(const struct btf_type *t, const struct btf_member *member,
				    void *kdata, const void *udata)
{
	const struct fuse_bpf_ops *uops = udata;
	struct fuse_bpf_ops *ops = kdata;

	switch (__btf_member_bit_offset(t, member) / 8) {
	case offsetof(struct fuse_bpf_ops, conn_id):
		ops->conn_id = uops->conn_id;
		return 1;
	case offsetof(struct fuse_bpf_ops, conn_gen):
		ops->conn_gen = uops->conn_gen;
		return 1;
	case offsetof(struct fuse_bpf_ops, name):
		/* Named, for show, sysfs and every message about it. */
		if (!uops->name[0] || !memchr(uops->name, 0, sizeof(uops->name)))
			return -EINVAL;
		memcpy(ops->name, uops->name, sizeof(ops->name));
		return 1;
	}
	return 0;
}

static int fuse_bpf_ops_validate(void *kdata)
{
	struct fuse_bpf_ops *ops = kdata;

	return ops->iomap_begin ? 0 : -EINVAL;
}

/* Mounted iomap connections, for attaching ops by connection id and generation. */
static LIST_HEAD(fuse_bpf_conns);
static DEFINE_MUTEX(fuse_bpf_conns_lock);

void fuse_bpf_conn_add(struct fuse_iomap_conn *ic)
{
	mutex_lock(&fuse_bpf_conns_lock);
	list_add(&ic->node, &fuse_bpf_conns);
	mutex_unlock(&fuse_bpf_conns_lock);
}

/* From here on no ops attach to @ic, and the ones attached are dropped. */
void fuse_bpf_conn_del(struct fuse_iomap_conn *ic)
{
	mutex_lock(&fuse_bpf_conns_lock);
	list_del_init(&ic->node);
	RCU_INIT_POINTER(ic->bpf_ops, NULL);
	mutex_unlock(&fuse_bpf_conns_lock);
}

static int fuse_bpf_ops_reg(void *kdata, struct bpf_link *link)
{
	struct fuse_bpf_ops *cur, *ops = kdata;
	struct fuse_iomap_conn *ic;
	int err = -ENODEV;

	mutex_lock(&fuse_bpf_conns_lock);
	list_for_each_entry(ic, &fuse_bpf_conns, node) {
		if (ic->id != ops->conn_id || ic->gen != ops->conn_gen)
			continue;
		cur = rcu_dereference_protected(ic->bpf_ops, lockdep_is_held(&fuse_bpf_conns_lock));
		if (cur) {
			pr_info_ratelimited("conn %u: fuse_bpf_ops '%s' refused: '%s' is attached\n",
					    ic->id, ops->name, cur->name);
			err = -EBUSY;
		} else {
			rcu_assign_pointer(ic->bpf_ops, ops);
			err = 0;
		}
		break;
	}
	mutex_unlock(&fuse_bpf_conns_lock);
	if (err == -ENODEV)
		pr_info_ratelimited("fuse_bpf_ops '%s' refused: no iomap connection %u generation %llu (unmounted?)\n",
				    ops->name, ops->conn_id, ops->conn_gen);
	return err;
}

static void fuse_bpf_ops_unreg(void *kdata, struct bpf_link *link)
{
	struct fuse_iomap_conn *ic;

	mutex_lock(&fuse_bpf_conns_lock);
	list_for_each_entry(ic, &fuse_bpf_conns, node)
		if (rcu_access_pointer(ic->bpf_ops) == kdata)
			RCU_INIT_POINTER(ic->bpf_ops, NULL);
	mutex_unlock(&fuse_bpf_conns_lock);
	/* No mapping call may still run the program once we return. */
	synchronize_rcu();
}

/*
 * What a hook's return other than 0 or FUSE_BPF_NO_ANSWER makes of the
 * I/O: only errnos a caller may see; anything else is the program's bug.
 */
int fuse_bpf_ret_errno(struct fuse_iomap_conn *ic, int ret)
{
	if (ret < 0 && ret > -ERESTARTSYS)
		return ret;
	pr_warn_ratelimited("conn %u: fuse_bpf_ops returned %d: EIO\n", ic->id, ret);
	return -EIO;
}

/* Never called: their types are what the trampolines are built from. */
static int fuse_bpf_iomap_begin_stub(const struct fuse_bpf_iomap_begin_args *args,
				     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

static void fuse_bpf_iomap_end_stub(const struct fuse_bpf_iomap_end_args *args)
{
}

static int fuse_bpf_iomap_ioend_stub(const struct fuse_bpf_iomap_ioend_args *args)
{
	return FUSE_BPF_NO_ANSWER;
}

static struct fuse_bpf_ops fuse_bpf_ops_stubs = {
	.iomap_begin = fuse_bpf_iomap_begin_stub,
	.iomap_end = fuse_bpf_iomap_end_stub,
	.iomap_ioend = fuse_bpf_iomap_ioend_stub,
};

/*
 * No .update: a link then cannot swap ops in place, so that replacing a
 * connection's program is detach then attach, each checked for its
 * connection (an in-place update could move the link to another one).
 */
static struct bpf_struct_ops fuse_bpf_struct_ops = {
	.verifier_ops = &fuse_bpf_verifier_ops,
	.init = fuse_bpf_ops_init,
	.check_member = fuse_bpf_ops_check_member,
	.init_member = fuse_bpf_ops_init_member,
	.validate = fuse_bpf_ops_validate,
	.reg = fuse_bpf_ops_reg,
	.unreg = fuse_bpf_ops_unreg,
	.cfi_stubs = &fuse_bpf_ops_stubs,
	.name = "fuse_bpf_ops",
	.owner = THIS_MODULE,
};

int fuse_bpf_ops_register(void)
{
	int err = register_bpf_struct_ops(&fuse_bpf_struct_ops, fuse_bpf_ops);

	/* Without module BTF the kernel only warns and registers nothing. */
	if (!err && !fuse_bpf_btf) {
		pr_err("fuse_bpf_ops not registered: the module has no BTF\n");
		err = -ENOENT;
	}
	return err;
}
