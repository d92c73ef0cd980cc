/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs RDMA provider interface (kqdafs_rdma_provider(9)).
 *
 * A NIC driver module carries the RDMA transfers of kqdafs kernel
 * consumers (kqdafs_kapi(9)) over its hardware.  It declares
 *
 *	MODULE_DEPEND(mydrv, kqdafs, KQDAFS_RDMA_PROVIDER_VERSION,
 *	    KQDAFS_RDMA_PROVIDER_VERSION, KQDAFS_RDMA_PROVIDER_VERSION);
 *
 * registers a named provider, and completes every transfer kqdafs hands
 * it.  A consumer binds an endpoint to the provider by name and a
 * connection cookie the driver understands (kqdafs_rdma_ep_connect());
 * its work requests on that endpoint (checked by kqdafs against its own
 * memory regions) are handed to the driver one transfer each: WRITE and
 * READ name the peer's key and offset as posted, SEND and RECV are not
 * matched by kqdafs.
 */
#ifndef _KQDAFS_RDMA_PROVIDER_H_
#define	_KQDAFS_RDMA_PROVIDER_H_

#include <sys/types.h>

#define	KQDAFS_RDMA_PROVIDER_VERSION	1
#define	KQDAFS_RDMA_PROVIDER_NAMELEN	32	/* with the NUL */

struct vm_page;
struct kqdafs_rdma_provider;

/*
 * One transfer.  The local range is rx_len bytes starting rx_offset bytes
 * into the page array rx_pages[0 .. rx_npages) (wired pages of a memory
 * region, as bus_dmamap_load_ma(9) takes them): read for WRITE and SEND,
 * written for READ and RECV.  The pages stay valid, and the range stays
 * unused by kqdafs, until the transfer is completed.  rx_offset may
 * exceed a page: for bus_dmamap_load_ma(9) pass rx_pages + rx_offset /
 * PAGE_SIZE and rx_offset % PAGE_SIZE.  The structure itself is valid
 * only during rpo_post; rx_token identifies the transfer until then.
 */
struct kqdafs_rdma_xfer {
	void		*rx_token;	/* for kqdafs_rdma_provider_complete */
	uint64_t	 rx_conn;	/* the endpoint's connection cookie */
	uint32_t	 rx_op;		/* KQDAFS_RDMA_* (kqdafs_kapi.h) */
	uint32_t	 rx_remote_key;	/* WRITE/READ: the peer's key */
	uint64_t	 rx_remote_offset; /* WRITE/READ: in the peer's region */
	uint64_t	 rx_len;	/* bytes; RECV: the buffer's size */
	struct vm_page	**rx_pages;	/* the local range's pages */
	int		 rx_npages;
	int		 rx_pad;
	size_t		 rx_offset;	/* first byte, from rx_pages[0] */
};

struct kqdafs_rdma_provider_ops {
	/*
	 * Take a transfer and complete it later, exactly once.  Called in
	 * the posting consumer's thread with no kqdafs lock held; must not
	 * fail (queue it) nor sleep for long.  Required.
	 */
	void	(*rpo_post)(void *arg, const struct kqdafs_rdma_xfer *x);
	/*
	 * A consumer binds an endpoint to connection conn: 0, or an errno
	 * that kqdafs_rdma_ep_connect() returns.  kqdafs binds one endpoint
	 * at a time to a conn (a second kqdafs_rdma_ep_connect() gets EBUSY
	 * without a call here): after a successful rpo_open(conn) the next
	 * call for conn is rpo_close(conn), and calls for one conn never
	 * overlap.  May sleep.  Optional.
	 */
	int	(*rpo_open)(void *arg, uint64_t conn);
	/*
	 * The endpoint bound to conn was closed (by its consumer, or at
	 * kqdafs_consumer_destroy()), or kqdafs could not make the endpoint
	 * after rpo_open(conn) succeeded: complete its outstanding transfers
	 * soon (ECONNRESET).  Once per successful rpo_open(conn); conn may
	 * be opened again only after this returned.  No kqdafs lock held;
	 * may sleep.  Optional.
	 */
	void	(*rpo_close)(void *arg, uint64_t conn);
};

/*
 * Register ops (copied) and arg as provider name (1 to 31 printable
 * characters); the handle in *pp.  Errors: EINVAL, EEXIST, ENOSPC,
 * ENOMEM, ENXIO (kqdafs is unloading).  Sleeps.
 */
int	kqdafs_rdma_provider_register(const char *name,
	    const struct kqdafs_rdma_provider_ops *ops, void *arg,
	    struct kqdafs_rdma_provider **pp);

/*
 * Deregister: EBUSY while an endpoint is bound to the provider or a
 * transfer is outstanding (not completed); ENOENT for an unknown handle.
 * After 0 no op is called again.  Does not sleep.
 */
int	kqdafs_rdma_provider_deregister(struct kqdafs_rdma_provider *p);

/*
 * Complete the transfer token: error 0 and bytes moved (at most rx_len;
 * a RECV may get fewer), or an errno (ECONNRESET after rpo_close).  The
 * request's completion is delivered at once (a consumer's DIRECT upcall
 * runs here); what must be freed is freed on the kqdafs completion
 * thread.  Exactly once per transfer; may be called from rpo_post.
 * Context: any thread that may take a default mutex -- an ithread, a
 * callout, a taskqueue -- not an interrupt filter, nor a C_DIRECT_EXEC
 * callout (it runs in the clock interrupt).  Never sleeps.
 */
void	kqdafs_rdma_provider_complete(void *token, int error, uint64_t bytes);

#endif /* !_KQDAFS_RDMA_PROVIDER_H_ */
