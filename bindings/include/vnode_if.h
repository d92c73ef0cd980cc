/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stand-in for the generated <vnode_if.h>.
 *
 * FreeBSD generates vnode_if.h from sys/kern/vnode_if.src at kernel build
 * time; the installed headers we build against do not ship it.  This file
 * declares only the vnode operations kqdafs calls, transcribed from the
 * argument lists in sys/kern/vnode_if.src.  Add an operation here only when
 * the module calls it.
 *
 * <sys/vnode.h> includes this file after it has defined struct
 * vop_generic_args and struct vnodeop_desc, exactly where it includes the
 * generated header.
 *
 * Form of each operation, as sys/tools/vnode_if.awk emits it (FreeBSD 14
 * and 15): a `struct vop_<name>_args` whose first member is
 * `struct vop_generic_args a_gen` followed by one member per argument in
 * vnode_if.src order; `extern struct vnodeop_desc vop_<name>_desc`; the
 * kernel functions `VOP_<NAME>_AP()` and
 * `VOP_<NAME>_APV(const struct vop_vector *, struct vop_<name>_args *)`
 * (defined in the generated vnode_if.c, global, so a module may link them);
 * and a static inline `VOP_<NAME>()` that fills the args, sets
 * `a_gen.a_desc = &vop_<name>_desc` and calls `VOP_<NAME>_APV(vp->v_op, &a)`.
 *
 * For some operations the generated inline instead calls
 * `vp->v_op->vop_<name>(&a)` directly when the kernel is built without
 * INVARIANTS and KTR and no SDT probe is enabled.  That shortcut needs the
 * layout of struct vop_vector (generated vnode_if_typedef.h), which we do
 * not have; the inlines below always take the _APV path, which is what the
 * generated header itself does under INVARIANTS or KTR: the same vector
 * entry is called, with the SDT probes and debug checks around it.
 */
#ifndef _KQDAFS_VNODE_IF_H_
#define	_KQDAFS_VNODE_IF_H_

struct vnode;
struct vop_vector;
struct vattr;
struct ucred;
struct thread;

/*
 * Argument structures that <sys/vnode.h> names in prototypes after
 * including this file (vop_stdlock(), vfs_cache_lookup(), ...).  The
 * generated header defines them; kqdafs never builds one, so a tag
 * declaration is all it needs (and keeps -Wvisibility quiet).
 */
struct vop_access_args;
struct vop_accessx_args;
struct vop_aclcheck_args;
struct vop_add_writecount_args;
struct vop_advise_args;
struct vop_advlock_args;
struct vop_advlockasync_args;
struct vop_advlockpurge_args;
struct vop_allocate_args;
struct vop_bmap_args;
struct vop_cachedlookup_args;
struct vop_deallocate_args;
struct vop_deleteextattr_args;
struct vop_fdatasync_args;
struct vop_getacl_args;
struct vop_getextattr_args;
struct vop_getpages_args;
struct vop_getpages_async_args;
struct vop_getwritemount_args;
struct vop_inactive_args;
struct vop_inotify_args;
struct vop_inotify_add_watch_args;
struct vop_ioctl_args;
struct vop_islocked_args;
struct vop_kqfilter_args;
struct vop_lock1_args;
struct vop_lookup_args;
struct vop_need_inactive_args;
struct vop_pathconf_args;
struct vop_poll_args;
struct vop_putpages_args;
struct vop_read_args;
struct vop_readdir_args;
struct vop_reallocblks_args;
struct vop_reclaim_args;
struct vop_rename_args;
struct vop_set_text_args;
struct vop_setacl_args;
struct vop_setextattr_args;
struct vop_stat_args;
struct vop_unp_bind_args;
struct vop_unp_connect_args;
struct vop_unp_detach_args;
struct vop_vptocnp_args;
struct vop_vptofh_args;
struct vop_write_args;

/* vnode_if.src: vop_getattr { IN struct vnode *vp; OUT struct vattr *vap;
 * IN struct ucred *cred; }  Locking: vp L L L. */
struct vop_getattr_args {
	struct vop_generic_args a_gen;
	struct vnode *a_vp;
	struct vattr *a_vap;
	struct ucred *a_cred;
};

extern struct vnodeop_desc vop_getattr_desc;

int VOP_GETATTR_AP(struct vop_getattr_args *);
int VOP_GETATTR_APV(const struct vop_vector *vop,
    struct vop_getattr_args *);

static __inline int
VOP_GETATTR(struct vnode *vp, struct vattr *vap, struct ucred *cred)
{
	struct vop_getattr_args a;

	a.a_gen.a_desc = &vop_getattr_desc;
	a.a_vp = vp;
	a.a_vap = vap;
	a.a_cred = cred;
	return (VOP_GETATTR_APV(vp->v_op, &a));
}

/* vnode_if.src: vop_fsync { IN struct vnode *vp; IN int waitfor;
 * IN struct thread *td; }  Locking: vp L L L. */
struct vop_fsync_args {
	struct vop_generic_args a_gen;
	struct vnode *a_vp;
	int a_waitfor;
	struct thread *a_td;
};

extern struct vnodeop_desc vop_fsync_desc;

int VOP_FSYNC_AP(struct vop_fsync_args *);
int VOP_FSYNC_APV(const struct vop_vector *vop, struct vop_fsync_args *);

static __inline int
VOP_FSYNC(struct vnode *vp, int waitfor, struct thread *td)
{
	struct vop_fsync_args a;

	a.a_gen.a_desc = &vop_fsync_desc;
	a.a_vp = vp;
	a.a_waitfor = waitfor;
	a.a_td = td;
	return (VOP_FSYNC_APV(vp->v_op, &a));
}

/* vnode_if.src: vop_unlock { IN struct vnode *vp; }  Locking: vp L ? ?
 * (the lock is taken with vn_lock(), a function: _vn_lock()). */
struct vop_unlock_args {
	struct vop_generic_args a_gen;
	struct vnode *a_vp;
};

extern struct vnodeop_desc vop_unlock_desc;

int VOP_UNLOCK_AP(struct vop_unlock_args *);
int VOP_UNLOCK_APV(const struct vop_vector *vop, struct vop_unlock_args *);

static __inline int
VOP_UNLOCK(struct vnode *vp)
{
	struct vop_unlock_args a;

	a.a_gen.a_desc = &vop_unlock_desc;
	a.a_vp = vp;
	return (VOP_UNLOCK_APV(vp->v_op, &a));
}

#endif /* !_KQDAFS_VNODE_IF_H_ */
