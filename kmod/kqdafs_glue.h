/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue: the declarations the Rust side links against.
 *
 * Everything here is either static kernel data that only C macros can
 * declare (module, malloc type, cdevsw, filterops: kqdafs_edge_module.c)
 * or a one-line wrapper around a KPI that is a macro or an inline
 * function in the FreeBSD headers (kqdafs_kpi*.c).  No logic lives in C.
 * The file names say which way a call goes: kqdafs_kpi*.c is called by
 * the module (src/kpi/), kqdafs_edge*.c by the kernel and other modules
 * (src/edge/).
 */
#ifndef _KQDAFS_GLUE_H_
#define	_KQDAFS_GLUE_H_

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/malloc.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/event.h>
#include <sys/conf.h>
#include <sys/sysctl.h>
#include <sys/proc.h>
#include <sys/errno.h>
#include <sys/taskqueue.h>

#include "kqdafs_kpi_io.h"

/* Static data defined in kqdafs_edge_module.c. */
extern struct malloc_type kqdafs_malloc_type[1];
extern struct cdevsw kqdafs_cdevsw;
extern struct filterops kqdafs_filtops;

/* Entry points implemented in Rust (src/edge/entry.rs). */
int	kqdafs_rs_modevent(module_t mod, int what, void *arg);
int	kqdafs_rs_cdev_open(struct cdev *dev, int oflags, int devtype,
	    struct thread *td);
int	kqdafs_rs_cdev_ioctl(struct cdev *dev, u_long cmd, caddr_t data,
	    int fflag, struct thread *td);
void	kqdafs_rs_handle_dtor(void *data);
int	kqdafs_rs_filt_attach(struct knote *kn);
void	kqdafs_rs_filt_detach(struct knote *kn);
int	kqdafs_rs_filt_event(struct knote *kn, long hint);
struct kinfo_knote;
int	kqdafs_rs_filt_userdump(struct proc *p, struct knote *kn,
	    struct kinfo_knote *kin);

/* Wrappers for KPI that is a macro or an inline (kqdafs_kpi.c). */
struct thread *kqdafs_curthread(void);
void	kqdafs_mtx_init(struct mtx *m, const char *name);
void	kqdafs_mtx_destroy(struct mtx *m);
void	kqdafs_mtx_lock(struct mtx *m);
void	kqdafs_mtx_unlock(struct mtx *m);
int	kqdafs_mtx_owned(struct mtx *m);
void	kqdafs_critical_enter(void);
void	kqdafs_critical_exit(void);
struct sysctl_oid *kqdafs_sysctl_add_root(struct sysctl_ctx_list *ctx,
	    const char *name, const char *descr);
struct sysctl_oid *kqdafs_sysctl_add_int(struct sysctl_ctx_list *ctx,
	    struct sysctl_oid *parent, const char *name, int writable,
	    int *ptr, const char *descr);
struct sysctl_oid *kqdafs_sysctl_add_u64(struct sysctl_ctx_list *ctx,
	    struct sysctl_oid *parent, const char *name, int writable,
	    uint64_t *ptr, const char *descr);
struct sysctl_oid *kqdafs_sysctl_add_string(struct sysctl_ctx_list *ctx,
	    struct sysctl_oid *parent, const char *name, const char *str,
	    const char *descr);
int	kqdafs_make_dev(struct cdevsw *csw, const char *name, int mode,
	    struct cdev **cdevp);
struct proc *kqdafs_curproc(void);
int	kqdafs_taskqueue_create(struct taskqueue **tqp, const char *name,
	    int nthreads);
void	kqdafs_task_init(struct task *task, task_fn_t *fn, void *ctx);
void	kqdafs_printf(const char *msg);
void	kqdafs_unload_grace(const char *wmesg);
void	kqdafs_pause_ticks(int ticks);
void	kqdafs_panic(const char *msg) __dead2;
/* wakeup(9). */
void	kqdafs_wakeup(void *chan);
/* mtx_sleep(9) at PRIBIO for at most ticks ticks (0: no limit). */
int	kqdafs_mtx_sleep(void *chan, struct mtx *m, const char *wmesg,
	    int ticks);
/* hz. */
int	kqdafs_hz(void);
/* taskqueue_enqueue(9) of a task that lives as long as its owner. */
void	kqdafs_taskqueue_enqueue(struct taskqueue *tq, struct task *task);
/* taskqueue_drain(9). Sleeps. */
void	kqdafs_taskqueue_drain(struct taskqueue *tq, struct task *task);
/* taskqueue_member(9) of the calling thread. */
int	kqdafs_taskqueue_is_current(struct taskqueue *tq);
/* taskqueue_cancel(9): EBUSY if the task is running. */
int	kqdafs_taskqueue_cancel(struct taskqueue *tq, struct task *task);

/*
 * The counting wrapper of the cdevpriv destructor devfs calls
 * (kqdafs_edge_module.c), and the wait for it at unload.
 */
void	kqdafs_handle_dtor(void *data);
void	kqdafs_dtor_drain(void);

#endif /* !_KQDAFS_GLUE_H_ */
