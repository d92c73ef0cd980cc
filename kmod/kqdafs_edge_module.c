/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs module declaration: static kernel data that only the C macros of
 * <sys/module.h>, <sys/malloc.h> and <sys/conf.h> can produce, and the
 * counting wrapper of the cdevpriv destructor.  All behaviour is in Rust
 * (src/edge/entry.rs); this file only points the kernel at it.
 */
#include "kqdafs_glue.h"

#define	KQDAFS_MODULE_VERSION	1

MALLOC_DEFINE(kqdafs_malloc_type, "kqdafs", "kqdafs requests and state");

struct cdevsw kqdafs_cdevsw = {
	.d_version =	D_VERSION,
	.d_name =	"kqdafs",
	.d_open =	kqdafs_rs_cdev_open,
	.d_ioctl =	kqdafs_rs_cdev_ioctl,
};

/*
 * One filterops serves every slot the module claims; the knote says which
 * kind of completion it carries (see src/filter.rs).  f_userdump fills the
 * module's part of a knote's record for procstat -k and core dumps
 * (FreeBSD 15 sys/event.h; called by kern_proc_kqueue_report_one in
 * sys/kern/kern_event.c).
 */
struct filterops kqdafs_filtops = {
	.f_isfd =	0,
	.f_attach =	kqdafs_rs_filt_attach,
	.f_detach =	kqdafs_rs_filt_detach,
	.f_event =	kqdafs_rs_filt_event,
	.f_userdump =	kqdafs_rs_filt_userdump,
};

static moduledata_t kqdafs_mod = {
	"kqdafs",
	kqdafs_rs_modevent,
	NULL
};

DECLARE_MODULE(kqdafs, kqdafs_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(kqdafs, KQDAFS_MODULE_VERSION);

/*
 * Destructors of /dev/kqdafs handles in flight.  devfs calls a cdevpriv
 * destructor after fo_close, outside the device's si_threadcount
 * (devfs_vnops.c devfs_close_f → devfs_fpdrop), so destroy_dev() does not
 * wait for it.  The handle's gate ticket is what keeps the module loaded;
 * the Rust destructor lets go of it as its very last action, and this
 * wrapper's decrement is all that follows on this stack.  Unload waits for
 * the count to drain (kqdafs_dtor_drain), then for the grace period.  A
 * destructor cannot start once the gate is closed: every handle holds a
 * ticket until its destructor ends, and the count is raised before it.
 */
static volatile u_int kqdafs_dtors;

void
kqdafs_handle_dtor(void *data)
{

	atomic_add_int(&kqdafs_dtors, 1);
	kqdafs_rs_handle_dtor(data);
	/* Last: from here only the return is left (kqdafs_dtor_drain). */
	atomic_subtract_rel_int(&kqdafs_dtors, 1);
}

void
kqdafs_dtor_drain(void)
{

	while (atomic_load_acq_int(&kqdafs_dtors) != 0)
		pause("kqddtr", 1);
	kqdafs_unload_grace("kqddtr");
}
