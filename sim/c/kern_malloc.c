/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim models of malloc(9) and of the console.  Sources read:
 * sys/kern/kern_malloc.c (malloc, malloc_aligned, free, malloc_init,
 * malloc_uninit), sys/kern/subr_prf.c (printf), sys/kern/kern_shutdown.c
 * (panic), sys/kern/stack_protector.c (__stack_chk_guard,
 * __stack_chk_fail).
 */
#include "ksim.h"

#include <sys/malloc.h>
#include <machine/stdarg.h>

#define	KSIM_MAGIC	0x6b73696d6d616c63ULL	/* "ksimmalc" */

/* What precedes every block malloc() hands out. */
struct ksim_mhdr {
	uint64_t	 h_magic;
	struct malloc_type *h_type;
	size_t		 h_size;	/* asked for */
	size_t		 h_align;
	size_t		 h_total;
	void		*h_base;	/* host allocation */
};

#if __has_feature(address_sanitizer)
/* compiler-rt's interface (sanitizer/asan_interface.h). */
void	__asan_poison_memory_region(void const volatile *addr, size_t size);
#endif

void
ksim_asan_poison(const void *p, size_t len)
{

#if __has_feature(address_sanitizer)
	__asan_poison_memory_region(p, len);
#else
	(void)p;
	(void)len;
#endif
}

/* Whether the models were built with AddressSanitizer (`make sim-asan`). */
int
ksim_asan_built(void)
{

	return (__has_feature(address_sanitizer));
}

void *
ksim_zalloc(size_t size)
{

	return (sim_host_alloc(size, 16));
}

void
ksim_zfree(void *p, size_t size)
{

	sim_host_free(p, size, 16);
}

static void
ksim_check_type(struct malloc_type *mtp, const char *fn)
{

	if (mtp == NULL || mtp->ks_version != M_VERSION)
		ksim_failf("malloc", "%s: bad malloc type (version %lu, want "
		    "%d); not initialised by malloc_init?", fn,
		    mtp != NULL ? mtp->ks_version : 0, M_VERSION);
	if (mtp->ks_mti.mti_spare[7] != 1)
		ksim_failf("malloc", "%s: malloc type %s used before "
		    "malloc_init or after malloc_uninit", fn,
		    mtp->ks_shortdesc);
}

static void *
ksim_malloc_common(size_t size, size_t align, struct malloc_type *mtp,
    int flags, const char *fn)
{
	struct ksim_mhdr *h;
	size_t hsz, total;
	char *base, *p;

	sim_yield();
	ksim_check_type(mtp, fn);
	/*
	 * malloc_dbg/KASSERTs: exactly one of M_WAITOK and M_NOWAIT;
	 * M_WAITOK may sleep, so it follows the rules of _sleep
	 * (WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK, NULL, "malloc")) and
	 * is never used from a context that must not sleep.
	 */
	if (((flags & M_WAITOK) != 0) == ((flags & M_NOWAIT) != 0))
		ksim_failf("malloc", "%s: give exactly one of M_WAITOK and "
		    "M_NOWAIT (flags %#x)", fn, flags);
	if ((flags & M_WAITOK) != 0)
		sim_check_may_sleep(fn, NULL);
	else if (curthread->td_critnest > 0)
		ksim_failf("malloc", "%s called inside a critical section",
		    fn);
	hsz = roundup2(sizeof(*h), align < 16 ? 16 : align);
	total = hsz + size + align;
	base = sim_host_alloc(total, 16);
	p = (char *)roundup2((uintptr_t)base + sizeof(*h), align < 16 ? 16 :
	    align);
	h = (struct ksim_mhdr *)(p - sizeof(*h));
	h->h_magic = KSIM_MAGIC;
	h->h_type = mtp;
	h->h_size = size;
	h->h_align = align;
	h->h_total = total;
	h->h_base = base;
	if ((flags & M_ZERO) == 0)
		memset(p, 0xdeadc0de & 0xff, size);	/* as trash_ctor */
	/*
	 * What the block does not cover (the alignment slack behind it) is
	 * out of bounds: under ASan an access past the block's end is a
	 * heap overflow at its first byte.  A KASAN kernel does the same:
	 * malloc() and malloc_domainset() (kern_malloc.c) end with
	 * kasan_mark(va, osize, size, KASAN_MALLOC_REDZONE), the bytes
	 * between the size asked for and the zone's item size a redzone.
	 */
	ksim_asan_poison(p + size, (size_t)(base + total - (p + size)));
	sim_mtype_account(mtp, mtp->ks_shortdesc, 1, (int64_t)size);
	return (p);
}

/* malloc (kern_malloc.c); the parentheses keep malloc.h's macro out. */
void *
(malloc)(size_t size, struct malloc_type *mtp, int flags)
{

	return (ksim_malloc_common(size, 8, mtp, flags, "malloc"));
}

/*
 * malloc_aligned (kern_malloc.c): KASSERTs align is a power of two no
 * larger than PAGE_SIZE.
 */
void *
malloc_aligned(size_t size, size_t align, struct malloc_type *mtp, int flags)
{

	if (align == 0 || !powerof2(align) || align > PAGE_SIZE)
		ksim_failf("malloc", "malloc_aligned: wrong alignment %zu",
		    align);
	return (ksim_malloc_common(size, align, mtp, flags, "malloc_aligned"));
}

/*
 * free (kern_malloc.c): NULL is allowed; otherwise the block must be a
 * live malloc(9) block.  The type given is the one charged (a different
 * type corrupts both types' statistics, which malloc_uninit reports).
 */
void
free(void *addr, struct malloc_type *mtp)
{
	struct ksim_mhdr *h;

	sim_yield();
	if (addr == NULL)
		return;
	ksim_check_type(mtp, "free");
	if (curthread->td_critnest > 0)
		ksim_failf("malloc", "free called inside a critical section");
	h = (struct ksim_mhdr *)((char *)addr - sizeof(*h));
	if (h->h_magic != KSIM_MAGIC)
		ksim_failf("malloc", "free(%p, %s): not a live malloc(9) "
		    "block (double free or wild pointer)", addr,
		    mtp->ks_shortdesc);
	if (h->h_type != mtp)
		ksim_failf("malloc", "free(%p): allocated as %s, freed as %s",
		    addr, h->h_type->ks_shortdesc, mtp->ks_shortdesc);
	h->h_magic = 0;
	sim_mtype_account(mtp, mtp->ks_shortdesc, -1, -(int64_t)h->h_size);
	/* Freeing is a write of the whole block by the freeing thread. */
	sim_module_access(addr, h->h_size, 1);
	memset(addr, 0xde, h->h_size);
	sim_host_free(h->h_base, h->h_total, 16);
}

/*
 * malloc_init (kern_malloc.c), the SYSINIT of MALLOC_DEFINE: the type
 * must carry M_VERSION (else "malloc_init: unsupported malloc type
 * version"); it becomes usable.  mti_spare[7] is the sim's "usable" mark.
 */
void
malloc_init(void *data)
{
	struct malloc_type *mtp = data;

	if (mtp->ks_version != M_VERSION)
		ksim_failf("malloc", "malloc_init: unsupported malloc type "
		    "version %lu", mtp->ks_version);
	mtp->ks_mti.mti_spare[7] = 1;
	sim_mtype_account(mtp, mtp->ks_shortdesc, 0, 0);
}

/*
 * malloc_uninit (kern_malloc.c), the SYSUNINIT of MALLOC_DEFINE: a type
 * destroyed with allocations outstanding prints "Warning: memory type %s
 * leaked memory on destroy (%ld allocations, %ld bytes leaked)."; the
 * memory is lost for good.  The sim makes that a failure.
 */
void
malloc_uninit(void *data)
{
	struct malloc_type *mtp = data;
	int64_t bytes, n;

	ksim_check_type(mtp, "malloc_uninit");
	n = sim_mtype_live(mtp, &bytes);
	if (n != 0)
		ksim_failf("malloc", "Warning: memory type %s leaked memory on "
		    "destroy (%ld allocations, %ld bytes leaked).",
		    mtp->ks_shortdesc, (long)n, (long)bytes);
	mtp->ks_mti.mti_spare[7] = 0;
}

void	sim_console(const char *line);

/* printf (subr_prf.c): to the console (the sim's log). */
int
printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sim_console(buf);
	return (n);
}

/* panic (kern_shutdown.c): the end of the (simulated) system. */
void
panic(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sim_fail("panic", buf);
}

/*
 * The stack protector's canary and its failure (stack_protector.c): the
 * kernel's __stack_chk_guard is a long[8] that __stack_chk_init
 * (SYSINIT at SI_SUB_RANDOM) fills from arc4rand; arc4rand is not
 * modelled, so the sim's guard is a fixed non-zero value.  Code compiled
 * with -fstack-protector compares its frame's copy of the first word with
 * it on return and calls __stack_chk_fail, which panics, on a mismatch.
 */
long __stack_chk_guard[8] = {
	0x6b73696d63616e61L, 0x2d6b73696d2d6361L, 0x6e6172792d6b7369L,
	0x6d2d63616e617279L, 0x6b73696d63616e61L, 0x2d6b73696d2d6361L,
	0x6e6172792d6b7369L, 0x6d2d63616e617279L,
};
void	__stack_chk_fail(void);

void
__stack_chk_fail(void)
{

	panic("stack overflow detected; backtrace may be corrupted");
}

void
ksim_failf(const char *contract, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sim_fail(contract, buf);
}
