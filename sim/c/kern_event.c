/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of kqueue(2)/kevent(2) and the kqueue(9) KPI, following
 * sys/kern/kern_event.c: kqueue_add_filteropts, kqueue_del_filteropts,
 * kqueue_fo_find/kqueue_fo_release (for_refcnt: every knote holds a
 * reference to its filter's slot), kqueue_register (EV_ADD: f_attach with
 * the knote in flux and KN_DETACHED; f_event(kn, 0) under the knlist lock;
 * EV_DELETE: knote_drop), kqfd_register, knote (skips knotes in flux
 * without KN_SCAN; f_event under the knlist and kq locks), knote_drop
 * (f_detach unless KN_DETACHED, then KASSERT KN_DETACHED),
 * knote_drop_detached, kqueue_scan (EV_ONESHOT: delivered without
 * f_event, then knote_drop), kqueue_close (every knote dropped),
 * knlist_init_mtx, knlist_add, knlist_remove, knlist_empty,
 * knlist_cleardel, knlist_destroy, KNL_ASSERT_LOCK,
 * kern_proc_kqueue_report/kern_proc_kqueue_report_one (f_userdump).
 *
 * Not modelled: filters other than the module's (the stock kernel's own
 * slots are taken by placeholders), EV_CLEAR/EV_DISPATCH, f_touch,
 * kqueues as knotes of other kqueues.
 */
#include "ksim.h"

#include <sys/capsicum.h>
#include <sys/event.h>
#include <sys/file.h>
#include <sys/malloc.h>
#include <sys/queue.h>
#include <sys/user.h>

#include "ksim_world.h"

#define	KSIM_NSLOTS	32

struct ksim_kq {
	struct mtx		 kq_lock;
	TAILQ_HEAD(, knote)	 kq_head;	/* queued (active) knotes */
	SLIST_HEAD(, knote)	 kq_all;	/* every knote of the kq */
	int			 kq_count;
	int			 kq_closing;
	struct ksim_proc	*kq_proc;
};

/* The kernel's filter table (sysfilt_ops) and its EVFILT_SYSCOUNT. */
static struct {
	const struct filterops	*for_fop;
	int			 for_refcnt;
} ksim_sysfilt[KSIM_NSLOTS];
static int ksim_syscount = EVFILT_SYSCOUNT;
static struct mtx ksim_filterops_lock;

static int ksim_placeholder_attach(struct knote *kn) { return (ENXIO); }
static void ksim_placeholder_detach(struct knote *kn) { }
static int ksim_placeholder_event(struct knote *kn, long h) { return (0); }
/* A filter of the kernel itself (EVFILT_READ, EVFILT_AIO, ...). */
static const struct filterops ksim_kernel_filtops = {
	.f_attach = ksim_placeholder_attach,
	.f_detach = ksim_placeholder_detach,
	.f_event = ksim_placeholder_event,
};
/* kern_event.c null_filtops: a free slot. */
static const struct filterops ksim_null_filtops = {
	.f_attach = ksim_placeholder_attach,
};

/*
 * Boot the kernel's filter table: a stock 15.0 kernel (syscount 15, every
 * slot taken but -12, EVFILT_SENDFILE, which is never registered) or a
 * kernel with patches/0001 (syscount 17, -16 and -17 free as well).
 * `taken` lists further slots other modules took (negative filters).
 */
void
ksim_kqueue_boot(int syscount, const int *taken, int ntaken)
{
	int i, j;

	if (syscount > KSIM_NSLOTS)
		sim_fail("sim", "syscount too large");
	mtx_init(&ksim_filterops_lock, "filterops_lock", NULL, MTX_DEF);
	ksim_syscount = syscount;
	for (i = 0; i < KSIM_NSLOTS; i++) {
		ksim_sysfilt[i].for_fop = &ksim_kernel_filtops;
		ksim_sysfilt[i].for_refcnt = 0;
	}
	ksim_sysfilt[~EVFILT_SENDFILE].for_fop = &ksim_null_filtops;
	for (i = EVFILT_SYSCOUNT; i < syscount; i++)
		ksim_sysfilt[i].for_fop = &ksim_null_filtops;
	for (j = 0; j < ntaken; j++)
		ksim_sysfilt[~taken[j]].for_fop = &ksim_kernel_filtops;
}

int
ksim_kqueue_syscount(void)
{

	return (ksim_syscount);
}

/* kqueue_add_filteropts (kern_event.c). */
int
kqueue_add_filteropts(int filt, const struct filterops *filtops)
{
	int error;

	sim_yield();
	if (filt > 0 || filt + ksim_syscount < 0) {
		printf("trying to add a filterop that is out of range: %d is "
		    "beyond %d\n", ~filt, ksim_syscount);
		return (EINVAL);
	}
	mtx_lock(&ksim_filterops_lock);
	if (ksim_sysfilt[~filt].for_fop != &ksim_null_filtops &&
	    ksim_sysfilt[~filt].for_fop != NULL)
		error = EEXIST;
	else {
		ksim_sysfilt[~filt].for_fop = filtops;
		ksim_sysfilt[~filt].for_refcnt = 0;
		error = 0;
	}
	mtx_unlock(&ksim_filterops_lock);
	return (error);
}

/* kqueue_del_filteropts (kern_event.c): EBUSY while for_refcnt != 0. */
int
kqueue_del_filteropts(int filt)
{
	int error;

	sim_yield();
	if (filt > 0 || filt + ksim_syscount < 0)
		return (EINVAL);
	mtx_lock(&ksim_filterops_lock);
	if (ksim_sysfilt[~filt].for_fop == &ksim_null_filtops ||
	    ksim_sysfilt[~filt].for_fop == NULL)
		error = EINVAL;
	else if (ksim_sysfilt[~filt].for_refcnt != 0)
		error = EBUSY;
	else {
		ksim_sysfilt[~filt].for_fop = &ksim_null_filtops;
		ksim_sysfilt[~filt].for_refcnt = 0;
		error = 0;
	}
	mtx_unlock(&ksim_filterops_lock);
	return (error);
}

/* kqueue_fo_find/kqueue_fo_release (kern_event.c). */
static const struct filterops *
ksim_fo_find(int filt)
{
	const struct filterops *fop;

	if (filt > 0 || filt + ksim_syscount < 0)
		return (NULL);
	mtx_lock(&ksim_filterops_lock);
	fop = ksim_sysfilt[~filt].for_fop;
	if (fop == &ksim_null_filtops)
		fop = NULL;
	if (fop != NULL)
		ksim_sysfilt[~filt].for_refcnt++;
	mtx_unlock(&ksim_filterops_lock);
	return (fop);
}

static void
ksim_fo_release(int filt)
{

	mtx_lock(&ksim_filterops_lock);
	if (ksim_sysfilt[~filt].for_refcnt <= 0)
		sim_fail("kqueue", "filter refcount underflow");
	ksim_sysfilt[~filt].for_refcnt--;
	mtx_unlock(&ksim_filterops_lock);
}

/* The slot (negative filter) whose filterops is fop, or 0. */
int
ksim_kqueue_slot_of(const void *fop)
{
	int i;

	for (i = 0; i < ksim_syscount; i++)
		if (ksim_sysfilt[i].for_fop == fop)
			return (~i);
	return (0);
}

const void *
ksim_kqueue_slot_fop(int filt)
{

	return (ksim_sysfilt[~filt].for_fop);
}

/* ---- knlist (kern_event.c knlist_mtx_lock & co.) ---------------------- */

static void
ksim_knl_mtx_lock(void *arg)
{

	mtx_lock((struct mtx *)arg);
}

static void
ksim_knl_mtx_unlock(void *arg)
{

	mtx_unlock((struct mtx *)arg);
}

static void
ksim_knl_mtx_assert(void *arg, int what)
{
	struct mtx *m = arg;

	if (what == LA_LOCKED && !mtx_owned(m))
		ksim_failf("kqueue", "knlist lock %s not held where "
		    "kern_event.c asserts it is", m->lock_object.lo_name);
	if (what == LA_UNLOCKED && mtx_owned(m))
		ksim_failf("kqueue", "knlist lock %s held where kern_event.c "
		    "asserts it is not", m->lock_object.lo_name);
}

/* KNL_ASSERT_LOCK (kern_event.c), which INVARIANTS kernels check. */
static void
ksim_knl_assert(struct knlist *knl, int locked)
{

	if (knl->kl_assert_lock == NULL)
		ksim_failf("kqueue", "knlist %p used after knlist_destroy or "
		    "before knlist_init", knl);
	knl->kl_assert_lock(knl->kl_lockarg, locked ? LA_LOCKED :
	    LA_UNLOCKED);
}

/* knlist_init_mtx (kern_event.c). */
void
knlist_init_mtx(struct knlist *knl, struct mtx *lock)
{

	sim_yield();
	if (lock == NULL)
		ksim_failf("kqueue", "knlist_init_mtx without a mutex (the "
		    "kernel would use knlist_lock, the module has none)");
	SLIST_INIT(&knl->kl_list);
	knl->kl_lockarg = lock;
	knl->kl_lock = ksim_knl_mtx_lock;
	knl->kl_unlock = ksim_knl_mtx_unlock;
	knl->kl_assert_lock = ksim_knl_mtx_assert;
	knl->kl_autodestroy = 0;
}

static struct ksim_kq *
ksim_kn_kq(struct knote *kn)
{

	return ((struct ksim_kq *)kn->kn_kq);
}

/* knlist_add (kern_event.c). */
void
knlist_add(struct knlist *knl, struct knote *kn, int islocked)
{
	struct ksim_kq *kq = ksim_kn_kq(kn);

	sim_yield();
	ksim_knl_assert(knl, islocked);
	if (mtx_owned(&kq->kq_lock))
		ksim_failf("kqueue", "knlist_add with the kq lock held");
	if (kn->kn_influx == 0)
		ksim_failf("kqueue", "knlist_add: knote %p not in flux", kn);
	if ((kn->kn_status & KN_DETACHED) == 0)
		ksim_failf("kqueue", "knlist_add: knote %p was not detached",
		    kn);
	if (!islocked)
		knl->kl_lock(knl->kl_lockarg);
	SLIST_INSERT_HEAD(&knl->kl_list, kn, kn_selnext);
	if (!islocked)
		knl->kl_unlock(knl->kl_lockarg);
	mtx_lock(&kq->kq_lock);
	kn->kn_knlist = knl;
	kn->kn_status &= ~KN_DETACHED;
	mtx_unlock(&kq->kq_lock);
}

/* knlist_remove_kq (kern_event.c). */
static void
ksim_knlist_remove_kq(struct knlist *knl, struct knote *kn, int knlislocked,
    int kqislocked)
{
	struct ksim_kq *kq = ksim_kn_kq(kn);

	ksim_knl_assert(knl, knlislocked);
	if (kqislocked != (mtx_owned(&kq->kq_lock) != 0))
		ksim_failf("kqueue", "knlist_remove: kq lock %s",
		    kqislocked ? "not held" : "held");
	if (!kqislocked && kn->kn_influx == 0)
		ksim_failf("kqueue", "knlist_remove: knote %p not in flux", kn);
	if ((kn->kn_status & KN_DETACHED) != 0)
		ksim_failf("kqueue", "knlist_remove: knote %p was already "
		    "detached", kn);
	if (kn->kn_knlist != knl)
		ksim_failf("kqueue", "knlist_remove: knote %p is on another "
		    "list", kn);
	if (!knlislocked)
		knl->kl_lock(knl->kl_lockarg);
	SLIST_REMOVE(&knl->kl_list, kn, knote, kn_selnext);
	kn->kn_knlist = NULL;
	if (!knlislocked)
		knl->kl_unlock(knl->kl_lockarg);
	if (!kqislocked)
		mtx_lock(&kq->kq_lock);
	kn->kn_status |= KN_DETACHED;
	if (!kqislocked)
		mtx_unlock(&kq->kq_lock);
}

void
knlist_remove(struct knlist *knl, struct knote *kn, int islocked)
{

	sim_yield();
	ksim_knlist_remove_kq(knl, kn, islocked, 0);
}

/* knlist_empty (kern_event.c): KNL_ASSERT_LOCKED. */
int
knlist_empty(struct knlist *knl)
{

	sim_yield();
	ksim_knl_assert(knl, 1);
	return (SLIST_EMPTY(&knl->kl_list));
}

/* knlist_destroy (kern_event.c): "destroying knlist %p with knotes". */
void
knlist_destroy(struct knlist *knl)
{

	sim_yield();
	if (!SLIST_EMPTY(&knl->kl_list))
		ksim_failf("kqueue", "destroying knlist %p with knotes on it",
		    knl);
	knl->kl_lockarg = NULL;
	knl->kl_lock = NULL;
	knl->kl_unlock = NULL;
	knl->kl_assert_lock = NULL;
}

/* ---- knotes ------------------------------------------------------- */

static void
ksim_kn_enter_flux(struct knote *kn)
{

	kn->kn_influx++;
}

static int
ksim_kn_leave_flux(struct knote *kn)
{

	if (kn->kn_influx <= 0)
		ksim_failf("kqueue", "knote %p leaving flux too often", kn);
	return (--kn->kn_influx == 0);
}

static void
ksim_knote_enqueue(struct ksim_kq *kq, struct knote *kn)
{

	TAILQ_INSERT_TAIL(&kq->kq_head, kn, kn_tqe);
	kn->kn_status |= KN_QUEUED;
	kq->kq_count++;
	sim_wakeup(kq, 0);
}

static void
ksim_knote_dequeue(struct ksim_kq *kq, struct knote *kn)
{

	TAILQ_REMOVE(&kq->kq_head, kn, kn_tqe);
	kn->kn_status &= ~KN_QUEUED;
	kq->kq_count--;
}

static void
ksim_module_detach(struct knote *kn)
{

	sim_module_enter("f_detach");
	kn->kn_fop->f_detach(kn);
	sim_module_exit();
}

static int
ksim_module_event(struct knote *kn, long hint)
{
	int r;

	sim_module_enter("f_event");
	r = kn->kn_fop->f_event(kn, hint);
	sim_module_exit();
	return (r);
}

/*
 * knote_drop_detached (kern_event.c): KASSERTs the knote is detached and
 * in flux at least once; waits (KQ_FLUX_SLEEP) until this is the only
 * thread holding it in flux (kern_proc_kqueue_report_one may hold it too);
 * unlinks it; releases the filter reference.
 */
static void
ksim_knote_drop_detached(struct knote *kn, struct thread *td)
{
	struct ksim_kq *kq = ksim_kn_kq(kn);

	if ((kn->kn_status & KN_DETACHED) == 0)
		ksim_failf("kqueue", "knote %p still attached (f_detach did "
		    "not knlist_remove it)", kn);
	if (mtx_owned(&kq->kq_lock))
		ksim_failf("kqueue", "knote_drop_detached with the kq lock "
		    "held");
	mtx_lock(&kq->kq_lock);
	for (;;) {
		if (kn->kn_influx < 1)
			ksim_failf("kqueue", "knote_drop_detached: knote %p "
			    "influx %d", kn, kn->kn_influx);
		if (kn->kn_influx == 1)
			break;
		sim_count("knote_drop_waited_flux");
		_sleep(kn, &kq->kq_lock.lock_object, PSOCK, "kqflxwt", 0, 0,
		    0);
	}
	SLIST_REMOVE(&kq->kq_all, kn, knote, kn_link);
	if ((kn->kn_status & KN_QUEUED) != 0)
		ksim_knote_dequeue(kq, kn);
	kn->kn_influx = 0;
	sim_wakeup(kn, 0);
	sim_wakeup(&kq->kq_all, 0);
	mtx_unlock(&kq->kq_lock);
	ksim_fo_release(kn->kn_kevent.filter);
	kn->kn_fop = NULL;
	kn->kn_status = -1;
	ksim_zfree(kn, sizeof(*kn));
}

/* knote_drop (kern_event.c). */
static void
ksim_knote_drop(struct knote *kn, struct thread *td)
{

	if ((kn->kn_status & KN_DETACHED) == 0)
		ksim_module_detach(kn);
	ksim_knote_drop_detached(kn, td);
}

/*
 * knote (kern_event.c): KNL_ASSERT_LOCK(list, lockflags & KNF_LISTLOCKED);
 * a knote in flux without KN_SCAN is skipped (its event is lost to this
 * call); otherwise f_event runs under the list and kq locks, and a true
 * answer activates the knote.
 */
void
knote(struct knlist *list, long hint, int lockflags)
{
	struct knote *kn, *tkn;
	struct ksim_kq *kq;

	sim_yield();
	if (list == NULL)
		return;
	ksim_knl_assert(list, (lockflags & KNF_LISTLOCKED) != 0);
	if ((lockflags & KNF_LISTLOCKED) == 0)
		list->kl_lock(list->kl_lockarg);
	SLIST_FOREACH_SAFE(kn, &list->kl_list, kn_selnext, tkn) {
		kq = ksim_kn_kq(kn);
		mtx_lock(&kq->kq_lock);
		if (kn->kn_influx > 0 && (kn->kn_status & KN_SCAN) == 0) {
			sim_count("knote_skipped_influx");
			mtx_unlock(&kq->kq_lock);
		} else if ((lockflags & KNF_NOKQLOCK) != 0) {
			ksim_kn_enter_flux(kn);
			mtx_unlock(&kq->kq_lock);
			if (ksim_module_event(kn, hint)) {
				mtx_lock(&kq->kq_lock);
				kn->kn_status |= KN_ACTIVE;
				if ((kn->kn_status & (KN_QUEUED |
				    KN_DISABLED)) == 0)
					ksim_knote_enqueue(kq, kn);
			} else
				mtx_lock(&kq->kq_lock);
			if (ksim_kn_leave_flux(kn))
				sim_wakeup(kn, 0);
			mtx_unlock(&kq->kq_lock);
		} else {
			if (ksim_module_event(kn, hint)) {
				kn->kn_status |= KN_ACTIVE;
				if ((kn->kn_status & (KN_QUEUED |
				    KN_DISABLED)) == 0)
					ksim_knote_enqueue(kq, kn);
			}
			mtx_unlock(&kq->kq_lock);
		}
	}
	if ((lockflags & KNF_LISTLOCKED) == 0)
		list->kl_unlock(list->kl_lockarg);
}

/*
 * knlist_cleardel (kern_event.c): islocked says whether the caller holds
 * the list's lock (KNL_ASSERT_LOCKED) or not (KNL_ASSERT_UNLOCKED; then it
 * takes it itself, and releases it before returning).  Each pass removes
 * the knotes not in flux; with killkn, each removed knote is dropped with
 * the list lock released around knote_drop_detached, and the pass starts
 * over.  While knotes in flux remain, the list lock is released and the
 * thread sleeps until they leave flux ("kqkclr"), then retakes it.  So
 * the lock is released and retaken inside, even when the caller holds it.
 */
void
knlist_cleardel(struct knlist *knl, struct thread *td, int islocked,
    int killkn)
{
	struct knote *kn, *kn2;
	struct ksim_kq *kq;
	int dropped;

	sim_yield();
	if (islocked)
		ksim_knl_assert(knl, 1);
	else {
		ksim_knl_assert(knl, 0);
		knl->kl_lock(knl->kl_lockarg);
	}
	for (;;) {
		dropped = 0;
		SLIST_FOREACH_SAFE(kn, &knl->kl_list, kn_selnext, kn2) {
			kq = ksim_kn_kq(kn);
			mtx_lock(&kq->kq_lock);
			if (kn->kn_influx > 0) {
				mtx_unlock(&kq->kq_lock);
				continue;
			}
			ksim_knlist_remove_kq(knl, kn, 1, 1);
			if (killkn) {
				ksim_kn_enter_flux(kn);
				mtx_unlock(&kq->kq_lock);
				knl->kl_unlock(knl->kl_lockarg);
				ksim_knote_drop_detached(kn, td);
				knl->kl_lock(knl->kl_lockarg);
				dropped = 1;
				break;
			}
			kn->kn_kevent.flags |= EV_EOF | EV_ONESHOT;
			mtx_unlock(&kq->kq_lock);
		}
		if (dropped)
			continue;
		if (SLIST_EMPTY(&knl->kl_list))
			break;
		/* Knotes in flux remain: wait for them to settle. */
		kn = SLIST_FIRST(&knl->kl_list);
		kq = ksim_kn_kq(kn);
		mtx_lock(&kq->kq_lock);
		knl->kl_unlock(knl->kl_lockarg);
		sim_count("knlist_cleardel_slept");
		/* KQ_FLUX_SLEEP_WMESG(kq, kn, PDROP, "kqkclr") */
		_sleep(kn, &kq->kq_lock.lock_object, PSOCK | PDROP, "kqkclr",
		    0, 0, 0);
		knl->kl_lock(knl->kl_lockarg);
	}
	if (islocked)
		ksim_knl_assert(knl, 1);
	else {
		knl->kl_unlock(knl->kl_lockarg);
		ksim_knl_assert(knl, 0);
	}
}

/* ---- kqueues ------------------------------------------------------ */

static int ksim_kqueue_close(struct file *fp, struct thread *td);

static struct fileops ksim_kqueueops = {
	.fo_close = ksim_kqueue_close,
	.fo_flags = DFLAG_PASSABLE,
};

/* kqueue(2) (kern_kqueue → kqueue_init). */
int
ksim_sys_kqueue(void)
{
	struct ksim_kq *kq;
	struct file *fp;
	int fd;

	kq = ksim_zalloc(sizeof(*kq));
	mtx_init(&kq->kq_lock, "kqueue", NULL, MTX_DEF | MTX_DUPOK);
	TAILQ_INIT(&kq->kq_head);
	SLIST_INIT(&kq->kq_all);
	kq->kq_proc = ksim_curproc();
	fp = ksim_file_alloc(DTYPE_KQUEUE, &ksim_kqueueops, kq, NULL,
	    FREAD | FWRITE, curthread->td_ucred);
	fd = ksim_fd_install(kq->kq_proc, fp);
	if (fd < 0)
		(void)ksim_fdrop(fp, curthread);
	return (fd);
}

static struct knote *
ksim_kq_find(struct ksim_kq *kq, uintptr_t ident, short filter)
{
	struct knote *kn;

	SLIST_FOREACH(kn, &kq->kq_all, kn_link)
		if (kn->kn_kevent.ident == ident &&
		    kn->kn_kevent.filter == filter)
			return (kn);
	return (NULL);
}

/*
 * kqueue_register (kern_event.c), for the filters of the sim's kernel:
 * EV_ADD of a new knote (EV_ADD of an existing one only updates udata
 * here, as the module's knotes have no f_touch), EV_DELETE.
 */
static int
ksim_kqueue_register(struct ksim_kq *kq, struct kevent *kev,
    struct thread *td, int mflag)
{
	const struct filterops *fops;
	struct knote *kn;
	struct knlist *knl;
	int error, event;

	if ((kev->flags & (EV_ADD | EV_DELETE)) == 0)
		return (EINVAL);
	fops = ksim_fo_find(kev->filter);
	if (fops == NULL)
		return (EINVAL);
	if (fops->f_isfd)
		sim_fail("sim", "fd filters are not modelled");
	if ((kev->flags & EV_ADD) != 0 && (mflag & M_WAITOK) != 0)
		sim_check_may_sleep("kqueue_register (knote_alloc M_WAITOK)",
		    NULL);
findkn:
	mtx_lock(&kq->kq_lock);
	kn = ksim_kq_find(kq, kev->ident, kev->filter);
	if (kn != NULL && kn->kn_influx > 0) {
		_sleep(kn, &kq->kq_lock.lock_object, PSOCK | PDROP, "kqflxwt",
		    0, 0, 0);
		goto findkn;
	}
	if (kn == NULL) {
		if ((kev->flags & EV_ADD) == 0) {
			mtx_unlock(&kq->kq_lock);
			ksim_fo_release(kev->filter);
			return (ENOENT);
		}
		mtx_unlock(&kq->kq_lock);
		kn = ksim_zalloc(sizeof(*kn));
		kn->kn_fop = fops;
		/*
		 * As kqueue_register: fflags and data go to kn_sfflags and
		 * kn_sdata and are zeroed before the kevent is copied, so
		 * kn_fflags and kn_data start at 0.
		 */
		kn->kn_sfflags = kev->fflags;
		kn->kn_sdata = kev->data;
		kev->fflags = 0;
		kev->data = 0;
		kn->kn_kevent = *kev;
		kn->kn_kevent.flags &= ~(EV_ADD | EV_DELETE | EV_ENABLE |
		    EV_DISABLE | EV_FORCEONESHOT);
		kn->kn_kq = (struct kqueue *)kq;
		kn->kn_status = KN_DETACHED;
		if ((kev->flags & EV_DISABLE) != 0)
			kn->kn_status |= KN_DISABLED;
		ksim_kn_enter_flux(kn);
		mtx_lock(&kq->kq_lock);
		if (kq->kq_closing) {
			mtx_unlock(&kq->kq_lock);
			ksim_zfree(kn, sizeof(*kn));
			ksim_fo_release(kev->filter);
			return (EBADF);
		}
		SLIST_INSERT_HEAD(&kq->kq_all, kn, kn_link);
		mtx_unlock(&kq->kq_lock);
		sim_module_enter("f_attach");
		error = kn->kn_fop->f_attach(kn);
		sim_module_exit();
		if (error != 0) {
			ksim_knote_drop_detached(kn, td);
			return (error);
		}
		/* The knote keeps the filter reference (fops = NULL). */
		knl = kn->kn_knlist;
		if (knl == NULL || (kn->kn_status & KN_DETACHED) != 0)
			ksim_failf("kqueue", "f_attach succeeded without "
			    "putting the knote on a knlist");
		knl->kl_lock(knl->kl_lockarg);
		event = (kn->kn_status & KN_DISABLED) == 0 ?
		    ksim_module_event(kn, 0) : 0;
		mtx_lock(&kq->kq_lock);
		if (event)
			kn->kn_status |= KN_ACTIVE;
		if ((kn->kn_status & (KN_ACTIVE | KN_DISABLED | KN_QUEUED)) ==
		    KN_ACTIVE)
			ksim_knote_enqueue(kq, kn);
		kn->kn_status &= ~KN_SCAN;
		if (ksim_kn_leave_flux(kn))
			sim_wakeup(kn, 0);
		knl->kl_unlock(knl->kl_lockarg);
		mtx_unlock(&kq->kq_lock);
		return (0);
	}
	if ((kev->flags & EV_DELETE) != 0) {
		ksim_kn_enter_flux(kn);
		mtx_unlock(&kq->kq_lock);
		ksim_knote_drop(kn, td);
		ksim_fo_release(kev->filter);
		return (0);
	}
	kn->kn_kevent.udata = kev->udata;
	mtx_unlock(&kq->kq_lock);
	ksim_fo_release(kev->filter);
	return (0);
}

/*
 * The kqueue behind descriptor `fd`, looked up with the rights the caller
 * names (fget: EBADF, ENOTCAPABLE), then kqueue_acquire (kern_event.c):
 * a file that is not a kqueue is EINVAL.
 */
static int
ksim_kq_acquire(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{
	struct file *fp;
	int error;

	error = fget(td, fd, rightsp, &fp);
	if (error != 0)
		return (error);
	if (fp->f_type != DTYPE_KQUEUE) {
		(void)ksim_fdrop(fp, td);
		return (EINVAL);
	}
	*fpp = fp;
	return (0);
}

/*
 * kqfd_register (kern_event.c, FreeBSD 15): the kqueue descriptor is
 * looked up with CAP_KQUEUE_CHANGE, the right kevent(2) needs to change
 * a kqueue (ENOTCAPABLE without it), then kqueue_acquire, kqueue_register.
 */
int
kqfd_register(int fd, struct kevent *kev, struct thread *td, int mflag)
{
	struct file *fp;
	cap_rights_t rights;
	int error;

	sim_yield();
	error = ksim_kq_acquire(td, fd,
	    cap_rights_init_one(&rights, CAP_KQUEUE_CHANGE), &fp);
	if (error != 0)
		return (error);
	error = ksim_kqueue_register(fp->f_data, kev, td, mflag);
	(void)ksim_fdrop(fp, td);
	return (error);
}

/*
 * kevent(2): changes are registered one by one (an error with room in the
 * event list becomes an EV_ERROR event, as kqueue_kevent does), then
 * kqueue_scan: queued knotes are delivered; EV_ONESHOT ones without
 * calling f_event, then dropped; others are checked with f_event under
 * their knlist lock.  timo < 0 waits forever; 0 polls.
 */
int
ksim_sys_kevent(int fd, struct kevent *changes, int nchanges,
    struct kevent *events, int nevents, int64_t timo)
{
	struct thread *td = curthread;
	struct knote *kn;
	struct knlist *knl;
	struct ksim_kq *kq;
	struct file *fp;
	struct kevent kev;
	cap_rights_t rights;
	int error, i, n, r;

	/*
	 * kern_kevent: CAP_KQUEUE_CHANGE to register changes, CAP_KQUEUE_EVENT
	 * to collect events.
	 */
	cap_rights_init_zero(&rights);
	if (nchanges > 0)
		cap_rights_set_one(&rights, CAP_KQUEUE_CHANGE);
	if (nevents > 0)
		cap_rights_set_one(&rights, CAP_KQUEUE_EVENT);
	error = ksim_kq_acquire(td, fd, &rights, &fp);
	if (error != 0)
		return (-error);
	kq = fp->f_data;
	n = 0;
	for (i = 0; i < nchanges; i++) {
		kev = changes[i];
		kev.flags &= ~EV_FLAG1;	/* kern_kevent_generic: user flags */
		error = ksim_kqueue_register(kq, &kev, td, M_WAITOK);
		if (error != 0 || (changes[i].flags & EV_RECEIPT) != 0) {
			if (n < nevents) {
				kev = changes[i];
				kev.flags = EV_ERROR;
				kev.data = error;
				events[n++] = kev;
			} else if (error != 0) {
				(void)ksim_fdrop(fp, td);
				return (-error);
			}
		}
	}
	mtx_lock(&kq->kq_lock);
	while (n < nevents) {
		kn = TAILQ_FIRST(&kq->kq_head);
		if (kn == NULL) {
			if (n > 0 || timo == 0)
				break;
			r = _sleep(kq, &kq->kq_lock.lock_object, PSOCK | PCATCH,
			    "kqread", timo > 0 ? timo * tick_sbt : 0, 0, 0);
			if (r == EWOULDBLOCK)
				break;
			continue;
		}
		if (kn->kn_influx > 0) {
			_sleep(kn, &kq->kq_lock.lock_object, PSOCK,
			    "kqflxwt", 0, 0, 0);
			continue;
		}
		ksim_knote_dequeue(kq, kn);
		if ((kn->kn_status & KN_DISABLED) != 0) {
			kn->kn_status &= ~KN_ACTIVE;
			continue;
		}
		if ((kn->kn_kevent.flags & EV_ONESHOT) != 0) {
			kn->kn_status |= KN_SCAN;
			ksim_kn_enter_flux(kn);
			mtx_unlock(&kq->kq_lock);
			events[n++] = kn->kn_kevent;
			ksim_knote_drop(kn, td);
			mtx_lock(&kq->kq_lock);
			continue;
		}
		kn->kn_status |= KN_SCAN;
		ksim_kn_enter_flux(kn);
		mtx_unlock(&kq->kq_lock);
		knl = kn->kn_knlist;
		if (knl != NULL)
			knl->kl_lock(knl->kl_lockarg);
		r = (kn->kn_status & KN_DETACHED) == 0 ?
		    ksim_module_event(kn, 0) : 1;
		mtx_lock(&kq->kq_lock);
		if (r == 0) {
			kn->kn_status &= ~(KN_ACTIVE | KN_SCAN);
			ksim_kn_leave_flux(kn);
		} else {
			events[n++] = kn->kn_kevent;
			kn->kn_status &= ~KN_SCAN;
			ksim_kn_leave_flux(kn);
			kn->kn_status &= ~KN_ACTIVE;
		}
		sim_wakeup(kn, 0);
		if (knl != NULL)
			knl->kl_unlock(knl->kl_lockarg);
	}
	mtx_unlock(&kq->kq_lock);
	(void)ksim_fdrop(fp, td);
	return (n);
}

/*
 * kqueue_close (kern_event.c): every knote is dropped (waiting for those
 * in flux), f_detach called for the attached ones.
 */
static int
ksim_kqueue_close(struct file *fp, struct thread *td)
{
	struct ksim_kq *kq = fp->f_data;
	struct knote *kn;

	mtx_lock(&kq->kq_lock);
	kq->kq_closing = 1;
	while ((kn = SLIST_FIRST(&kq->kq_all)) != NULL) {
		if (kn->kn_influx > 0) {
			_sleep(kn, &kq->kq_lock.lock_object, PSOCK, "kqclo1",
			    0, 0, 0);
			continue;
		}
		ksim_kn_enter_flux(kn);
		mtx_unlock(&kq->kq_lock);
		ksim_knote_drop(kn, td);
		mtx_lock(&kq->kq_lock);
	}
	mtx_unlock(&kq->kq_lock);
	mtx_destroy(&kq->kq_lock);
	return (0);
}

/* knote_status_export (kern_event.c): kn_status bits as KNOTE_STATUS_*. */
static int
ksim_knote_status_export(int kn_status)
{
	int res;

	res = 0;
	if ((kn_status & KN_ACTIVE) != 0)
		res |= KNOTE_STATUS_ACTIVE;
	if ((kn_status & KN_QUEUED) != 0)
		res |= KNOTE_STATUS_QUEUED;
	if ((kn_status & KN_DISABLED) != 0)
		res |= KNOTE_STATUS_DISABLED;
	if ((kn_status & KN_DETACHED) != 0)
		res |= KNOTE_STATUS_DETACHED;
	if ((kn_status & KN_KQUEUE) != 0)
		res |= KNOTE_STATUS_KQUEUE;
	return (res);
}

static int
ksim_bytes_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != 0)
			return (0);
	return (1);
}

/*
 * kern_proc_kqueue_report_one (kern_event.c): with the kq lock held, the
 * record is zeroed and takes the kq descriptor, a copy of kn_kevent and
 * the exported status; then the knote enters flux (without KN_SCAN, also
 * if it already is in flux: only markers are skipped), the kq lock is
 * dropped, f_userdump (if any) fills the filter's part with no lock held
 * (its answer is ignored), the record is appended to the sbuf (which may
 * sleep: the sim holds the knote in flux across `naps` yields), and the
 * knote leaves flux under the kq lock again.  The sim's "sbuf" is the
 * caller's array: what each record held before and after f_userdump.
 */
static void
ksim_kqueue_report_one(int kq_fd, struct ksim_kq *kq, struct knote *kn,
    int naps, struct ksim_knote_dump *out)
{
	struct kinfo_knote *kin;
	int i;

	kin = ksim_zalloc(sizeof(*kin));
	memset(kin, 0, sizeof(*kin));
	kin->knt_kq_fd = kq_fd;
	memcpy(&kin->knt_event, &kn->kn_kevent, sizeof(struct kevent));
	kin->knt_status = ksim_knote_status_export(kn->kn_status);
	ksim_kn_enter_flux(kn);
	mtx_unlock(&kq->kq_lock);
	if (out != NULL)
		out->kd_snapshot = kin->knt_event;
	if (kn->kn_fop->f_userdump != NULL) {
		sim_module_enter("f_userdump");
		(void)kn->kn_fop->f_userdump(&kq->kq_proc->kp_proc, kn, kin);
		sim_module_exit();
		if (out != NULL)
			out->kd_userdump = 1;
	}
	for (i = 0; i < naps; i++)
		sim_yield();
	if (out != NULL) {
		out->kd_kq_fd = kin->knt_kq_fd;
		out->kd_event = kin->knt_event;
		out->kd_status = kin->knt_status;
		out->kd_extdata = kin->knt_extdata;
		out->kd_rest_zero = ksim_bytes_zero(kin->knt_spare0,
		    sizeof(kin->knt_spare0)) &&
		    ksim_bytes_zero(&kin->knt_vnode, sizeof(kin->knt_vnode));
	}
	ksim_zfree(kin, sizeof(*kin));
	mtx_lock(&kq->kq_lock);
	ksim_kn_leave_flux(kn);
	/* KQ_UNLOCK_FLUX: wake whoever waits on the knote's flux. */
	sim_wakeup(kn, 0);
}

/*
 * kern_proc_kqueue_report (kern_event.c; sysctl KERN_PROC_KQUEUE, i.e.
 * procstat -k, and core dumps): every knote of the kqueue, under the kq
 * lock, through kern_proc_kqueue_report_one.  Fills at most `nout`
 * records of `out` (may be NULL); returns the number of knotes reported.
 * The kqueue is found as sysctl_kern_proc_kqueue_one finds it: fget_remote
 * of the caller's own descriptor (fget_unlocked with cap_no_rights), and
 * EINVAL for a file that is not a kqueue.
 */
int
ksim_kqueue_report(int fd, int naps, struct ksim_knote_dump *out, int nout)
{
	struct thread *td = curthread;
	struct ksim_kq *kq;
	struct knote *kn;
	struct file *fp;
	int error, n;

	error = ksim_kq_acquire(td, fd, &cap_no_rights, &fp);
	if (error != 0)
		return (-error);
	kq = fp->f_data;
	n = 0;
	mtx_lock(&kq->kq_lock);
	SLIST_FOREACH(kn, &kq->kq_all, kn_link) {
		ksim_kqueue_report_one(fd, kq, kn, naps,
		    out != NULL && n < nout ? &out[n] : NULL);
		n++;
	}
	mtx_unlock(&kq->kq_lock);
	(void)ksim_fdrop(fp, td);
	return (n);
}

/* Knotes of kqueue `fd` held in flux now (-errno for a bad descriptor). */
int
ksim_kqueue_influx(int fd)
{
	struct thread *td = curthread;
	struct ksim_kq *kq;
	struct knote *kn;
	struct file *fp;
	int error, n;

	error = ksim_kq_acquire(td, fd, &cap_no_rights, &fp);
	if (error != 0)
		return (-error);
	kq = fp->f_data;
	n = 0;
	mtx_lock(&kq->kq_lock);
	SLIST_FOREACH(kn, &kq->kq_all, kn_link)
		if (kn->kn_influx > 0)
			n++;
	mtx_unlock(&kq->kq_lock);
	(void)ksim_fdrop(fp, td);
	return (n);
}

/* Descriptors are not kqueue identifiers for the module's filters. */
void
ksim_kqueue_fd_closed(struct ksim_proc *kp, int fd)
{
}

/* Knotes of the module's filters alive now (for leak checks). */
int
ksim_kqueue_knotes_using(int filt)
{

	if (filt > 0 || filt + ksim_syscount < 0)
		return (0);
	return (ksim_sysfilt[~filt].for_refcnt);
}
