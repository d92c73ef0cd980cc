/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The exported kernel consumer API (kqdafs_kapi.h, kqdafs_kapi(9)).  Each
 * function only forwards to its Rust implementation (src/edge/kapi.rs);
 * defining them here lets the C compiler check them against the header
 * that consumer modules include.
 */
#include "kqdafs_glue.h"
#include "kqdafs_edge_kapi.h"

int
kqdafs_consumer_create(const struct kqdafs_consumer_args *args,
    struct kqdafs_consumer **cp)
{

	return (kqdafs_rs_consumer_create(args, cp));
}

void
kqdafs_consumer_destroy(struct kqdafs_consumer *c)
{

	kqdafs_rs_consumer_destroy(c);
}

u_int
kqdafs_consumer_poll(struct kqdafs_consumer *c, struct kqdafs_completion *out,
    u_int max)
{

	return (kqdafs_rs_consumer_poll(c, out, max));
}

int
kqdafs_kaio_read(struct kqdafs_consumer *c, struct file *fp, off_t offset,
    void *kbuf, size_t len, uint64_t cookie, uint64_t *idp)
{

	return (kqdafs_rs_kaio_submit(c, fp, KQDAFS_IO_READ, offset, kbuf, len,
	    cookie, idp));
}

int
kqdafs_kaio_write(struct kqdafs_consumer *c, struct file *fp, off_t offset,
    const void *kbuf, size_t len, uint64_t cookie, uint64_t *idp)
{

	return (kqdafs_rs_kaio_submit(c, fp, KQDAFS_IO_WRITE, offset,
	    __DECONST(void *, kbuf), len, cookie, idp));
}

int
kqdafs_kaio_fsync(struct kqdafs_consumer *c, struct file *fp,
    uint64_t cookie, uint64_t *idp)
{

	return (kqdafs_rs_kaio_submit(c, fp, KQDAFS_IO_FSYNC, 0, NULL, 0,
	    cookie, idp));
}

int
kqdafs_cancel(struct kqdafs_consumer *c, uint64_t id)
{

	return (kqdafs_rs_consumer_cancel(c, id));
}

int
kqdafs_rdma_reg_mr(struct kqdafs_consumer *c, void *kbuf, size_t len,
    uint32_t access, uint32_t *keyp)
{

	return (kqdafs_rs_rdma_reg_mr(c, kbuf, len, access, keyp));
}

int
kqdafs_rdma_dereg_mr(struct kqdafs_consumer *c, uint32_t key)
{

	return (kqdafs_rs_rdma_dereg_mr(c, key));
}

int
kqdafs_rdma_ep_pair(struct kqdafs_consumer *c, uint32_t ep[2])
{

	return (kqdafs_rs_rdma_ep_pair(c, ep));
}

int
kqdafs_rdma_ep_close(struct kqdafs_consumer *c, uint32_t ep)
{

	return (kqdafs_rs_rdma_ep_close(c, ep));
}

int
kqdafs_rdma_ep_connect(struct kqdafs_consumer *c, const char *provider,
    uint64_t conn, uint32_t *epp)
{

	return (kqdafs_rs_rdma_ep_connect(c, provider, conn, epp));
}

int
kqdafs_rdma_post(struct kqdafs_consumer *c, const struct kqdafs_rdma_wr *wr,
    uint64_t *idp)
{

	return (kqdafs_rs_rdma_post(c, wr, idp));
}
