/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of taskqueue(9) with thread queues.  Sources read:
 * sys/kern/subr_taskqueue.c (taskqueue_create → _taskqueue_create,
 * taskqueue_enqueue: a pending task only counts up (ta_pending, capped
 * at USHRT_MAX), else it is queued and the queue's enqueue function
 * called; taskqueue_run_locked: ta_pending reset before the handler runs
 * with the queue unlocked; taskqueue_drain: sleeps while the task is
 * pending or running, WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK, ...);
 * taskqueue_free: the queue stops, its threads run what is left and exit,
 * and it waits for them; taskqueue_member; taskqueue_cancel;
 * taskqueue_thread_loop; taskqueue_thread_enqueue:
 * wakeup of *(struct taskqueue **)context; taskqueue_start_threads).
 */
#include "ksim.h"

#include <sys/limits.h>
#include <sys/malloc.h>
#include <sys/queue.h>
#include <sys/taskqueue.h>

struct taskqueue {
	STAILQ_HEAD(, task)	 tq_queue;
	taskqueue_enqueue_fn	 tq_enqueue;
	void			*tq_context;
	char			 tq_name[32];
	struct mtx		 tq_mutex;
	int			 tq_active;	/* TQ_FLAGS_ACTIVE */
	int			 tq_tcount;	/* threads alive */
	int			 tq_started;
	struct task		*tq_running[16];
	struct thread		*tq_threads[16];
	int			 tq_nthreads;
};

#define	KSIM_NTQ	16
static struct taskqueue *ksim_tqs[KSIM_NTQ];

struct taskqueue *
taskqueue_create(const char *name, int mflags, taskqueue_enqueue_fn enqueue,
    void *context)
{
	struct taskqueue *tq;
	int i;

	sim_yield();
	if ((mflags & M_WAITOK) != 0)
		sim_check_may_sleep("taskqueue_create(M_WAITOK)", NULL);
	tq = ksim_zalloc(sizeof(*tq));
	STAILQ_INIT(&tq->tq_queue);
	tq->tq_enqueue = enqueue;
	tq->tq_context = context;
	strncpy(tq->tq_name, name, sizeof(tq->tq_name) - 1);
	mtx_init(&tq->tq_mutex, "taskqueue", NULL, MTX_DEF | MTX_DUPOK);
	tq->tq_active = 1;
	for (i = 0; i < KSIM_NTQ; i++)
		if (ksim_tqs[i] == NULL) {
			ksim_tqs[i] = tq;
			break;
		}
	return (tq);
}

/* taskqueue_thread_enqueue (subr_taskqueue.c). */
void
taskqueue_thread_enqueue(void *context)
{
	struct taskqueue **tqp = context;

	sim_wakeup(*tqp, 1);
}

/* taskqueue_run_locked (subr_taskqueue.c), for thread `slot`. */
static void
ksim_tq_run_locked(struct taskqueue *tq, int slot)
{
	struct task *task;
	int pending;

	while ((task = STAILQ_FIRST(&tq->tq_queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&tq->tq_queue, ta_link);
		pending = task->ta_pending;
		task->ta_pending = 0;
		tq->tq_running[slot] = task;
		mtx_unlock(&tq->tq_mutex);
		sim_module_enter("taskqueue task");
		task->ta_func(task->ta_context, pending);
		sim_module_exit();
		mtx_lock(&tq->tq_mutex);
		tq->tq_running[slot] = NULL;
		sim_wakeup(task, 0);
	}
}

struct ksim_tq_thread {
	struct taskqueue *tq;
	int		 slot;
};

/* taskqueue_thread_loop (subr_taskqueue.c). */
static void
ksim_tq_loop(void *arg)
{
	struct ksim_tq_thread *t = arg;
	struct taskqueue *tq = t->tq;

	mtx_lock(&tq->tq_mutex);
	tq->tq_threads[t->slot] = curthread;
	while (tq->tq_active) {
		ksim_tq_run_locked(tq, t->slot);
		if (!tq->tq_active)
			break;
		_sleep(tq, &tq->tq_mutex.lock_object, 0, "-", 0, 0, 0);
	}
	ksim_tq_run_locked(tq, t->slot);
	tq->tq_threads[t->slot] = NULL;
	tq->tq_tcount--;
	sim_wakeup(&tq->tq_tcount, 0);
	mtx_unlock(&tq->tq_mutex);
}

int
taskqueue_start_threads(struct taskqueue **tqp, int count, int pri,
    const char *name, ...)
{
	struct taskqueue *tq = *tqp;
	struct ksim_tq_thread *t;
	char tname[48];
	int i;

	sim_yield();
	sim_check_may_sleep("taskqueue_start_threads", NULL);
	if (count <= 0 || count > 16)
		ksim_failf("taskqueue", "taskqueue_start_threads: count %d",
		    count);
	for (i = 0; i < count; i++) {
		t = ksim_zalloc(sizeof(*t));
		t->tq = tq;
		t->slot = i;
		snprintf(tname, sizeof(tname), "%s#%d", tq->tq_name, i);
		mtx_lock(&tq->tq_mutex);
		tq->tq_tcount++;
		mtx_unlock(&tq->tq_mutex);
		sim_spawn_kthread(tname, KSIM_TASKQUEUE, ksim_tq_loop, t);
	}
	tq->tq_nthreads = count;
	tq->tq_started = 1;
	return (0);
}

/* taskqueue_enqueue (subr_taskqueue.c). */
int
taskqueue_enqueue(struct taskqueue *tq, struct task *task)
{

	sim_yield();
	mtx_lock(&tq->tq_mutex);
	if (task->ta_pending) {
		if (task->ta_pending < USHRT_MAX)
			task->ta_pending++;
		mtx_unlock(&tq->tq_mutex);
		return (0);
	}
	STAILQ_INSERT_TAIL(&tq->tq_queue, task, ta_link);
	task->ta_pending = 1;
	tq->tq_enqueue(tq->tq_context);
	mtx_unlock(&tq->tq_mutex);
	return (0);
}

static int
ksim_task_is_running(struct taskqueue *tq, struct task *task)
{
	int i;

	for (i = 0; i < 16; i++)
		if (tq->tq_running[i] == task)
			return (1);
	return (0);
}

/* taskqueue_drain (subr_taskqueue.c). */
void
taskqueue_drain(struct taskqueue *tq, struct task *task)
{

	sim_yield();
	sim_check_may_sleep("taskqueue_drain", NULL);
	mtx_lock(&tq->tq_mutex);
	while (task->ta_pending != 0 || ksim_task_is_running(tq, task))
		_sleep(task, &tq->tq_mutex.lock_object, PWAIT, "tq_drain", 0,
		    0, 0);
	mtx_unlock(&tq->tq_mutex);
}

/* taskqueue_member (subr_taskqueue.c): td is one of tq's threads. */
int
taskqueue_member(struct taskqueue *tq, struct thread *td)
{
	int i;

	sim_yield();
	for (i = 0; i < 16; i++)
		if (tq->tq_threads[i] == td)
			return (1);
	return (0);
}

/*
 * taskqueue_cancel (subr_taskqueue.c, taskqueue_cancel_locked): a queued
 * task is taken off the queue, its pending count reported and cleared;
 * EBUSY if it is running now.
 */
int
taskqueue_cancel(struct taskqueue *tq, struct task *task, u_int *pendp)
{
	int error;

	sim_yield();
	mtx_lock(&tq->tq_mutex);
	if (task->ta_pending > 0)
		STAILQ_REMOVE(&tq->tq_queue, task, task, ta_link);
	if (pendp != NULL)
		*pendp = task->ta_pending;
	task->ta_pending = 0;
	error = ksim_task_is_running(tq, task) ? EBUSY : 0;
	mtx_unlock(&tq->tq_mutex);
	return (error);
}

/* taskqueue_free (subr_taskqueue.c): taskqueue_terminate, then free. */
void
taskqueue_free(struct taskqueue *tq)
{
	int i;

	sim_yield();
	sim_check_may_sleep("taskqueue_free", NULL);
	mtx_lock(&tq->tq_mutex);
	tq->tq_active = 0;
	sim_wakeup(tq, 0);
	while (tq->tq_tcount > 0)
		_sleep(&tq->tq_tcount, &tq->tq_mutex.lock_object, PWAIT,
		    "tq_destroy", 0, 0, 0);
	if (!STAILQ_EMPTY(&tq->tq_queue))
		ksim_failf("taskqueue", "taskqueue_free: tasks still queued");
	mtx_unlock(&tq->tq_mutex);
	mtx_destroy(&tq->tq_mutex);
	for (i = 0; i < KSIM_NTQ; i++)
		if (ksim_tqs[i] == tq)
			ksim_tqs[i] = NULL;
	ksim_zfree(tq, sizeof(*tq));
}

/* Queues alive now (unload leaves none). */
int
ksim_taskqueues_alive(void)
{
	int i, n;

	n = 0;
	for (i = 0; i < KSIM_NTQ; i++)
		if (ksim_tqs[i] != NULL)
			n++;
	return (n);
}
