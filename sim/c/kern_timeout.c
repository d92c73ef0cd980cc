/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of callout(9), for MPSAFE callouts without a lock (what
 * the test consumer module uses).  Sources read: sys/kern/kern_timeout.c
 * (callout_init: mpsafe; callout_reset_sbt_on: a pending callout is
 * rescheduled, returns 1 if it was pending; softclock_call_cc runs the
 * function in the softclock thread, which must not sleep;
 * _callout_stop_safe with CS_DRAIN: cancels a pending callout and waits
 * for a running one to return, and may sleep).
 */
#include "ksim.h"

#include <sys/callout.h>

struct ksim_co {
	struct callout	*c;
	uint64_t	 timer;		/* sim timer handle, 0 if none */
	int		 running;
};

#define	KSIM_NCO	32
static struct ksim_co ksim_cos[KSIM_NCO];

static struct ksim_co *
ksim_co(struct callout *c, int create)
{
	int i, free_slot = -1;

	for (i = 0; i < KSIM_NCO; i++) {
		if (ksim_cos[i].c == c)
			return (&ksim_cos[i]);
		if (ksim_cos[i].c == NULL && free_slot < 0)
			free_slot = i;
	}
	if (!create)
		return (NULL);
	if (free_slot < 0)
		sim_fail("sim", "too many callouts");
	ksim_cos[free_slot].c = c;
	return (&ksim_cos[free_slot]);
}

/* callout_init (kern_timeout.c). */
void
callout_init(struct callout *c, int mpsafe)
{
	struct ksim_co *co;

	sim_yield();
	memset(c, 0, sizeof(*c));
	if (!mpsafe)
		ksim_failf("callout", "callout_init without mpsafe needs "
		    "Giant, which the sim does not model");
	c->c_iflags = CALLOUT_RETURNUNLOCKED;
	co = ksim_co(c, 1);
	co->timer = 0;
	co->running = 0;
}

static void
ksim_co_fire(void *arg)
{
	struct ksim_co *co = arg;
	struct callout *c = co->c;

	co->timer = 0;
	c->c_iflags &= ~CALLOUT_PENDING;
	c->c_flags &= ~CALLOUT_ACTIVE;
	co->running = 1;
	sim_nosleep_enter("callout");
	sim_module_enter("callout");
	c->c_func(c->c_arg);
	sim_module_exit();
	sim_nosleep_exit();
	co->running = 0;
	sim_wakeup(co, 0);
}

/* callout_reset_sbt_on (kern_timeout.c). */
int
callout_reset_sbt_on(struct callout *c, sbintime_t sbt, sbintime_t prec,
    void (*ftn)(void *), void *arg, int cpu, int flags)
{
	struct ksim_co *co;
	uint64_t ticks;
	int cancelled;

	sim_yield();
	co = ksim_co(c, 0);
	if (co == NULL)
		ksim_failf("callout", "callout_reset of an uninitialised "
		    "callout");
	cancelled = 0;
	if (co->timer != 0 && sim_timer_cancel(co->timer))
		cancelled = 1;
	c->c_func = ftn;
	c->c_arg = arg;
	c->c_iflags |= CALLOUT_PENDING;
	c->c_flags |= CALLOUT_ACTIVE;
	if ((flags & C_ABSOLUTE) != 0)
		ksim_failf("callout", "C_ABSOLUTE is not modelled");
	ticks = sbt <= 0 ? 1 : (uint64_t)((sbt + tick_sbt - 1) / tick_sbt);
	co->timer = sim_timer_add(ticks, ksim_co_fire, co);
	return (cancelled);
}

/* _callout_stop_safe (kern_timeout.c). */
int
_callout_stop_safe(struct callout *c, int flags)
{
	struct ksim_co *co;
	int cancelled;

	sim_yield();
	co = ksim_co(c, 0);
	if (co == NULL)
		return (0);
	if ((flags & CS_DRAIN) != 0)
		sim_check_may_sleep("callout_drain", NULL);
	cancelled = 0;
	if (co->timer != 0 && sim_timer_cancel(co->timer)) {
		co->timer = 0;
		cancelled = 1;
	}
	c->c_iflags &= ~CALLOUT_PENDING;
	c->c_flags &= ~CALLOUT_ACTIVE;
	while ((flags & CS_DRAIN) != 0 && co->running)
		(void)sim_block(co, "codrain", 0);
	return (cancelled);
}
