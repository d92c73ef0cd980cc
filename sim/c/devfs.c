/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of character devices and devfs.  Sources read:
 * sys/kern/kern_conf.c (make_dev_args_init_impl, make_dev_s,
 * destroy_dev/destroy_devl: waits for si_threadcount, destroys the
 * remaining cdevpriv; dev_refthread/dev_relthread), sys/fs/devfs/
 * devfs_vnops.c (devfs_open: td_fpop, d_open, devfs_clear_cdevpriv when
 * d_open fails; devfs_fp_check; devfs_get_cdevpriv; devfs_set_cdevpriv;
 * devfs_destroy_cdevpriv; devfs_fpdrop; devfs_close_f: fo_close, then
 * devfs_fpdrop, so the destructor runs outside si_threadcount),
 * sys/kern/sys_generic.c (sys_ioctl → kern_ioctl: IOCPARM_LEN, copyin
 * for IOC_IN, zeroed buffer for IOC_OUT only, copyout for IOC_OUT on
 * success), man page devfs_set_cdevpriv(9).
 */
#include "ksim.h"

#include <sys/conf.h>
#include <sys/fcntl.h>
#include <sys/file.h>
#include <sys/ioccom.h>
#include <sys/malloc.h>
#include <sys/stat.h>
#include <sys/vnode.h>
#include <fs/devfs/devfs_int.h>

#include "ksim_world.h"

#define	KSIM_NDEV	8

static struct cdev_priv *ksim_devs[KSIM_NDEV];
static struct mtx ksim_cdevpriv_mtx;

struct ksim_devinfo {
	uid_t	uid;
	gid_t	gid;
	int	mode;
};

void
ksim_devfs_boot(void)
{

	mtx_init(&ksim_cdevpriv_mtx, "cdevpriv lock", NULL, MTX_DEF);
}

/* make_dev_args_init_impl (kern_conf.c). */
void
make_dev_args_init_impl(struct make_dev_args *args, size_t sz)
{

	sim_yield();
	memset(args, 0, sz);
	args->mda_size = sz;
}

/*
 * make_dev_s (kern_conf.c): d_version must be D_VERSION (else the
 * "WARNING: Device driver ... has wrong version" and ENXIO... the sim
 * fails the run); MAKEDEV_WAITOK sleeps; MAKEDEV_CHECKNAME refuses a name
 * in use with EEXIST.
 */
int
make_dev_s(struct make_dev_args *args, struct cdev **cdev, const char *fmt,
    ...)
{
	struct cdev_priv *cdp;
	__va_list ap;
	char name[SPECNAMELEN + 1];
	int i, slot;

	sim_yield();
	if (args->mda_size != sizeof(*args))
		ksim_failf("devfs", "make_dev_s: mda_size %zu", args->mda_size);
	if ((args->mda_flags & MAKEDEV_WAITOK) != 0)
		sim_check_may_sleep("make_dev_s(MAKEDEV_WAITOK)", NULL);
	if (args->mda_devsw == NULL ||
	    args->mda_devsw->d_version != D_VERSION)
		ksim_failf("devfs", "make_dev_s: cdevsw without D_VERSION");
	__builtin_va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	__builtin_va_end(ap);
	slot = -1;
	for (i = 0; i < KSIM_NDEV; i++) {
		if (ksim_devs[i] == NULL) {
			if (slot < 0)
				slot = i;
		} else if (strcmp(ksim_devs[i]->cdp_c.si_name, name) == 0) {
			if ((args->mda_flags & MAKEDEV_CHECKNAME) != 0)
				return (EEXIST);
			ksim_failf("devfs", "make_dev_s: duplicate name %s",
			    name);
		}
	}
	if (slot < 0)
		sim_fail("sim", "too many devices");
	cdp = ksim_zalloc(sizeof(*cdp) + sizeof(struct ksim_devinfo));
	ksim_strlcpy(cdp->cdp_c.si_name, name, sizeof(cdp->cdp_c.si_name));
	cdp->cdp_c.si_devsw = args->mda_devsw;
	cdp->cdp_c.si_drv1 = args->mda_si_drv1;
	cdp->cdp_c.si_drv2 = args->mda_si_drv2;
	cdp->cdp_c.si_refcount = 1;
	cdp->cdp_flags = CDP_ACTIVE;
	LIST_INIT(&cdp->cdp_fdpriv);
	{
		struct ksim_devinfo *di = (void *)(cdp + 1);

		di->uid = args->mda_uid;
		di->gid = args->mda_gid;
		di->mode = args->mda_mode;
	}
	ksim_devs[slot] = cdp;
	*cdev = &cdp->cdp_c;
	/* Published: devfs's locks order it before every open. */
	sim_hb_release(&cdp->cdp_c);
	return (0);
}

/* Owner, group and mode a device was made with (-1 if there is none). */
int
ksim_dev_mode(const char *name, int *uid, int *gid)
{
	struct ksim_devinfo *di;
	int i;

	for (i = 0; i < KSIM_NDEV; i++)
		if (ksim_devs[i] != NULL &&
		    strcmp(ksim_devs[i]->cdp_c.si_name, name) == 0) {
			di = (void *)(ksim_devs[i] + 1);
			*uid = (int)di->uid;
			*gid = (int)di->gid;
			return (di->mode);
		}
	return (-1);
}

/*
 * devfs_destroy_cdevpriv (devfs_vnops.c): with cdevpriv_mtx held, unlinks
 * the data from its file and drops the mutex, then runs the destructor.
 */
static void
ksim_destroy_cdevpriv(struct cdev_privdata *p)
{

	mtx_assert(&ksim_cdevpriv_mtx, MA_OWNED);
	if (p->cdpd_fp->f_cdevpriv != p)
		ksim_failf("devfs", "devfs_destroy_cdevpriv %p != %p",
		    p->cdpd_fp->f_cdevpriv, p);
	p->cdpd_fp->f_cdevpriv = NULL;
	LIST_REMOVE(p, cdpd_list);
	mtx_unlock(&ksim_cdevpriv_mtx);
	sim_module_enter("cdevpriv destructor");
	(p->cdpd_dtr)(p->cdpd_data);
	sim_module_exit();
	ksim_zfree(p, sizeof(*p));
}

/* devfs_fpdrop (devfs_vnops.c). */
static void
ksim_fpdrop(struct file *fp)
{
	struct cdev_privdata *p;

	mtx_lock(&ksim_cdevpriv_mtx);
	if ((p = fp->f_cdevpriv) == NULL) {
		mtx_unlock(&ksim_cdevpriv_mtx);
		return;
	}
	ksim_destroy_cdevpriv(p);
}

/*
 * destroy_dev (kern_conf.c destroy_devl): sleeps until no thread is in a
 * driver method (si_threadcount), destroys the cdevpriv of files still
 * open (their destructors run now), and the name goes away.  Files still
 * open then answer ENXIO (devfs_fp_check).
 */
void
destroy_dev(struct cdev *dev)
{
	struct cdev_priv *cdp = cdev2priv(dev);
	struct cdev_privdata *p;
	int i;

	sim_yield();
	sim_check_may_sleep("destroy_dev", NULL);
	if ((cdp->cdp_flags & CDP_ACTIVE) == 0)
		ksim_failf("devfs", "destroy_dev of a destroyed device");
	cdp->cdp_flags &= ~CDP_ACTIVE;
	dev->si_devsw = NULL;
	while (dev->si_threadcount != 0)
		(void)sim_block(&dev->si_threadcount, "devdrn", 100);
	/* Every thread that left the driver is ordered before this. */
	sim_hb_acquire(__DEVOLATILE(void *, &dev->si_threadcount));
	mtx_lock(&ksim_cdevpriv_mtx);
	while ((p = LIST_FIRST(&cdp->cdp_fdpriv)) != NULL) {
		ksim_destroy_cdevpriv(p);
		mtx_lock(&ksim_cdevpriv_mtx);
	}
	mtx_unlock(&ksim_cdevpriv_mtx);
	for (i = 0; i < KSIM_NDEV; i++)
		if (ksim_devs[i] == cdp)
			ksim_devs[i] = NULL;
}

/* devfs_get_cdevpriv (devfs_vnops.c). */
int
devfs_get_cdevpriv(void **datap)
{
	struct file *fp;

	sim_yield();
	fp = curthread->td_fpop;
	if (fp == NULL)
		return (EBADF);
	if (fp->f_cdevpriv == NULL)
		return (ENOENT);
	*datap = fp->f_cdevpriv->cdpd_data;
	return (0);
}

/* devfs_set_cdevpriv (devfs_vnops.c): M_WAITOK allocation; EBUSY twice. */
int
devfs_set_cdevpriv(void *priv, d_priv_dtor_t *priv_dtr)
{
	struct cdev_priv *cdp;
	struct cdev_privdata *p;
	struct file *fp;

	sim_yield();
	fp = curthread->td_fpop;
	if (fp == NULL)
		return (ENOENT);
	sim_check_may_sleep("devfs_set_cdevpriv (M_WAITOK)", NULL);
	cdp = cdev2priv((struct cdev *)fp->f_data);
	p = ksim_zalloc(sizeof(*p));
	p->cdpd_data = priv;
	p->cdpd_dtr = priv_dtr;
	p->cdpd_fp = fp;
	mtx_lock(&ksim_cdevpriv_mtx);
	if (fp->f_cdevpriv == NULL) {
		LIST_INSERT_HEAD(&cdp->cdp_fdpriv, p, cdpd_list);
		fp->f_cdevpriv = p;
		mtx_unlock(&ksim_cdevpriv_mtx);
		return (0);
	}
	mtx_unlock(&ksim_cdevpriv_mtx);
	ksim_zfree(p, sizeof(*p));
	return (EBUSY);
}

/* dev_refthread/dev_relthread (kern_conf.c). */
static struct cdevsw *
ksim_refthread(struct cdev *dev)
{

	if (dev->si_devsw == NULL)
		return (NULL);
	dev->si_threadcount++;
	return (dev->si_devsw);
}

static void
ksim_relthread(struct cdev *dev)
{

	if (dev->si_threadcount == 0)
		ksim_failf("devfs", "dev_relthread: threadcount underflow");
	/* dev_relthread: atomic_subtract_rel_long(&si_threadcount). */
	sim_hb_release(__DEVOLATILE(void *, &dev->si_threadcount));
	if (--dev->si_threadcount == 0)
		sim_wakeup(&dev->si_threadcount, 0);
}

/* devfs_close_f (devfs_vnops.c): close, then the cdevpriv destructor. */
static int
ksim_devfs_close_f(struct file *fp, struct thread *td)
{
	struct cdev *dev = fp->f_data;
	struct cdevsw *dsw;
	int error = 0;

	if ((dsw = ksim_refthread(dev)) != NULL) {
		if (dsw->d_close != NULL) {
			sim_module_enter("d_close");
			error = dsw->d_close(dev, fp->f_flag, S_IFCHR, td);
			sim_module_exit();
		}
		ksim_relthread(dev);
	}
	ksim_fpdrop(fp);
	return (error);
}

static struct fileops ksim_devfs_ops_f = {
	.fo_close = ksim_devfs_close_f,
	.fo_flags = DFLAG_PASSABLE | DFLAG_SEEKABLE,
};

static struct vnode ksim_devvnode;

/*
 * open(2) of /dev/<name>: devfs_open with td_fpop set to the new file
 * around d_open; a failed d_open clears the cdevpriv it may have set.
 */
int
ksim_sys_open_dev(const char *name, int oflags)
{
	struct thread *td = curthread;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fp, *fpop;
	int error, fd, i;

	dev = NULL;
	for (i = 0; i < KSIM_NDEV; i++)
		if (ksim_devs[i] != NULL &&
		    strcmp(ksim_devs[i]->cdp_c.si_name, name) == 0)
			dev = &ksim_devs[i]->cdp_c;
	if (dev == NULL)
		return (-ENOENT);
	ksim_devvnode.v_type = VCHR;
	/* devfs_lookup found it: ordered after make_dev. */
	sim_hb_acquire(dev);
	fp = ksim_file_alloc(DTYPE_VNODE, &ksim_devfs_ops_f, dev,
	    &ksim_devvnode, FFLAGS(oflags) & FMASK, td->td_ucred);
	if ((dsw = ksim_refthread(dev)) == NULL) {
		(void)ksim_fdrop(fp, td);
		return (-ENXIO);
	}
	fpop = td->td_fpop;
	td->td_fpop = fp;
	error = 0;
	if (dsw->d_open != NULL) {
		sim_module_enter("d_open");
		error = dsw->d_open(dev, FFLAGS(oflags), S_IFCHR, td);
		sim_module_exit();
	}
	td->td_fpop = fpop;
	ksim_relthread(dev);
	if (error != 0) {
		ksim_fpdrop(fp);
		(void)ksim_fdrop(fp, td);
		return (-error);
	}
	fd = ksim_fd_install(ksim_curproc(), fp);
	if (fd < 0)
		(void)ksim_fdrop(fp, td);
	return (fd);
}

int	ksim_copyin_user(const void *uaddr, void *kaddr, size_t len);
int	ksim_copyout_user(const void *kaddr, void *uaddr, size_t len);

/*
 * ioctl(2) on a descriptor: sys_ioctl/kern_ioctl (sys_generic.c; the
 * descriptor lookup with its Capsicum ioctl check is ksim_ioctl_fget,
 * kern_descrip.c) with devfs_ioctl_f (devfs_fp_check, d_ioctl).  `uaddr`
 * is the user address of the argument.
 */
int
ksim_sys_ioctl(int fd, u_long com, void *uaddr)
{
	struct thread *td = curthread;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fp, *fpop;
	u_int size;
	char *data;
	int error;

	ksim_syscall_enter(td);
	error = ksim_ioctl_fget(td, fd, com, &fp);
	if (error != 0)
		return (error);
	if (fp->f_ops != &ksim_devfs_ops_f) {
		(void)ksim_fdrop(fp, td);
		return (ENOTTY);
	}
	size = IOCPARM_LEN(com);
	if (size > IOCPARM_MAX) {
		(void)ksim_fdrop(fp, td);
		return (ENOTTY);
	}
	data = ksim_zalloc(size + 8);
	error = 0;
	if ((com & IOC_IN) != 0 && size > 0)
		error = ksim_copyin_user(uaddr, data, size);
	else if ((com & IOC_VOID) != 0 && size == 0)
		*(void **)data = uaddr;
	if (error == 0) {
		dev = fp->f_data;
		if ((dsw = ksim_refthread(dev)) == NULL)
			error = ENXIO;
		else {
			fpop = td->td_fpop;
			td->td_fpop = fp;
			sim_module_enter("d_ioctl");
			error = dsw->d_ioctl(dev, com, data, fp->f_flag, td);
			sim_module_exit();
			td->td_fpop = fpop;
			ksim_relthread(dev);
		}
	}
	if (error == 0 && (com & IOC_OUT) != 0 && size > 0)
		error = ksim_copyout_user(data, uaddr, size);
	ksim_zfree(data, size + 8);
	(void)ksim_fdrop(fp, td);
	return (error);
}

/* Devices still present (for unload checks). */
int
ksim_devfs_owned_by(const char *module)
{
	int i, n;

	n = 0;
	for (i = 0; i < KSIM_NDEV; i++)
		if (ksim_devs[i] != NULL && ksim_devs[i]->cdp_c.si_devsw !=
		    NULL && ksim_kmod_owns(module, ksim_devs[i]->cdp_c.si_devsw))
			n++;
	return (n);
}
