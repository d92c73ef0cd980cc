/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs module declaration: static kernel data that only the C macros of
 * <sys/module.h>, <sys/malloc.h> and <sys/conf.h> can produce.  All
 * behaviour is in Rust; this file only points the kernel at it.
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
