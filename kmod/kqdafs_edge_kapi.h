/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to kqdafs.ko: the Rust side of the consumer API
 * (src/kpi/kapi.rs) and the KPI wrappers the dispatcher uses
 * (kqdafs_kapi.c).  Consumer modules include kqdafs_kapi.h only.
 */
#ifndef _KQDAFS_KAPI_GLUE_H_
#define	_KQDAFS_KAPI_GLUE_H_

#include "kqdafs_kapi.h"

struct mtx;
struct task;
struct taskqueue;

/* Implemented in Rust (src/kpi/kapi.rs). */
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

/* wakeup(9). */
void	kqdafs_wakeup(void *chan);
/* mtx_sleep(9) at PRIBIO for at most ticks ticks (0: no limit). */
int	kqdafs_mtx_sleep(void *chan, struct mtx *m, const char *wmesg,
	    int ticks);
/* hz. */
int	kqdafs_hz(void);
/* taskqueue_enqueue(9) of a task that lives as long as its owner. */
void	kqdafs_taskqueue_enqueue(struct taskqueue *tq, struct task *task);
/* taskqueue_drain(9). Sleeps. */
void	kqdafs_taskqueue_drain(struct taskqueue *tq, struct task *task);
/* taskqueue_member(9) of the calling thread. */
int	kqdafs_taskqueue_is_current(struct taskqueue *tq);
/* taskqueue_cancel(9): EBUSY if the task is running. */
int	kqdafs_taskqueue_cancel(struct taskqueue *tq, struct task *task);

#endif /* !_KQDAFS_KAPI_GLUE_H_ */
