/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of KCSAN's interceptors (sys/kern/subr_csan.c), for the
 * ThreadSanitizer build of the simulation (`make sim-tsan`).
 *
 * That build compiles the module's C glue and the test consumer module as
 * a KCSAN kernel compiles a module (sys/conf/kern.pre.mk: SAN_CFLAGS
 * -DSAN_NEEDS_INTERCEPTORS -DSAN_INTERCEPTOR_PREFIX=kcsan
 * -fsanitize=thread, with KCSAN in opt_global.h).  The headers then route
 * atomic(9) (sys/atomic_san.h), memcpy/memset/memmove/memcmp, bcopy/bzero
 * (sys/systm.h), strcpy/strcmp/strlen (sys/libkern.h) and
 * copyin/copyout/copyinstr to kcsan_* functions instead of inline
 * assembly and builtins.  Without that, ThreadSanitizer would not see the
 * glue's atomics at all (amd64's machine/atomic.h is inline assembly, and
 * atomic_load_acq/atomic_store_rel are plain volatile accesses, which it
 * would take for racing ones).
 *
 * subr_csan.c's kcsan_atomic_X checks the access (kcsan_access) and does
 * atomic_X.  Here ThreadSanitizer does the checking: each function is the
 * C11 atomic builtin that ThreadSanitizer instruments in this file
 * (sim/build.rs compiles the models with -fsanitize=thread in that
 * build).  Loads and stores have the ordering atomic(9) documents: a
 * plain atomic_load/atomic_store none (on amd64 a volatile access, which
 * the compiler may move ordinary accesses across), _acq an acquire, _rel
 * a release.  Every read-modify-write is given amd64's ordering, a full
 * barrier (a locked instruction, acquire and release), whatever its
 * suffix: refcount(9) orders with a release fence before
 * atomic_fetchadd_int, and ThreadSanitizer does not model fences, while
 * on amd64 the locked add itself releases.  The price: a publication
 * through a plain read-modify-write, correct on amd64 only, is not
 * reported.  In the other builds nothing calls these.  The copy functions forward to the models through
 * their kcall_ trampolines, as a module's KPI call would reach them
 * (copyinstr has no model: nothing of the module calls it).
 */
#define	KCSAN
#define	SAN_NEEDS_INTERCEPTORS
#define	SAN_RUNTIME
#define	SAN_INTERCEPTOR_PREFIX	kcsan

#include "ksim.h"

#include <machine/atomic.h>

/* The kcall_ trampolines of the copy models (sim/build.rs). */
int	kcall_copyin(const void *, void *, size_t);
int	kcall_copyout(const void *, void *, size_t);

/*
 * Every read-modify-write, whatever its suffix: amd64's full barrier
 * (above); a failed compare-and-set is a load, an acquire.
 */
#define	CSAN_RMW_ORDER	__ATOMIC_ACQ_REL

/* atomic_add/clear/set/subtract_[acq_|rel_]NAME (subr_csan.c). */
#define	CSAN_RMW1(op, sfx, name, type, fn, val)				\
void									\
kcsan_atomic_##op##sfx##name(volatile type *p, type v)			\
{									\
									\
	(void)fn(p, (val), CSAN_RMW_ORDER);				\
}
#define	CSAN_RMW(op, name, type, fn, val)				\
	CSAN_RMW1(op, _, name, type, fn, val)				\
	CSAN_RMW1(op, _acq_, name, type, fn, val)			\
	CSAN_RMW1(op, _rel_, name, type, fn, val)

/* atomic_cmpset_[acq_|rel_]NAME: compare and set, 1 on success. */
#define	CSAN_CMPSET1(sfx, name, type)					\
int									\
kcsan_atomic_cmpset##sfx##name(volatile type *p, type expect, type v)	\
{									\
									\
	return (__atomic_compare_exchange_n(p, &expect, v, 0,		\
	    CSAN_RMW_ORDER, __ATOMIC_ACQUIRE));				\
}

/* atomic_fcmpset: as cmpset, but a failure stores the value seen. */
#define	CSAN_FCMPSET1(sfx, name, type)					\
int									\
kcsan_atomic_fcmpset##sfx##name(volatile type *p, type *expect, type v)	\
{									\
									\
	return (__atomic_compare_exchange_n(p, expect, v, 0,		\
	    CSAN_RMW_ORDER, __ATOMIC_ACQUIRE));				\
}

/* atomic_testandset/testandclear_[acq_]NAME: bit v mod width. */
#define	CSAN_TEST1(op, sfx, name, type, fn)				\
int									\
kcsan_atomic_##op##sfx##name(volatile type *p, u_int v)		\
{									\
	type bit = (type)1 << (v % (sizeof(type) * NBBY));		\
									\
	return ((fn(p, bit, CSAN_RMW_ORDER) & bit) != 0);		\
}
#define	CSAN_ANDNOT(p, bit, order)	__atomic_fetch_and((p), ~(bit), (order))

#define	CSAN_FUNCS(name, type)						\
	CSAN_RMW(add, name, type, __atomic_fetch_add, v)		\
	CSAN_RMW(subtract, name, type, __atomic_fetch_sub, v)		\
	CSAN_RMW(set, name, type, __atomic_fetch_or, v)			\
	CSAN_RMW(clear, name, type, __atomic_fetch_and, ~v)		\
	CSAN_CMPSET1(_, name, type)					\
	CSAN_CMPSET1(_acq_, name, type)					\
	CSAN_CMPSET1(_rel_, name, type)					\
	CSAN_FCMPSET1(_, name, type)					\
	CSAN_FCMPSET1(_acq_, name, type)				\
	CSAN_FCMPSET1(_rel_, name, type)				\
	CSAN_TEST1(testandset, _, name, type, __atomic_fetch_or)	\
	CSAN_TEST1(testandset, _acq_, name, type, __atomic_fetch_or)	\
	CSAN_TEST1(testandclear, _, name, type, CSAN_ANDNOT)		\
	CSAN_TEST1(testandclear, _acq_, name, type, CSAN_ANDNOT)	\
type									\
kcsan_atomic_fetchadd_##name(volatile type *p, type v)			\
{									\
									\
	return (__atomic_fetch_add(p, v, CSAN_RMW_ORDER));		\
}									\
type									\
kcsan_atomic_swap_##name(volatile type *p, type v)			\
{									\
									\
	return (__atomic_exchange_n(p, v, CSAN_RMW_ORDER));		\
}									\
type									\
kcsan_atomic_readandclear_##name(volatile type *p)			\
{									\
									\
	return (__atomic_exchange_n(p, 0, CSAN_RMW_ORDER));		\
}									\
type									\
kcsan_atomic_load_##name(const volatile type *p)			\
{									\
									\
	return (__atomic_load_n(p, __ATOMIC_RELAXED));			\
}									\
type									\
kcsan_atomic_load_acq_##name(const volatile type *p)			\
{									\
									\
	return (__atomic_load_n(p, __ATOMIC_ACQUIRE));			\
}									\
void									\
kcsan_atomic_store_##name(volatile type *p, type v)			\
{									\
									\
	__atomic_store_n(p, v, __ATOMIC_RELAXED);			\
}									\
void									\
kcsan_atomic_store_rel_##name(volatile type *p, type v)			\
{									\
									\
	__atomic_store_n(p, v, __ATOMIC_RELEASE);			\
}

CSAN_FUNCS(char, uint8_t)
CSAN_FUNCS(short, uint16_t)
CSAN_FUNCS(int, u_int)
CSAN_FUNCS(long, u_long)
CSAN_FUNCS(ptr, uintptr_t)
CSAN_FUNCS(8, uint8_t)
CSAN_FUNCS(16, uint16_t)
CSAN_FUNCS(32, uint32_t)
CSAN_FUNCS(64, uint64_t)

bool
kcsan_atomic_load_bool(const volatile bool *p)
{

	return (__atomic_load_n(p, __ATOMIC_RELAXED));
}

void
kcsan_atomic_store_bool(volatile bool *p, bool v)
{

	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

void
kcsan_atomic_thread_fence_acq(void)
{

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

void
kcsan_atomic_thread_fence_rel(void)
{

	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void
kcsan_atomic_thread_fence_acq_rel(void)
{

	__atomic_thread_fence(__ATOMIC_ACQ_REL);
}

void
kcsan_atomic_thread_fence_seq_cst(void)
{

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void
kcsan_atomic_interrupt_fence(void)
{

	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * kcsan_memcpy and the rest (subr_csan.c: kcsan_access on both ranges,
 * then the libkern function): the host C library's, which
 * ThreadSanitizer intercepts and checks in the same way.
 */
void *
kcsan_memcpy(void *to, const void *from, size_t len)
{

	return (__builtin_memcpy(to, from, len));
}

void *
kcsan_memmove(void *to, const void *from, size_t len)
{

	return (__builtin_memmove(to, from, len));
}

void *
kcsan_memset(void *b, int c, size_t len)
{

	return (__builtin_memset(b, c, len));
}

int
kcsan_memcmp(const void *b1, const void *b2, size_t len)
{

	return (__builtin_memcmp(b1, b2, len));
}

char *
kcsan_strcpy(char *dst, const char *src)
{

	return (__builtin_strcpy(dst, src));
}

int
kcsan_strcmp(const char *s1, const char *s2)
{

	return (__builtin_strcmp(s1, s2));
}

size_t
kcsan_strlen(const char *s)
{

	return (__builtin_strlen(s));
}

/* kcsan_copyin and the like: the copy, through the model. */
int
kcsan_copyin(const void *uaddr, void *kaddr, size_t len)
{

	return (kcall_copyin(uaddr, kaddr, len));
}

int
kcsan_copyout(const void *kaddr, void *uaddr, size_t len)
{

	return (kcall_copyout(kaddr, uaddr, len));
}
