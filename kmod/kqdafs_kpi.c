/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One-line wrappers for FreeBSD KPI that the headers provide only as
 * macros or inline functions, so that Rust can call them.  Each wrapper
 * does exactly what its macro does; nothing more.
 */
#include "kqdafs_glue.h"

struct thread *
kqdafs_curthread(void)
{

	return (curthread);
}

void
kqdafs_mtx_init(struct mtx *m, const char *name)
{

	mtx_init(m, name, NULL, MTX_DEF);
}

void
kqdafs_mtx_destroy(struct mtx *m)
{

	mtx_destroy(m);
}

void
kqdafs_mtx_lock(struct mtx *m)
{

	mtx_lock(m);
}

void
kqdafs_mtx_unlock(struct mtx *m)
{

	mtx_unlock(m);
}

int
kqdafs_mtx_owned(struct mtx *m)
{

	return (mtx_owned(m));
}

/*
 * critical(9): no preemption on this CPU until the matching exit, so that
 * a thread spinning on a lock taken inside cannot be the one that
 * preempted its holder.  Nothing inside may sleep, block on a mutex or
 * call malloc(9)/free(9).
 */
void
kqdafs_critical_enter(void)
{

	critical_enter();
}

void
kqdafs_critical_exit(void)
{

	critical_exit();
}

struct sysctl_oid *
kqdafs_sysctl_add_root(struct sysctl_ctx_list *ctx, const char *name,
    const char *descr)
{

	return (SYSCTL_ADD_NODE(ctx, SYSCTL_STATIC_CHILDREN(_kern), OID_AUTO,
	    name, CTLFLAG_RD | CTLFLAG_MPSAFE, NULL, descr));
}

struct sysctl_oid *
kqdafs_sysctl_add_int(struct sysctl_ctx_list *ctx, struct sysctl_oid *parent,
    const char *name, int writable, int *ptr, const char *descr)
{

	if (writable)
		return (SYSCTL_ADD_INT(ctx, SYSCTL_CHILDREN(parent), OID_AUTO,
		    name, CTLFLAG_RW | CTLFLAG_MPSAFE, ptr, 0, descr));
	return (SYSCTL_ADD_INT(ctx, SYSCTL_CHILDREN(parent), OID_AUTO, name,
	    CTLFLAG_RD | CTLFLAG_MPSAFE, ptr, 0, descr));
}

struct sysctl_oid *
kqdafs_sysctl_add_u64(struct sysctl_ctx_list *ctx, struct sysctl_oid *parent,
    const char *name, int writable, uint64_t *ptr, const char *descr)
{

	if (writable)
		return (SYSCTL_ADD_U64(ctx, SYSCTL_CHILDREN(parent), OID_AUTO,
		    name, CTLFLAG_RW | CTLFLAG_MPSAFE, ptr, 0, descr));
	return (SYSCTL_ADD_U64(ctx, SYSCTL_CHILDREN(parent), OID_AUTO, name,
	    CTLFLAG_RD | CTLFLAG_MPSAFE, ptr, 0, descr));
}

struct sysctl_oid *
kqdafs_sysctl_add_string(struct sysctl_ctx_list *ctx,
    struct sysctl_oid *parent, const char *name, const char *str,
    const char *descr)
{

	return (SYSCTL_ADD_STRING(ctx, SYSCTL_CHILDREN(parent), OID_AUTO, name,
	    CTLFLAG_RD | CTLFLAG_MPSAFE, __DECONST(char *, str), 0, descr));
}

int
kqdafs_make_dev(struct cdevsw *csw, const char *name, int mode,
    struct cdev **cdevp)
{
	struct make_dev_args args;

	make_dev_args_init(&args);
	args.mda_flags = MAKEDEV_WAITOK | MAKEDEV_CHECKNAME;
	args.mda_devsw = csw;
	args.mda_uid = UID_ROOT;
	args.mda_gid = GID_WHEEL;
	args.mda_mode = mode;
	return (make_dev_s(&args, cdevp, "%s", name));
}

struct proc *
kqdafs_curproc(void)
{

	return (curproc);
}

/*
 * A taskqueue served by nthreads kernel threads of its own, made the way
 * TASKQUEUE_DEFINE_THREAD does (sys/taskqueue.h): taskqueue_thread_enqueue
 * is handed tqp, the address where the queue pointer is kept, and reads it
 * on every enqueue, so *tqp must stay valid until taskqueue_free(), which
 * also waits for running tasks.  Sleeps.
 */
int
kqdafs_taskqueue_create(struct taskqueue **tqp, const char *name,
    int nthreads)
{
	int error;

	*tqp = taskqueue_create(name, M_WAITOK, taskqueue_thread_enqueue, tqp);
	if (*tqp == NULL)
		return (ENOMEM);
	error = taskqueue_start_threads(tqp, nthreads, PWAIT, "%s", name);
	if (error != 0) {
		taskqueue_free(*tqp);
		*tqp = NULL;
	}
	return (error);
}

void
kqdafs_task_init(struct task *task, task_fn_t *fn, void *ctx)
{

	TASK_INIT(task, 0, fn, ctx);
}

/*
 * After the last decrement of an in-flight count (kqdafs_dtor_drain,
 * kqdafs_bufread_drain) the thread that made it still executes this
 * module's text: the instructions of its return.  Nothing in the kernel
 * tells when that is done; a thread that was preempted between the store
 * and the return (an interrupt, a higher-priority thread) resumes within
 * a scheduling quantum.  The grace period is ten of them (hz / 10 clock
 * ticks, 100 ms, at least 2 ticks): unload is rare, and this is the window
 * in which the image must not go away.
 */
void
kqdafs_unload_grace(const char *wmesg)
{

	pause(wmesg, MAX(hz / 10, 2));
}

/* pause(9): sleep at least `ticks` clock ticks.  Sleeps. */
void
kqdafs_pause_ticks(int ticks)
{

	pause("kqdafs", ticks);
}

void
kqdafs_printf(const char *msg)
{

	printf("%s\n", msg);
}

void
kqdafs_panic(const char *msg)
{

	panic("%s", msg);
}

/* ---- KPI wrappers for the consumer machinery (src/kpi/dispatch.rs) -- */

void
kqdafs_wakeup(void *chan)
{

	wakeup(chan);
}

int
kqdafs_mtx_sleep(void *chan, struct mtx *m, const char *wmesg, int ticks)
{

	return (mtx_sleep(chan, m, PRIBIO, wmesg, ticks));
}

int
kqdafs_hz(void)
{

	return (hz);
}

void
kqdafs_taskqueue_enqueue(struct taskqueue *tq, struct task *task)
{

	(void)taskqueue_enqueue(tq, task);
}

void
kqdafs_taskqueue_drain(struct taskqueue *tq, struct task *task)
{

	taskqueue_drain(tq, task);
}

/*
 * Whether the calling thread is one of tq's own (subr_taskqueue.c
 * taskqueue_member): draining a task of tq from there would wait for
 * itself.
 */
int
kqdafs_taskqueue_is_current(struct taskqueue *tq)
{

	return (taskqueue_member(tq, curthread));
}

/*
 * Take task off tq if it is queued (subr_taskqueue.c taskqueue_cancel):
 * 0, or EBUSY if it is running now.
 */
int
kqdafs_taskqueue_cancel(struct taskqueue *tq, struct task *task)
{

	return (taskqueue_cancel(tq, task, NULL));
}
