/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of sysctl(9).  Sources read: sys/kern/kern_sysctl.c
 * (sysctl_add_oid: a name unique among its siblings, else "can't
 * re-use a leaf (%s)!" and NULL; sysctl_ctx_init; sysctl_ctx_free:
 * removes the context's oids, newest first; sysctl_register_oid /
 * sysctl_unregister_oid for static oids of a linker set;
 * sysctl_handle_int, sysctl_handle_64, sysctl_handle_string: SYSCTL_OUT
 * the value, SYSCTL_IN a new one for writable oids; kernel_sysctlbyname:
 * name lookup, then the handler with kernel buffers), sys/sys/sysctl.h.
 *
 * The tree is kept in the sim's own table (full dotted names); the oid
 * structures are the module's (static) or allocated here (dynamic).
 */
#include "ksim.h"

#include <sys/malloc.h>
#include <sys/sysctl.h>

#define	KSIM_NOID	256

static struct {
	struct sysctl_oid	*oid;
	char			 name[128];
	struct sysctl_ctx_list	*ctx;
	int			 dynamic;
} ksim_oids[KSIM_NOID];

/* The static roots the module hangs its nodes under. */
struct sysctl_oid sysctl___kern = { .oid_name = "kern",
	.oid_kind = CTLTYPE_NODE | CTLFLAG_RW };
struct sysctl_oid sysctl___debug = { .oid_name = "debug",
	.oid_kind = CTLTYPE_NODE | CTLFLAG_RW };

/* kern.evfilt_syscount of a kernel with patches/0001 (0: stock kernel). */
static int ksim_pub_syscount;

static int
ksim_oid_index(struct sysctl_oid *oid)
{
	int i;

	for (i = 0; i < KSIM_NOID; i++)
		if (ksim_oids[i].oid == oid)
			return (i);
	return (-1);
}

static const char *
ksim_parent_name(struct sysctl_oid_list *parent)
{
	struct sysctl_oid *p;
	int i;

	if (parent == &sysctl___kern.oid_children)
		return ("kern");
	if (parent == &sysctl___debug.oid_children)
		return ("debug");
	p = __containerof(parent, struct sysctl_oid, oid_children);
	i = ksim_oid_index(p);
	if (i < 0)
		ksim_failf("sysctl", "parent node %p is not registered", p);
	return (ksim_oids[i].name);
}

static int
ksim_oid_register(struct sysctl_oid *oid, struct sysctl_ctx_list *ctx,
    int dynamic)
{
	char name[128];
	int i, slot;

	snprintf(name, sizeof(name), "%s.%s",
	    ksim_parent_name(oid->oid_parent), oid->oid_name);
	slot = -1;
	for (i = 0; i < KSIM_NOID; i++) {
		if (ksim_oids[i].oid == NULL) {
			if (slot < 0)
				slot = i;
		} else if (strcmp(ksim_oids[i].name, name) == 0) {
			printf("can't re-use a leaf (%s)!\n", name);
			return (EEXIST);
		}
	}
	if (slot < 0)
		sim_fail("sim", "too many sysctl oids");
	ksim_oids[slot].oid = oid;
	ksim_strlcpy(ksim_oids[slot].name, name, sizeof(ksim_oids[slot].name));
	ksim_oids[slot].ctx = ctx;
	ksim_oids[slot].dynamic = dynamic;
	/* Registered under the sysctl lock: before every handler call. */
	sim_hb_release(oid);
	return (0);
}

/*
 * The name of a registered oid whose handler or arg1 lies in [lo, hi) or
 * whose handler is in module `kmod`'s text, or NULL: after an unload such
 * an oid would call or read the unmapped image (sysctl_root runs
 * oid_handler(oidp, oid_arg1, ...)).
 */
int	ksim_pc_kmod(uintptr_t pc);

const char *
ksim_sysctl_into(const char *lo, const char *hi, int kmod)
{
	struct sysctl_oid *o;
	int i;

	for (i = 0; i < KSIM_NOID; i++) {
		if ((o = ksim_oids[i].oid) == NULL)
			continue;
		if (((const char *)o->oid_arg1 >= lo &&
		    (const char *)o->oid_arg1 < hi) ||
		    ksim_pc_kmod((uintptr_t)o->oid_handler) == kmod)
			return (ksim_oids[i].name);
	}
	return (NULL);
}

/* Static oids of a module's set_sysctl_set (linker_file_register_sysctls). */
void
ksim_sysctl_register_static(struct sysctl_oid *oid, int reg)
{
	int i;

	if (reg) {
		if (ksim_oid_register(oid, NULL, 0) != 0)
			ksim_failf("sysctl", "static oid %s clashes",
			    oid->oid_name);
		return;
	}
	i = ksim_oid_index(oid);
	if (i >= 0)
		ksim_oids[i].oid = NULL;
}

/* sysctl_ctx_init (kern_sysctl.c). */
int
sysctl_ctx_init(struct sysctl_ctx_list *c)
{

	sim_yield();
	if (c == NULL)
		return (EINVAL);
	TAILQ_INIT(c);
	return (0);
}

/* sysctl_add_oid (kern_sysctl.c). */
struct sysctl_oid *
sysctl_add_oid(struct sysctl_ctx_list *clist, struct sysctl_oid_list *parent,
    int number, const char *name, int kind, void *arg1, intmax_t arg2,
    int (*handler)(SYSCTL_HANDLER_ARGS), const char *fmt, const char *descr,
    const char *label)
{
	struct sysctl_ctx_entry *e;
	struct sysctl_oid *oidp;

	sim_yield();
	sim_check_may_sleep("sysctl_add_oid (M_WAITOK)", NULL);
	if (parent == NULL || name == NULL)
		return (NULL);
	oidp = ksim_zalloc(sizeof(*oidp));
	oidp->oid_parent = parent;
	oidp->oid_number = number;
	oidp->oid_kind = kind | CTLFLAG_DYN;
	oidp->oid_arg1 = arg1;
	oidp->oid_arg2 = arg2;
	oidp->oid_name = name;
	oidp->oid_handler = handler;
	oidp->oid_fmt = fmt;
	oidp->oid_descr = descr;
	oidp->oid_refcnt = 1;
	if (ksim_oid_register(oidp, clist, 1) != 0) {
		ksim_zfree(oidp, sizeof(*oidp));
		return (NULL);
	}
	if (clist != NULL) {
		e = ksim_zalloc(sizeof(*e));
		e->entry = oidp;
		TAILQ_INSERT_HEAD(clist, e, link);
	}
	return (oidp);
}

/*
 * sysctl_ctx_free (kern_sysctl.c): every oid of the context is
 * unregistered (children before their parents: the context list is
 * newest first) and freed.
 */
int
sysctl_ctx_free(struct sysctl_ctx_list *clist)
{
	struct sysctl_ctx_entry *e, *e1;
	int i;

	sim_yield();
	if (clist == NULL)
		return (EINVAL);
	TAILQ_FOREACH_SAFE(e, clist, link, e1) {
		i = ksim_oid_index(e->entry);
		if (i >= 0)
			ksim_oids[i].oid = NULL;
		TAILQ_REMOVE(clist, e, link);
		ksim_zfree(e->entry, sizeof(*e->entry));
		ksim_zfree(e, sizeof(*e));
	}
	return (0);
}

/* SYSCTL_OUT/SYSCTL_IN of a kernel request (sysctl_old_kernel & co.). */
static int
ksim_old_kernel(struct sysctl_req *req, const void *p, size_t l)
{
	size_t i = 0;

	if (req->oldptr != NULL) {
		i = l;
		if (req->oldlen <= req->oldidx)
			i = 0;
		else if (i > req->oldlen - req->oldidx)
			i = req->oldlen - req->oldidx;
		if (i > 0)
			memcpy((char *)req->oldptr + req->oldidx, p, i);
	}
	req->oldidx += l;
	if (req->oldptr != NULL && i != l)
		return (ENOMEM);
	return (0);
}

static int
ksim_new_kernel(struct sysctl_req *req, void *p, size_t l)
{

	if (req->newptr == NULL)
		return (0);
	if (req->newlen - req->newidx < l)
		return (EINVAL);
	memcpy(p, (const char *)req->newptr + req->newidx, l);
	req->newidx += l;
	return (0);
}

/* sysctl_handle_int (kern_sysctl.c). */
int
sysctl_handle_int(SYSCTL_HANDLER_ARGS)
{
	int tmpout, error;

	sim_yield();
	if (arg1 != NULL)
		tmpout = *(int *)arg1;
	else
		tmpout = (int)arg2;
	error = SYSCTL_OUT(req, &tmpout, sizeof(int));
	if (error != 0 || req->newptr == NULL)
		return (error);
	if (arg1 == NULL)
		return (EPERM);
	return (SYSCTL_IN(req, arg1, sizeof(int)));
}

/* sysctl_handle_64 (kern_sysctl.c). */
int
sysctl_handle_64(SYSCTL_HANDLER_ARGS)
{
	uint64_t tmpout;
	int error;

	sim_yield();
	if (arg1 == NULL)
		return (EINVAL);
	tmpout = *(uint64_t *)arg1;
	error = SYSCTL_OUT(req, &tmpout, sizeof(uint64_t));
	if (error != 0 || req->newptr == NULL)
		return (error);
	return (SYSCTL_IN(req, arg1, sizeof(uint64_t)));
}

/* sysctl_handle_string (kern_sysctl.c), read side only for RD strings. */
int
sysctl_handle_string(SYSCTL_HANDLER_ARGS)
{

	sim_yield();
	if (req->newptr != NULL)
		return (EPERM);
	return (SYSCTL_OUT(req, arg1, strlen(arg1) + 1));
}

static int
ksim_sysctl_call(const char *name, void *old, size_t *oldlenp,
    const void *new, size_t newlen)
{
	struct sysctl_req req;
	struct sysctl_oid *oid;
	int error, i;

	if (strcmp(name, "kern.evfilt_syscount") == 0 && ksim_pub_syscount) {
		if (*oldlenp < sizeof(int))
			return (ENOMEM);
		*(int *)old = ksim_pub_syscount;
		*oldlenp = sizeof(int);
		return (0);
	}
	oid = NULL;
	for (i = 0; i < KSIM_NOID; i++)
		if (ksim_oids[i].oid != NULL &&
		    strcmp(ksim_oids[i].name, name) == 0)
			oid = ksim_oids[i].oid;
	if (oid == NULL || oid->oid_handler == NULL)
		return (ENOENT);
	if (new != NULL && (oid->oid_kind & CTLFLAG_WR) == 0)
		return (EPERM);
	memset(&req, 0, sizeof(req));
	req.td = curthread;
	req.oldptr = old;
	req.oldlen = old != NULL ? *oldlenp : 0;
	req.oldfunc = ksim_old_kernel;
	req.newptr = new;
	req.newlen = newlen;
	req.newfunc = ksim_new_kernel;
	req.validlen = req.oldlen;
	/* The sysctl lock orders the oid's registration before its use. */
	sim_hb_acquire(oid);
	sim_module_enter("sysctl handler");
	error = oid->oid_handler(oid, oid->oid_arg1, oid->oid_arg2, &req);
	sim_module_exit();
	*oldlenp = req.oldidx;
	return (error);
}

/* kernel_sysctlbyname (kern_sysctl.c). */
int
kernel_sysctlbyname(struct thread *td, char *name, void *old, size_t *oldlenp,
    void *new, size_t newlen, size_t *retval, int flags)
{
	size_t len;
	int error;

	sim_yield();
	sim_check_may_sleep("kernel_sysctlbyname", NULL);
	len = oldlenp != NULL ? *oldlenp : 0;
	error = ksim_sysctl_call(name, old, &len, new, newlen);
	if (oldlenp != NULL)
		*oldlenp = len;
	if (retval != NULL)
		*retval = len;
	return (error);
}

/* sysctl(3) from a simulated process, with kernel-side buffers. */
int
ksim_sysctl(const char *name, void *old, size_t *oldlenp, const void *new,
    size_t newlen)
{

	return (ksim_sysctl_call(name, old, oldlenp, new, newlen));
}

void
ksim_sysctl_boot(int published_syscount)
{

	ksim_pub_syscount = published_syscount;
}

/* Dynamic oids left behind by a module's contexts (leak check). */
int
ksim_sysctl_count_prefix(const char *prefix)
{
	size_t n = strlen(prefix);
	int i, c;

	c = 0;
	for (i = 0; i < KSIM_NOID; i++)
		if (ksim_oids[i].oid != NULL &&
		    strncmp(ksim_oids[i].name, prefix, n) == 0)
			c++;
	return (c);
}
