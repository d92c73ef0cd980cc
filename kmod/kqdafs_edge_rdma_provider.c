/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The exported RDMA provider interface (kqdafs_rdma_provider.h,
 * kqdafs_rdma_provider(9)).  Each function only forwards to its Rust
 * implementation (src/edge/rdma_provider.rs); defining them here lets the
 * C compiler check them against the header driver modules include.
 */
#include "kqdafs_glue.h"
#include "kqdafs_edge_rdma_provider.h"

int
kqdafs_rdma_provider_register(const char *name,
    const struct kqdafs_rdma_provider_ops *ops, void *arg,
    struct kqdafs_rdma_provider **pp)
{

	return (kqdafs_rs_rdma_provider_register(name, ops, arg, pp));
}

int
kqdafs_rdma_provider_deregister(struct kqdafs_rdma_provider *p)
{

	return (kqdafs_rs_rdma_provider_deregister(p));
}

void
kqdafs_rdma_provider_complete(void *token, int error, uint64_t bytes)
{

	kqdafs_rs_rdma_provider_complete(token, error, bytes);
}
