/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs kernel consumer API (kqdafs_kapi(9)).
 *
 * Other kernel modules (a kernel DAFS file server, for one) submit
 * asynchronous file I/O and RDMA work requests through kqdafs and receive
 * their completions by direct upcall, delayed upcall or polling, next to
 * userland kevent(2).
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
 * Event kinds and RDMA operations and rights, as in abi/include/kqdafs.h
 * (a module may include both).
 */
#ifndef KQDAFS_EV_KAIO
#define	KQDAFS_EV_KAIO		0x01000000
#define	KQDAFS_EV_RDMA		0x02000000
#define	KQDAFS_EV_OPMASK	0x00ffffff
#endif
#ifndef KQDAFS_RDMA_WRITE
#define	KQDAFS_RDMA_WRITE	1		/* local -> remote MR */
#define	KQDAFS_RDMA_READ	2		/* remote MR -> local */
#define	KQDAFS_RDMA_SEND	3		/* local -> peer's oldest RECV */
#define	KQDAFS_RDMA_RECV	4		/* receive buffer for a SEND */
#define	KQDAFS_MR_LOCAL_WRITE	0x1
#define	KQDAFS_MR_REMOTE_READ	0x2
#define	KQDAFS_MR_REMOTE_WRITE	0x4
#define	KQDAFS_RDMA_MAX_LEN	(16 * 1024 * 1024) /* bytes per request */
#define	KQDAFS_RDMA_MAX_MR_LEN	(1024 * 1024 * 1024) /* bytes per region */
#endif

/*
 * One completion.  kc_data and kc_fflags are what the request's kevent
 * would carry: bytes transferred or -errno (-ECANCELED after a cancel;
 * for RDMA also -ECONNRESET and -EMSGSIZE), and KQDAFS_EV_KAIO | operation
 * or KQDAFS_EV_RDMA | operation.
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
 * Cancel request id (KAIO or RDMA): 0 (its I/O will not run; its completion carries
 * -ECANCELED and is delivered from the dispatcher thread, or queued for
 * polling), EALREADY, ENOENT.  Does not sleep (takes mutexes).
 */
int	kqdafs_cancel(struct kqdafs_consumer *c, uint64_t id);

/*
 * RDMA (kqdafs(4), RDMA: the same model, checks and errnos).  Each
 * consumer has its own protection domain: its memory regions (at most
 * KQDAFS_KAPI_RDMA_MAX_MRS) and endpoints (KQDAFS_KAPI_RDMA_MAX_EPS),
 * named by nonzero numbers; kqdafs_consumer_destroy() cancels its waiting
 * work requests, closes its endpoints and deregisters its regions.
 */
#define	KQDAFS_KAPI_RDMA_MAX_MRS	1024
#define	KQDAFS_KAPI_RDMA_MAX_EPS	1024

/*
 * Register len bytes of kernel memory at kbuf as a memory region with the
 * rights access (KQDAFS_MR_*); its key in *keyp.  kbuf must come from
 * malloc(9), contigmalloc(9) or kmem_malloc() and stay allocated until
 * the region is deregistered or the consumer destroyed (its pages are
 * used, not held).  Errors: EINVAL (bad arguments, unknown rights, len 0
 * or above KQDAFS_RDMA_MAX_MR_LEN, memory not wired kernel memory),
 * ENOSPC (too many regions), ENOMEM.  Sleeps.
 */
int	kqdafs_rdma_reg_mr(struct kqdafs_consumer *c, void *kbuf, size_t len,
	    uint32_t access, uint32_t *keyp);
/*
 * Deregister region key: ENOENT (no such region), EBUSY (a work request
 * that has not completed names it).  Once every completion naming it was
 * delivered, deregistration succeeds.  Does not sleep.
 */
int	kqdafs_rdma_dereg_mr(struct kqdafs_consumer *c, uint32_t key);
/*
 * Two endpoints connected to each other (the loopback provider) in ep[0]
 * and ep[1].  Errors: EINVAL, ENOSPC (too many endpoints), ENOMEM.  Does
 * not sleep.
 */
int	kqdafs_rdma_ep_pair(struct kqdafs_consumer *c, uint32_t ep[2]);
/*
 * Close endpoint ep: the connection is closed for both ends; every work
 * request waiting on it (either end) completes with -ECONNRESET (DIRECT
 * upcalls for them run in the caller's thread before this returns).
 * Errors: ENOENT.
 */
int	kqdafs_rdma_ep_close(struct kqdafs_consumer *c, uint32_t ep);

/*
 * An endpoint bound to connection conn of the NIC provider named provider
 * (kqdafs_rdma_provider(9)), in *epp.  Its work requests are checked
 * against the consumer's regions as on a loopback endpoint, then handed
 * to the provider: WRITE and READ take wr_remote_key and wr_remote_offset
 * as the peer's (not checked by kqdafs), SEND and RECV are matched by the
 * peer, not by kqdafs, and none can be cancelled once posted (EALREADY);
 * kqdafs_rdma_ep_close() makes the provider complete them (-ECONNRESET).
 * The provider cannot be deregistered while the endpoint exists.  One
 * endpoint at a time, of any consumer, may be bound to a (provider, conn):
 * EBUSY until it is closed (the provider is not asked).
 * Errors: EINVAL, ENOENT (no such provider), EBUSY, ENOSPC, ENOMEM, or
 * the provider's refusal.  Sleeps.
 */
int	kqdafs_rdma_ep_connect(struct kqdafs_consumer *c, const char *provider,
	    uint64_t conn, uint32_t *epp);

/* One work request: struct kqdafs_rdma_request of kqdafs(4), minus kq. */
struct kqdafs_rdma_wr {
	uint32_t	wr_op;		/* KQDAFS_RDMA_* */
	uint32_t	wr_flags;	/* zero */
	uint32_t	wr_ep;		/* endpoint the request is posted on */
	uint32_t	wr_local_key;	/* local region */
	uint32_t	wr_remote_key;	/* WRITE/READ: remote region; else 0 */
	uint32_t	wr_pad;		/* zero */
	uint64_t	wr_local_offset;
	uint64_t	wr_remote_offset; /* WRITE/READ; else 0 */
	uint64_t	wr_len;		/* bytes; RECV: the buffer's size */
	uint64_t	wr_cookie;	/* given back in kc_cookie */
};

/*
 * Post one work request; on success *idp (if not NULL) gets its id before
 * anything can complete it, and exactly one completion will be delivered
 * for it, kc_fflags KQDAFS_EV_RDMA | wr_op, kc_data bytes moved or
 * -ECANCELED, -ECONNRESET, -EMSGSIZE -- possibly before this returns
 * (a SEND meeting a waiting RECV, a closed connection), and a DIRECT
 * upcall then runs in the caller's thread.  A waiting SEND or RECV, and
 * a WRITE or READ not yet started, can be cancelled (kqdafs_cancel());
 * a kqdafs_cancel() racing with the post that has not returned yet may
 * answer ENOENT.  Errors, in this order (nothing is posted): EINVAL (bad
 * op, nonzero wr_flags or wr_pad, len above KQDAFS_RDMA_MAX_LEN, an
 * offset plus len overflows, SEND/RECV with remote arguments), ENOENT (no
 * such endpoint), ENOTCONN (its connection is closed), ENOENT, EACCES,
 * EFAULT (the local region, then the remote one: unknown key, missing
 * right, range outside the region), EAGAIN (ca_depth requests
 * outstanding, KAIO and RDMA together), ENOMEM, ENXIO.  Sleeps.
 */
int	kqdafs_rdma_post(struct kqdafs_consumer *c,
	    const struct kqdafs_rdma_wr *wr, uint64_t *idp);

#endif /* !_KQDAFS_KAPI_H_ */
