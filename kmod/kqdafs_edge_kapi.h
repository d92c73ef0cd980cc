/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to kqdafs.ko: the Rust side of the consumer API
 * (src/edge/kapi.rs) that kqdafs_edge_kapi.c forwards to.  Consumer
 * modules include kqdafs_kapi.h only.
 */
#ifndef _KQDAFS_EDGE_KAPI_H_
#define	_KQDAFS_EDGE_KAPI_H_

#include "kqdafs_kapi.h"

/* Implemented in Rust (src/edge/kapi.rs). */
int	kqdafs_rs_consumer_create(const struct kqdafs_consumer_args *args,
	    struct kqdafs_consumer **cp);
void	kqdafs_rs_consumer_destroy(struct kqdafs_consumer *c);
u_int	kqdafs_rs_consumer_poll(struct kqdafs_consumer *c,
	    struct kqdafs_completion *out, u_int max);
int	kqdafs_rs_kaio_submit(struct kqdafs_consumer *c, struct file *fp,
	    int op, off_t offset, void *kbuf, size_t len, uint64_t cookie,
	    uint64_t *idp);
int	kqdafs_rs_consumer_cancel(struct kqdafs_consumer *c, uint64_t id);
int	kqdafs_rs_rdma_reg_mr(struct kqdafs_consumer *c, void *kbuf,
	    size_t len, uint32_t access, uint32_t *keyp);
int	kqdafs_rs_rdma_dereg_mr(struct kqdafs_consumer *c, uint32_t key);
int	kqdafs_rs_rdma_ep_pair(struct kqdafs_consumer *c, uint32_t *ep);
int	kqdafs_rs_rdma_ep_close(struct kqdafs_consumer *c, uint32_t ep);
int	kqdafs_rs_rdma_ep_connect(struct kqdafs_consumer *c,
	    const char *provider, uint64_t conn, uint32_t *epp);
int	kqdafs_rs_rdma_post(struct kqdafs_consumer *c,
	    const struct kqdafs_rdma_wr *wr, uint64_t *idp);

#endif /* !_KQDAFS_EDGE_KAPI_H_ */
