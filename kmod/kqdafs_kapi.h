/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs kernel consumer API (kqdafs_kapi(9)).
 *
 * Other kernel modules (a kernel DAFS file server, for one) submit
 * asynchronous file I/O through kqdafs and receive its completions by
 * direct upcall, delayed upcall or polling, next to userland kevent(2).
 * A consumer module declares
 *
 *	MODULE_DEPEND(mymod, kqdafs, KQDAFS_KAPI_VERSION,
 *	    KQDAFS_KAPI_VERSION, KQDAFS_KAPI_VERSION);
 *
 * and the kernel linker resolves these functions from kqdafs.ko (a module
 * sees the global symbols of the modules it depends on).  kqdafs cannot be
 * unloaded while such a module is loaded, nor while a consumer exists.
 *
 * Contexts: every function may sleep unless it says otherwise.  From a
 * DIRECT upcall only kqdafs_consumer_poll() and kqdafs_cancel() may be
 * called; from a DELAYED upcall anything but kqdafs_consumer_destroy()
 * of the same consumer.
 */
#ifndef _KQDAFS_KAPI_H_
#define	_KQDAFS_KAPI_H_

#include <sys/types.h>

#define	KQDAFS_KAPI_VERSION	1

/* Delivery modes (ca_delivery). */
#define	KQDAFS_DELIVER_DIRECT	1	/* upcall in the completion context */
#define	KQDAFS_DELIVER_DELAYED	2	/* upcall from the dispatcher thread */
#define	KQDAFS_DELIVER_POLL	3	/* kqdafs_consumer_poll() */

/* Limits. */
#define	KQDAFS_KAPI_DEPTH_DEFAULT 64	/* ca_depth 0 */
#define	KQDAFS_KAPI_DEPTH_MAX	4096
#define	KQDAFS_KAPI_BATCH_DEFAULT 16	/* ca_batch 0 */
#define	KQDAFS_KAPI_MAX_LEN	(16 * 1024 * 1024) /* bytes per request */

/* kqdafs_cancel() answers, besides 0. */
/*	EALREADY: the I/O runs or ran; its completion arrives as usual. */
/*	ENOENT: no such request of this consumer, or already completed. */

/*
 * One completion.  kc_data and kc_fflags are what the request's kevent
 * would carry: bytes transferred or -errno (-ECANCELED after a cancel),
 * and KQDAFS_EV_KAIO | operation (abi/include/kqdafs.h).
 */
struct kqdafs_completion {
	uint64_t	kc_cookie;	/* the submitter's cookie */
	uint64_t	kc_id;		/* the id returned at submit */
	int64_t		kc_data;	/* bytes, or -errno */
	uint32_t	kc_fflags;	/* KQDAFS_EV_KAIO | op */
	uint32_t	kc_pad;		/* zero */
};

/*
 * An upcall: n >= 1 completions.  DIRECT: n is 1, the context is the
 * I/O completion (GEOM's g_up thread or a kqdafs worker): do not sleep,
 * do not allocate with M_WAITOK, take only non-sleepable locks that are
 * never held across a kqdafs call.  DELAYED: n <= ca_batch, the context
 * is the kqdafs dispatcher thread: may sleep.  The array is valid only
 * during the call.
 */
typedef void kqdafs_upcall_t(void *arg, const struct kqdafs_completion *c,
    u_int n);

struct kqdafs_consumer_args {
	const char	*ca_name;	/* for diagnostics; may be NULL */
	int		ca_delivery;	/* KQDAFS_DELIVER_* */
	kqdafs_upcall_t	*ca_upcall;	/* DIRECT, DELAYED; NULL for POLL */
	void		*ca_arg;	/* first argument of ca_upcall */
	u_int		ca_depth;	/* requests outstanding; 0: default */
	u_int		ca_batch;	/* DELAYED: per upcall; 0: default */
};

struct kqdafs_consumer;
struct file;

/*
 * Create a consumer.  The creating thread's credential is held
 * (crhold) and used for every request of the consumer.  The completion
 * ring (ca_depth entries) is allocated here, so no completion ever
 * allocates.  Errors: EINVAL (bad arguments), ENOMEM, ENXIO (kqdafs is
 * unloading).  Sleeps.
 */
int	kqdafs_consumer_create(const struct kqdafs_consumer_args *args,
	    struct kqdafs_consumer **cp);

/*
 * Destroy a consumer: cancels every request whose I/O has not started,
 * waits for the others to complete, delivers every completion still
 * owed (DELAYED; DIRECT upcalls run as the I/O completes; POLL drops
 * what was not polled), then frees it.  Afterwards no upcall runs.
 * No other call on the consumer may run concurrently or follow.  Sleeps.
 */
void	kqdafs_consumer_destroy(struct kqdafs_consumer *c);

/*
 * Copy up to max completions (oldest first) to out; returns how many.
 * Any consumer may poll (for DIRECT and DELAYED it finds only what the
 * dispatcher has not delivered yet: normally nothing).  Never sleeps:
 * callable from any context that may take a mutex.
 */
u_int	kqdafs_consumer_poll(struct kqdafs_consumer *c,
	    struct kqdafs_completion *out, u_int max);

/*
 * Submit a read (write) of len bytes at offset of fp into (from) the
 * kernel buffer kbuf.  kbuf must come from malloc(9), contigmalloc(9)
 * or kmem_malloc() (wired kernel memory, reached through its pages) and
 * stay allocated, and for a write unchanged, until the completion is
 * delivered.  fp must be a regular file open for reading (writing); it
 * is referenced (fhold) until the I/O is done.  On success *idp (if not
 * NULL) gets the request id before the I/O starts, and exactly one
 * completion will be delivered for it -- possibly before this function
 * returns: a read served from the buffer cache completes at once, and a
 * DIRECT upcall then runs in the caller's thread.
 * Errors (nothing is submitted): EINVAL (bad arguments, buffer not
 * wired kernel memory, len > KQDAFS_KAPI_MAX_LEN), EBADF (not open for
 * the operation), ESPIPE, EAGAIN (ca_depth requests outstanding), ENOMEM,
 * ENXIO.  Sleeps.
 */
int	kqdafs_kaio_read(struct kqdafs_consumer *c, struct file *fp,
	    off_t offset, void *kbuf, size_t len, uint64_t cookie,
	    uint64_t *idp);
int	kqdafs_kaio_write(struct kqdafs_consumer *c, struct file *fp,
	    off_t offset, const void *kbuf, size_t len, uint64_t cookie,
	    uint64_t *idp);
/* fsync(2) of fp; errors as above. */
int	kqdafs_kaio_fsync(struct kqdafs_consumer *c, struct file *fp,
	    uint64_t cookie, uint64_t *idp);

/*
 * Cancel request id: 0 (its I/O will not run; its completion carries
 * -ECANCELED and is delivered from the dispatcher thread, or queued for
 * polling), EALREADY, ENOENT.  Does not sleep (takes mutexes).
 */
int	kqdafs_cancel(struct kqdafs_consumer *c, uint64_t id);

#endif /* !_KQDAFS_KAPI_H_ */
