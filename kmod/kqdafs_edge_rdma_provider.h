/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to kqdafs.ko: the Rust side of the RDMA provider interface
 * (src/edge/rdma_provider.rs) that kqdafs_edge_rdma_provider.c forwards
 * to.
 * Driver modules include kqdafs_rdma_provider.h only.
 */
#ifndef _KQDAFS_EDGE_RDMA_PROVIDER_H_
#define	_KQDAFS_EDGE_RDMA_PROVIDER_H_

#include "kqdafs_rdma_provider.h"

int	kqdafs_rs_rdma_provider_register(const char *name,
	    const struct kqdafs_rdma_provider_ops *ops, void *arg,
	    struct kqdafs_rdma_provider **pp);
int	kqdafs_rs_rdma_provider_deregister(struct kqdafs_rdma_provider *p);
void	kqdafs_rs_rdma_provider_complete(void *token, int error,
	    uint64_t bytes);

#endif /* !_KQDAFS_EDGE_RDMA_PROVIDER_H_ */
