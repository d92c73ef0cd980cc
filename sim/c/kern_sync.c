/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim models of mutex(9), critical(9), sleep(9)/wakeup(9), pause(9)
 * and the clock variables.  Sources read: sys/kern/kern_mutex.c
 * (_mtx_init, _mtx_destroy, __mtx_lock_flags, __mtx_unlock_flags),
 * sys/kern/kern_switch.c (critical_enter_KBI, critical_exit_KBI),
 * sys/kern/kern_synch.c (_sleep, wakeup, pause_sbt), sys/kern/subr_witness.c
 * (witness_checkorder, witness_warn), sys/kern/kern_clock.c (hz, tick_sbt).
 */
#include "ksim.h"

#include <sys/sleepqueue.h>

/* kern_clock.c: the simulated clock ticks 1000 times a second. */
int hz = 1000;
sbintime_t tick_sbt = SBT_1S / 1000;

static struct mtx *
ksim_c2m(volatile uintptr_t *c)
{

	return (__containerof(c, struct mtx, mtx_lock));
}

/*
 * _mtx_init (kern_mutex.c): a mutex is initialised once (WITNESS and
 * INVARIANTS panic on "lock (%s) %s %p already initialized"), with its
 * class (sleep or spin) from MTX_SPIN; the name is WITNESS's lock type
 * unless a type is given.
 */
void
_mtx_init(volatile uintptr_t *c, const char *name, const char *type, int opts)
{
	struct mtx *m = ksim_c2m(c);

	sim_yield();
	if ((m->lock_object.lo_flags & LO_INITIALIZED) != 0)
		ksim_failf("mutex", "mtx_init: lock \"%s\" already initialized",
		    name);
	m->lock_object.lo_name = name;
	m->lock_object.lo_flags = LO_INITIALIZED |
	    ((opts & MTX_RECURSE) ? LO_RECURSABLE : 0) |
	    ((opts & MTX_DUPOK) ? LO_DUPOK : 0) |
	    ((opts & MTX_SPIN) ? (1 << LO_CLASSSHIFT) : 0);
	m->lock_object.lo_data = 0;
	m->lock_object.lo_witness = (void *)(uintptr_t)(type != NULL ? type :
	    name);
	m->mtx_lock = MTX_UNOWNED;
}

/*
 * _mtx_destroy (kern_mutex.c): destroying a mutex that some other thread
 * owns is an assertion failure ("mtx_destroy: %s not owned"); destroying
 * an uninitialised one too.
 */
void
_mtx_destroy(volatile uintptr_t *c)
{
	struct mtx *m = ksim_c2m(c);

	sim_yield();
	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0)
		ksim_failf("mutex", "mtx_destroy of an uninitialised mutex");
	if (m->mtx_lock != MTX_UNOWNED)
		ksim_failf("mutex", "mtx_destroy: mutex \"%s\" is held",
		    m->lock_object.lo_name);
	m->lock_object.lo_flags = 0;
	m->mtx_lock = MTX_DESTROYED;
}

static const char *
ksim_mtx_type(struct mtx *m)
{

	return ((const char *)m->lock_object.lo_witness);
}

/*
 * __mtx_lock_flags (kern_mutex.c): KASSERTs that the mutex is initialised
 * and of the sleep class, that the caller is not an idle thread; WITNESS
 * checks the order (witness_checkorder); recursion on a mutex without
 * MTX_RECURSE panics; a contended mutex blocks in a turnstile (never
 * allowed inside a critical section: mi_switch asserts td_critnest == 1).
 */
void
__mtx_lock_flags(volatile uintptr_t *c, int opts, const char *file, int line)
{
	struct mtx *m = ksim_c2m(c);
	struct thread *td = curthread;

	sim_yield();
	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0)
		ksim_failf("mutex", "mtx_lock of an uninitialised or destroyed "
		    "mutex (%s:%d)", file, line);
	if ((m->lock_object.lo_flags & LO_CLASSMASK) != 0)
		ksim_failf("mutex", "mtx_lock() of spin mutex %s",
		    m->lock_object.lo_name);
	if (m->mtx_lock == (uintptr_t)td) {
		if ((m->lock_object.lo_flags & LO_RECURSABLE) == 0)
			ksim_failf("witness", "recursed on non-recursive mutex "
			    "%s", m->lock_object.lo_name);
		m->lock_object.lo_data++;
		return;
	}
	while (m->mtx_lock != MTX_UNOWNED) {
		if (td->td_critnest > 0)
			ksim_failf("sleep", "blocking on mutex %s inside a "
			    "critical section", m->lock_object.lo_name);
		(void)sim_block(m, m->lock_object.lo_name, 0);
	}
	m->mtx_lock = (uintptr_t)td;
	sim_lock_acquired(m, ksim_mtx_type(m), KSIM_SLEEP_MUTEX,
	    (m->lock_object.lo_flags & LO_DUPOK) != 0 || (opts & MTX_DUPOK));
}

/*
 * __mtx_unlock_flags (kern_mutex.c): __mtx_assert(m, MA_OWNED) — only the
 * owner unlocks; the last unlock of a recursed mutex releases it.
 */
void
__mtx_unlock_flags(volatile uintptr_t *c, int opts, const char *file,
    int line)
{
	struct mtx *m = ksim_c2m(c);

	sim_yield();
	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0)
		ksim_failf("mutex", "mtx_unlock of an uninitialised mutex "
		    "(%s:%d)", file, line);
	if (m->mtx_lock != (uintptr_t)curthread)
		ksim_failf("mutex", "mtx_unlock of %s, which this thread does "
		    "not own", m->lock_object.lo_name);
	if (m->lock_object.lo_data > 0) {
		m->lock_object.lo_data--;
		return;
	}
	sim_lock_released(m, ksim_mtx_type(m));
	m->mtx_lock = MTX_UNOWNED;
	sim_wakeup(m, 1);
}

/*
 * critical_enter_KBI/critical_exit_KBI (kern_switch.c): td_critnest
 * counts; exiting a section never entered is an assertion failure
 * ("critical_exit: td_critnest == 0").
 */
void
critical_enter_KBI(void)
{

	curthread->td_critnest++;
}

void
critical_exit_KBI(void)
{
	struct thread *td = curthread;

	if (td->td_critnest == 0)
		ksim_failf("critical", "critical_exit: td_critnest == 0");
	td->td_critnest--;
}

/*
 * _sleep (kern_synch.c): WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK, lock,
 * ...) — no lock but the interlock may be held; not in a critical section
 * or a context that must not sleep.  The interlock is released
 * atomically with going to sleep and retaken afterwards unless PDROP.
 * A timeout (sbt, in sbintime) makes it return EWOULDBLOCK.
 */
int
_sleep(const void *ident, struct lock_object *lock, int priority,
    const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags)
{
	struct mtx *m = (struct mtx *)lock;
	uint64_t timo;
	int timedout;

	sim_yield();
	if (ident == NULL)
		ksim_failf("sleep", "_sleep on a NULL wait channel");
	sim_check_may_sleep(wmesg, lock);
	if (m != NULL) {
		if ((m->lock_object.lo_flags & LO_CLASSMASK) != 0 ||
		    m->mtx_lock != (uintptr_t)curthread)
			ksim_failf("sleep", "_sleep with interlock %s not "
			    "owned", m->lock_object.lo_name);
		sim_lock_released(m, ksim_mtx_type(m));
		m->mtx_lock = MTX_UNOWNED;
		sim_wakeup(m, 1);
	}
	timo = sbt > 0 ? (uint64_t)((sbt + tick_sbt - 1) / tick_sbt) : 0;
	timedout = sim_block(ident, wmesg, timo);
	if (m != NULL && (priority & PDROP) == 0) {
		while (m->mtx_lock != MTX_UNOWNED)
			(void)sim_block(m, m->lock_object.lo_name, 0);
		m->mtx_lock = (uintptr_t)curthread;
		sim_lock_acquired(m, ksim_mtx_type(m), KSIM_SLEEP_MUTEX, 1);
	}
	return (timedout ? EWOULDBLOCK : 0);
}

/* wakeup (kern_synch.c): every thread sleeping on ident runs again. */
void
wakeup(const void *ident)
{

	sim_yield();
	sim_wakeup(ident, 0);
}

/*
 * pause_sbt (kern_synch.c): sleeps at least one tick on a private channel;
 * the rules of _sleep apply (it asserts it may sleep unless cold or
 * SBT_... during boot).
 */
int
pause_sbt(const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags)
{
	static int pause_wchan;
	uint64_t timo;

	sim_yield();
	sim_check_may_sleep(wmesg, NULL);
	timo = (uint64_t)((sbt + tick_sbt - 1) / tick_sbt);
	if (timo == 0)
		timo = 1;
	(void)sim_block(&pause_wchan, wmesg, timo);
	return (EWOULDBLOCK);
}
