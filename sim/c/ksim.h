/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: what the C models of FreeBSD 15 (sim/c/) share.
 *
 * The models are compiled against the same FreeBSD 15 headers as the
 * module, with -D_KERNEL, so every structure they fill or read (struct
 * buf, knote, file, thread, ...) has the layout the module's code expects.
 * Every KPI name the models define is renamed to ksim_<name> by the
 * generated ksim_names.h (from sim/kpi.list), which is included first; the
 * module's objects get the same renaming from llvm-objcopy, so the module
 * binds to these models and never to the host C library.
 *
 * Each model's comment names the FreeBSD function it follows and the
 * source file it was read from (freebsd-src, 15-era: CHERI-Alliance
 * freebsd-src, which is 16-CURRENT just after the stable/15 branch, where
 * the 15.0 file was not available).
 */
#ifndef _KSIM_H_
#define	_KSIM_H_

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/proc.h>

/* ---- the engine (Rust, sim/src/kernel.rs) ------------------------------ */
enum ksim_lock_kind { KSIM_SLEEP_MUTEX, KSIM_SPIN_MUTEX, KSIM_LOCKMGR };
enum ksim_ctx { KSIM_SYSCALL, KSIM_TASKQUEUE, KSIM_GEOM_UP, KSIM_CALLOUT,
	KSIM_KERNEL };

/* Every model calls this first: the KPI entry (see kern_linker.c). */
void	ksim_yield(void);
void	ksim_note_stack(void);
#define	sim_yield()	ksim_yield()

/*
 * A model the module reaches through a function pointer (a file's
 * fo_read/fo_write, a bufobj's bop_strategy) instead of its kcall_
 * trampoline.  In free-running mode the trampoline is what takes the
 * model lock for a KPI call (sim/src/sched.rs); such a model takes it
 * itself, in its first declaration, and lets go of it when it returns
 * (the cleanup attribute runs on every return path).  Nested calls from
 * other models only count.
 */
void	sim_kpi_enter(void);
void	sim_kpi_return(void);
static inline void
ksim_ptr_leave(int *unused __unused)
{

	sim_kpi_return();
}
#define	sim_ptr_entry()							\
	int __ksim_ptr __attribute__((cleanup(ksim_ptr_leave), unused)) = \
	    (sim_kpi_enter(), 0)

/*
 * Happens-before edges for ThreadSanitizer in the free-running mode
 * (sim/src/tsan.rs): where FreeBSD's primitive releases (a task
 * enqueued, a buffer handed to the disk, a file installed) and where it
 * acquires (the task run, the buffer completed, the file looked up).
 * Nothing in any other build.
 */
void	sim_hb_release(const void *obj);
void	sim_hb_acquire(const void *obj);
/*
 * ... and a model touching module memory on the module's behalf inside a
 * KPI call the module made (free(9) writing the block, copyin writing the
 * kernel buffer, copyout reading it): the access is recorded as the
 * module's, for ThreadSanitizer to check.
 */
void	sim_module_access(const void *p, size_t len, int write);
/* fdrop(9) by a model: the release of the file's reference count. */
#define	ksim_fdrop(fp, td)						\
	(sim_hb_release(__DEVOLATILE(void *, &(fp)->f_count)),	\
	    fdrop((fp), (td)))

void	sim_fail(const char *contract, const char *msg) __dead2;
uint64_t sim_ticks(void);
void	sim_check_may_sleep(const char *what, const void *interlock);
int	sim_block_raw(const void *chan, const char *wmesg, uint64_t timo);
#define	sim_block(c, w, t)	(ksim_note_stack(), sim_block_raw((c), (w), (t)))
void	sim_wakeup(const void *chan, int one);
int	sim_ctx_is(int ctx);
void	sim_lock_acquired(const void *lock, const char *name, int kind,
	    int dupok);
void	sim_lock_released(const void *lock, const char *name);
void	sim_lock_disowned(const void *lock, const char *name);
int	sim_locks_held(void);
void	sim_mtype_account(const void *mtype, const char *name, int64_t count,
	    int64_t bytes);
int64_t	sim_mtype_live(const void *mtype, int64_t *bytes);
void	*sim_host_alloc(size_t size, size_t align);
void	sim_host_free(void *p, size_t size, size_t align);
void	sim_ram_adopt(const void *p, size_t len);
void	sim_module_enter(const char *what);
void	sim_module_exit(void);
void	sim_spawn_kthread(const char *name, int ctx, void (*fn)(void *),
	    void *arg);
uint64_t sim_timer_add(uint64_t ticks, void (*fn)(void *), void *arg);
int	sim_timer_cancel(uint64_t handle);
void	sim_count(const char *what);

/* The host C library's formatter (same ABI on amd64 FreeBSD and Linux). */
int	vsnprintf(char *, size_t, const char *, __va_list);

/* Fail the run with a formatted message naming the broken contract. */
void	ksim_failf(const char *contract, const char *fmt, ...) __dead2
	    __printflike(2, 3);

/*
 * Mark [p, p + len) of a host allocation as not to be touched (an
 * AddressSanitizer build, `make sim-asan`: a read or write there is
 * reported as a heap overflow); nothing otherwise.
 */
void	ksim_asan_poison(const void *p, size_t len);
int	ksim_asan_built(void);

/* Host memory for the models' own objects (zeroed). */
void	*ksim_zalloc(size_t size);
void	ksim_zfree(void *p, size_t size);

size_t	ksim_strlcpy(char *dst, const char *src, size_t size);
int	ksim_kldload(const char *name);
int	ksim_kldunload(const char *name, int force);
void	sim_nosleep_enter(const char *why);
void	sim_nosleep_exit(void);
uint64_t sim_rand(void);

/* proc0's thread, the credential of kernel threads. */
extern struct ucred *ksim_cred0;

#endif /* !_KSIM_H_ */
