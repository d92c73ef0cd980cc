/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs_consumer_test: a test-only kernel consumer of kqdafs_kapi(9).  It
 * depends on kqdafs (MODULE_DEPEND), and runs one test per write of
 * sysctl debug.kqdafs_ctest.run (struct kqdafs_ctest, kqdafs_ctest.h):
 * it takes the caller's descriptor ct_fd (fget with the capsicum(4)
 * rights of the operation, in the caller's context), creates a consumer
 * with the requested delivery mode, submits KAIO requests on kernel
 * buffers from malloc(9), waits for every completion (upcalls or
 * polling), destroys the consumer, and reports counts, bytes
 * and the data checks.  Buffers are freed only after the consumer is
 * destroyed, which waits for all of its I/O.  The RDMA tests
 * (KQDAFS_CTEST_RDMA*) register malloc(9) buffers as memory regions of
 * the consumer and move bytes over a loopback endpoint pair.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/errno.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mutex.h>
#include <sys/proc.h>
#include <sys/callout.h>
#include <sys/capsicum.h>
#include <sys/file.h>
#include <sys/filedesc.h>
#include <sys/sysctl.h>

#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/pmap.h>
#include <vm/vm_page.h>
#include <vm/vm_extern.h>

#include "kqdafs_kapi.h"
#include "kqdafs_rdma_provider.h"
#include "kqdafs_ctest.h"

static MALLOC_DEFINE(M_CTEST, "kqdafs_ctest", "kqdafs consumer test");

/*
 * What keeps this module loaded, as a module built on kqdafs_kapi(9) must
 * count it: runs of the sysctl handler in progress (their consumers and
 * upcalls point into this module), behind a closed bit that MOD_UNLOAD
 * sets only while none runs, so that none can start afterwards; and
 * providers still registered (kqdafs calls their nic_ops), a failed
 * deregistration included.
 */
#define	CTEST_CLOSED	0x80000000u
static volatile u_int ctest_gate;
static volatile u_int ctest_providers;

/* Longest wait for the completions of one run. */
#define	CTEST_WAIT_SECONDS	60

struct ctest_req {
	uint64_t	 cr_id;
	char		*cr_buf;	/* malloc'd: ct_misalign + ct_len */
	int64_t		 cr_data;
	uint32_t	 cr_fflags;	/* expected kc_fflags; 0: any */
	int		 cr_submitted;
	int		 cr_done;
};

struct ctest_run {
	struct mtx		 cr_mtx;	/* protects everything below */
	struct kqdafs_ctest	 cr_ct;
	struct ctest_req	*cr_reqs;
	u_int			 cr_nreqs;	/* entries of cr_reqs */
	u_int			 cr_next;	/* RDMA: next cookie */
	u_int			 cr_ndone;
	u_int			 cr_nsubmitted;
};

/* One completion; cr_mtx held.  Never sleeps. */
static void
ctest_record(struct ctest_run *run, const struct kqdafs_completion *c)
{
	struct kqdafs_ctest *ct;
	struct ctest_req *r;

	ct = &run->cr_ct;
	if (c->kc_cookie >= run->cr_nreqs) {
		ct->ct_bad++;
		return;
	}
	r = &run->cr_reqs[c->kc_cookie];
	if (r->cr_done || (r->cr_submitted && r->cr_id != c->kc_id) ||
	    (r->cr_fflags != 0 && r->cr_fflags != c->kc_fflags)) {
		ct->ct_bad++;
		return;
	}
	r->cr_done = 1;
	r->cr_data = c->kc_data;
	run->cr_ndone++;
	ct->ct_completed++;
	if (c->kc_data >= 0)
		ct->ct_bytes += (uint64_t)c->kc_data;
	else if (c->kc_data == -ECANCELED)
		ct->ct_cancelled++;
	else if (c->kc_data == -ECONNRESET)
		ct->ct_reset++;
	else if (c->kc_data == -EMSGSIZE)
		ct->ct_msgsize++;
	else {
		ct->ct_failed++;
		if (ct->ct_first_error == 0)
			ct->ct_first_error = (int32_t)-c->kc_data;
	}
}

/* DIRECT (completion context: no sleeping) and DELAYED upcalls. */
static void
ctest_upcall(void *arg, const struct kqdafs_completion *c, u_int n)
{
	struct ctest_run *run;
	u_int i;

	run = arg;
	mtx_lock(&run->cr_mtx);
	run->cr_ct.ct_upcalls++;
	if (n > run->cr_ct.ct_max_batch)
		run->cr_ct.ct_max_batch = n;
	for (i = 0; i < n; i++)
		ctest_record(run, &c[i]);
	wakeup(run);
	mtx_unlock(&run->cr_mtx);
}

/*
 * KQDAFS_CTEST_DESTROY_OTHER: the upcall of the consumer that does the
 * reads destroys the other consumer, as kqdafs_kapi(9) allows a delayed
 * upcall to, on its first call once the other consumer's one request (the
 * next to last) was submitted; its delivery may then be queued behind the
 * destroyer's.
 */
struct ctest_other {
	struct ctest_run	*co_run;
	struct kqdafs_consumer	*co_other;
	volatile u_int		 co_armed;	/* the other's request is in */
};

static void
ctest_upcall_destroy_other(void *arg, const struct kqdafs_completion *c,
    u_int n)
{
	struct ctest_other *co;
	struct kqdafs_consumer *other;

	co = arg;
	ctest_upcall(co->co_run, c, n);
	if (!atomic_load_acq_int(&co->co_armed) || co->co_other == NULL)
		return;
	/*
	 * Let the other's read complete meanwhile: its delivery is then
	 * queued on the dispatcher, behind this very call.
	 */
	pause("ctdstr", MAX(hz / 10, 2));
	other = co->co_other;
	co->co_other = NULL;
	if (other != NULL)
		kqdafs_consumer_destroy(other);
}

/* Wait for the completion of every submitted request. */
static void
ctest_wait(struct ctest_run *run, struct kqdafs_consumer *kc)
{
	struct kqdafs_completion c[16];
	u_int i, n;
	int waited;

	waited = 0;
	mtx_lock(&run->cr_mtx);
	while (run->cr_ndone < run->cr_nsubmitted) {
		if (waited >= CTEST_WAIT_SECONDS * 10) {
			run->cr_ct.ct_timeout = 1;
			break;
		}
		if (run->cr_ct.ct_mode == KQDAFS_DELIVER_POLL) {
			mtx_unlock(&run->cr_mtx);
			n = kqdafs_consumer_poll(kc, c, nitems(c));
			mtx_lock(&run->cr_mtx);
			for (i = 0; i < n; i++)
				ctest_record(run, &c[i]);
			if (n > 0)
				continue;
		}
		(void)mtx_sleep(run, &run->cr_mtx, 0, "ctwait",
		    MAX(hz / 10, 1));
		waited++;
	}
	mtx_unlock(&run->cr_mtx);
}

/* kqdafs_cancel(kc, id), its answer counted. */
static void
ctest_cancel(struct ctest_run *run, struct kqdafs_consumer *kc, uint64_t id)
{
	int error;

	error = kqdafs_cancel(kc, id);
	mtx_lock(&run->cr_mtx);
	if (error == 0)
		run->cr_ct.ct_cancel_ok++;
	else if (error == EALREADY)
		run->cr_ct.ct_cancel_already++;
	else
		run->cr_ct.ct_cancel_noent++;
	mtx_unlock(&run->cr_mtx);
}

/*
 * A run of ct with nreqs request slots; ctest_run_free() frees it (not
 * the slots' buffers).
 */
static struct ctest_run *
ctest_run_alloc(const struct kqdafs_ctest *ct, u_int nreqs)
{
	struct ctest_run *run;

	run = malloc(sizeof(*run), M_CTEST, M_WAITOK | M_ZERO);
	mtx_init(&run->cr_mtx, "kqdafs_ctest", NULL, MTX_DEF);
	run->cr_ct = *ct;
	run->cr_reqs = malloc(sizeof(*run->cr_reqs) * nreqs, M_CTEST,
	    M_WAITOK | M_ZERO);
	run->cr_nreqs = nreqs;
	return (run);
}

static void
ctest_run_free(struct ctest_run *run)
{

	free(run->cr_reqs, M_CTEST);
	mtx_destroy(&run->cr_mtx);
	free(run, M_CTEST);
}

/*
 * The consumer of run: ct's delivery mode (upcalls to ctest_upcall unless
 * it polls) and batch, with depth.
 */
static int
ctest_create(struct ctest_run *run, const struct kqdafs_ctest *ct,
    const char *name, u_int depth, struct kqdafs_consumer **kcp)
{
	struct kqdafs_consumer_args args;

	memset(&args, 0, sizeof(args));
	args.ca_name = name;
	args.ca_delivery = ct->ct_mode;
	args.ca_upcall = ct->ct_mode == KQDAFS_DELIVER_POLL ? NULL :
	    ctest_upcall;
	args.ca_arg = run;
	args.ca_depth = depth;
	args.ca_batch = ct->ct_batch;
	return (kqdafs_consumer_create(&args, kcp));
}

static int
ctest_submit(struct ctest_run *run, struct kqdafs_consumer *kc,
    struct file *fp, u_int i)
{
	struct kqdafs_ctest *ct;
	struct ctest_req *r;
	off_t off;

	ct = &run->cr_ct;
	r = &run->cr_reqs[i];
	off = ct->ct_offset + (off_t)i * ct->ct_len;
	switch (ct->ct_op) {
	case KQDAFS_CTEST_READ:
	case KQDAFS_CTEST_DESTROY_OTHER:
	case KQDAFS_CTEST_DEPTH:
	case KQDAFS_CTEST_CANCEL:
	case KQDAFS_CTEST_DESTROY:
		return (kqdafs_kaio_read(kc, fp, off,
		    r->cr_buf + ct->ct_misalign, ct->ct_len, i, &r->cr_id));
	case KQDAFS_CTEST_FSYNC:
		return (kqdafs_kaio_fsync(kc, fp, i, &r->cr_id));
	default:
		return (kqdafs_kaio_write(kc, fp, off,
		    r->cr_buf + ct->ct_misalign, ct->ct_len, i, &r->cr_id));
	}
}

static void
ctest_check_reads(struct ctest_run *run)
{
	struct kqdafs_ctest *ct;
	struct ctest_req *r;
	uint64_t off;
	uint8_t b;
	int64_t j;
	u_int i;

	ct = &run->cr_ct;
	for (i = 0; i < ct->ct_count; i++) {
		r = &run->cr_reqs[i];
		if (!r->cr_done || r->cr_data <= 0)
			continue;
		off = (uint64_t)ct->ct_offset + (uint64_t)i * ct->ct_len;
		for (j = 0; j < r->cr_data; j++) {
			b = (uint8_t)r->cr_buf[ct->ct_misalign + j];
			ct->ct_checksum += b;
			if (b != kqdafs_ctest_byte(off + (uint64_t)j))
				ct->ct_mismatch++;
		}
	}
}

static int
ctest_valid(const struct kqdafs_ctest *ct)
{

	if (ct->ct_count == 0 || ct->ct_count > KQDAFS_CTEST_MAX_COUNT ||
	    ct->ct_len > KQDAFS_CTEST_MAX_LEN || ct->ct_misalign >= PAGE_SIZE ||
	    ct->ct_offset < 0 || ct->ct_op < KQDAFS_CTEST_READ ||
	    ct->ct_op > KQDAFS_CTEST_DESTROY_OTHER)
		return (0);
	/* The destroying upcall must be one that may sleep. */
	if (ct->ct_op == KQDAFS_CTEST_DESTROY_OTHER)
		return (ct->ct_mode == KQDAFS_DELIVER_DELAYED &&
		    ct->ct_count >= 2 && ct->ct_len > 0);
	if (ct->ct_op == KQDAFS_CTEST_RDMA ||
	    ct->ct_op == KQDAFS_CTEST_RDMA_DESTROY ||
	    ct->ct_op == KQDAFS_CTEST_NIC)
		return (ct->ct_len >= 2 && (uint64_t)ct->ct_count * ct->ct_len <=
		    KQDAFS_CTEST_RDMA_MAX_BYTES &&
		    ct->ct_count < KQDAFS_KAPI_DEPTH_MAX);
	return (ct->ct_len > 0 || ct->ct_op == KQDAFS_CTEST_FSYNC);
}

/* ---- RDMA ------------------------------------------------------------ */

struct ctest_rdma {
	struct ctest_run	*rd_run;
	struct kqdafs_consumer	*rd_kc;
	char			*rd_a;		/* malloc'd, misalign + size */
	char			*rd_b;
	char			*rd_c;
	uint64_t		 rd_size;	/* N * L */
	uint32_t		 rd_ka, rd_kb, rd_kc_key;
	uint32_t		 rd_ep[2];
};

/* A synchronous answer that must be want; check numbers are for the log. */
static void
ctest_expect(struct ctest_run *run, int check, int got, int want)
{

	mtx_lock(&run->cr_mtx);
	run->cr_ct.ct_checks++;
	if (got != want) {
		run->cr_ct.ct_checks_bad++;
		if (run->cr_ct.ct_check_first == 0)
			run->cr_ct.ct_check_first = check * 1000 + got;
	}
	mtx_unlock(&run->cr_mtx);
}

/*
 * Post one work request with the next cookie; 0 or the errno.  The
 * completion may be delivered (DIRECT: in this thread) before this
 * returns, so cr_mtx is not held across the call.
 */
static int
ctest_rdma_post(struct ctest_rdma *rd, uint32_t op, uint32_t ep,
    uint32_t lkey, uint64_t loff, uint32_t rkey, uint64_t roff, uint64_t len,
    uint64_t *idp)
{
	struct ctest_run *run;
	struct kqdafs_rdma_wr wr;
	struct ctest_req *r;
	u_int i;
	int error;

	run = rd->rd_run;
	mtx_lock(&run->cr_mtx);
	if (run->cr_next >= run->cr_nreqs) {
		mtx_unlock(&run->cr_mtx);
		return (ENOSPC);
	}
	i = run->cr_next++;
	r = &run->cr_reqs[i];
	r->cr_fflags = KQDAFS_EV_RDMA | op;
	mtx_unlock(&run->cr_mtx);
	memset(&wr, 0, sizeof(wr));
	wr.wr_op = op;
	wr.wr_ep = ep;
	wr.wr_local_key = lkey;
	wr.wr_local_offset = loff;
	wr.wr_remote_key = rkey;
	wr.wr_remote_offset = roff;
	wr.wr_len = len;
	wr.wr_cookie = i;
	error = kqdafs_rdma_post(rd->rd_kc, &wr, &r->cr_id);
	mtx_lock(&run->cr_mtx);
	if (error == 0) {
		r->cr_submitted = 1;
		run->cr_nsubmitted++;
		run->cr_ct.ct_submitted++;
		if (idp != NULL)
			*idp = r->cr_id;
	} else if (error == EAGAIN)
		run->cr_ct.ct_eagain++;
	else if (run->cr_ct.ct_first_error == 0)
		run->cr_ct.ct_first_error = error;
	mtx_unlock(&run->cr_mtx);
	return (error);
}

/* A request that must be refused with want (nothing posted). */
static void
ctest_rdma_refused(struct ctest_rdma *rd, int check,
    const struct kqdafs_rdma_wr *wr, int want)
{
	uint64_t id;

	id = 0;
	ctest_expect(rd->rd_run, check, kqdafs_rdma_post(rd->rd_kc, wr, &id),
	    want);
	ctest_expect(rd->rd_run, check, id == 0 ? 0 : -1, 0);
}

/* Count the bytes of B that differ from A, then clear B. */
static void
ctest_rdma_compare(struct ctest_rdma *rd, u_int misalign)
{
	uint64_t j, bad;

	bad = 0;
	for (j = 0; j < rd->rd_size; j++)
		if (rd->rd_a[misalign + j] != rd->rd_b[misalign + j])
			bad++;
	mtx_lock(&rd->rd_run->cr_mtx);
	rd->rd_run->cr_ct.ct_mismatch += bad;
	mtx_unlock(&rd->rd_run->cr_mtx);
	memset(rd->rd_b + misalign, 0, rd->rd_size);
}

/* The synchronous checks: each call is refused and changes nothing. */
static void
ctest_rdma_errnos(struct ctest_rdma *rd, u_int len)
{
	struct kqdafs_rdma_wr wr, good;
	uint32_t key;

	memset(&good, 0, sizeof(good));
	good.wr_op = KQDAFS_RDMA_SEND;
	good.wr_ep = rd->rd_ep[0];
	good.wr_local_key = rd->rd_ka;
	good.wr_len = len;
	wr = good;
	wr.wr_op = 0;
	ctest_rdma_refused(rd, 1, &wr, EINVAL);
	wr = good;
	wr.wr_op = 9;
	ctest_rdma_refused(rd, 2, &wr, EINVAL);
	wr = good;
	wr.wr_flags = 1;
	ctest_rdma_refused(rd, 3, &wr, EINVAL);
	wr = good;
	wr.wr_pad = 1;
	ctest_rdma_refused(rd, 4, &wr, EINVAL);
	wr = good;
	wr.wr_len = KQDAFS_RDMA_MAX_LEN + 1;
	ctest_rdma_refused(rd, 5, &wr, EINVAL);
	wr = good;
	wr.wr_remote_key = rd->rd_kb;
	ctest_rdma_refused(rd, 6, &wr, EINVAL);
	wr = good;
	wr.wr_ep = 0xdead;
	ctest_rdma_refused(rd, 7, &wr, ENOENT);
	wr = good;
	wr.wr_local_key = 0xdead;
	ctest_rdma_refused(rd, 8, &wr, ENOENT);
	wr = good;
	wr.wr_op = KQDAFS_RDMA_RECV;
	/* A: no LOCAL_WRITE */;
	ctest_rdma_refused(rd, 9, &wr, EACCES);
	wr = good;
	wr.wr_local_offset = rd->rd_size - 1;
	wr.wr_len = 2;
	ctest_rdma_refused(rd, 10, &wr, EFAULT);
	wr = good;
	wr.wr_op = KQDAFS_RDMA_WRITE;		/* A: no REMOTE_WRITE */
	wr.wr_remote_key = rd->rd_ka;
	ctest_rdma_refused(rd, 11, &wr, EACCES);
	wr = good;
	wr.wr_op = KQDAFS_RDMA_READ;		/* B: no REMOTE_READ */
	wr.wr_local_key = rd->rd_kb;
	wr.wr_remote_key = rd->rd_kb;
	ctest_rdma_refused(rd, 12, &wr, EACCES);
	ctest_rdma_refused(rd, 13, NULL, EINVAL);
	key = 0;
	ctest_expect(rd->rd_run, 14, kqdafs_rdma_reg_mr(rd->rd_kc, rd->rd_b,
	    rd->rd_size, 0x8, &key), EINVAL);
	ctest_expect(rd->rd_run, 15, kqdafs_rdma_reg_mr(rd->rd_kc, rd->rd_b,
	    0, 0, &key), EINVAL);
	ctest_expect(rd->rd_run, 16, kqdafs_rdma_reg_mr(rd->rd_kc, NULL,
	    rd->rd_size, 0, &key), EINVAL);
	ctest_expect(rd->rd_run, 17, kqdafs_rdma_reg_mr(rd->rd_kc, rd->rd_b,
	    rd->rd_size, 0, NULL), EINVAL);
	ctest_expect(rd->rd_run, 18, key, 0);
	ctest_expect(rd->rd_run, 19, kqdafs_rdma_dereg_mr(rd->rd_kc, 0xdead),
	    ENOENT);
	ctest_expect(rd->rd_run, 20, kqdafs_rdma_ep_close(rd->rd_kc, 0xdead),
	    ENOENT);
	ctest_expect(rd->rd_run, 21, kqdafs_rdma_ep_pair(rd->rd_kc, NULL),
	    EINVAL);
	ctest_expect(rd->rd_run, 22, kqdafs_cancel(rd->rd_kc, UINT64_MAX),
	    ENOENT);
}

static void
ctest_rdma_full(struct ctest_rdma *rd)
{
	struct kqdafs_rdma_wr wr;
	struct kqdafs_ctest *ct;
	struct ctest_run *run;
	vm_offset_t kva;
	uint64_t id, L, i;
	uint32_t key;
	u_int m, n;

	run = rd->rd_run;
	ct = &run->cr_ct;
	n = ct->ct_count;
	L = ct->ct_len;
	m = ct->ct_misalign;
	/* SEND/RECV: B <- A, in L-byte messages. */
	for (i = 0; i < n; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, rd->rd_ep[1],
		    rd->rd_kb, i * L, 0, 0, L, NULL);
	for (i = 0; i < n; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_SEND, rd->rd_ep[0],
		    rd->rd_ka, i * L, 0, 0, L, NULL);
	ctest_wait(run, rd->rd_kc);
	ctest_rdma_compare(rd, m);
	/* WRITE A -> B, then READ B <- A (B local). */
	for (i = 0; i < n; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_WRITE, rd->rd_ep[0],
		    rd->rd_ka, i * L, rd->rd_kb, i * L, L, NULL);
	ctest_wait(run, rd->rd_kc);
	ctest_rdma_compare(rd, m);
	for (i = 0; i < n; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_READ, rd->rd_ep[1],
		    rd->rd_kb, i * L, rd->rd_ka, i * L, L, NULL);
	ctest_wait(run, rd->rd_kc);
	ctest_rdma_compare(rd, m);
	/* A waiting RECV, cancelled. */
	id = 0;
	if (ctest_rdma_post(rd, KQDAFS_RDMA_RECV, rd->rd_ep[0], rd->rd_kb, 0,
	    0, 0, L, &id) == 0)
		ctest_cancel(run, rd->rd_kc, id);
	/* Kernel address space with nothing mapped: refused (EINVAL). */
	kva = kva_alloc(PAGE_SIZE);
	if (kva != 0) {
		ctest_expect(run, 61, kqdafs_rdma_reg_mr(rd->rd_kc,
		    (void *)kva, PAGE_SIZE, 0, &key), EINVAL);
		kva_free(kva, PAGE_SIZE);
	}
	/* Region C busy while a RECV waits on it; free once it is cancelled. */
	id = 0;
	if (ctest_rdma_post(rd, KQDAFS_RDMA_RECV, rd->rd_ep[0], rd->rd_kc_key,
	    0, 0, 0, L, &id) == 0) {
		ctest_expect(run, 30, kqdafs_rdma_dereg_mr(rd->rd_kc,
		    rd->rd_kc_key), EBUSY);
		ctest_cancel(run, rd->rd_kc, id);
	}
	ctest_expect(run, 31, kqdafs_rdma_dereg_mr(rd->rd_kc, rd->rd_kc_key),
	    0);
	/* A SEND longer than its RECV: both -EMSGSIZE. */
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, rd->rd_ep[1], rd->rd_kb, 0,
	    0, 0, L / 2, NULL);
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_SEND, rd->rd_ep[0], rd->rd_ka, 0,
	    0, 0, L, NULL);
	ctest_rdma_errnos(rd, (u_int)L);
	/* A waiting RECV reset by closing the peer endpoint. */
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, rd->rd_ep[1], rd->rd_kb, 0,
	    0, 0, L, NULL);
	ctest_expect(run, 32, kqdafs_rdma_ep_close(rd->rd_kc, rd->rd_ep[0]),
	    0);
	ctest_wait(run, rd->rd_kc);
	memset(&wr, 0, sizeof(wr));
	wr.wr_op = KQDAFS_RDMA_SEND;
	wr.wr_ep = rd->rd_ep[1];
	wr.wr_local_key = rd->rd_ka;
	wr.wr_len = L;
	ctest_rdma_refused(rd, 33, &wr, ENOTCONN);
	ctest_expect(run, 34, kqdafs_rdma_ep_close(rd->rd_kc, rd->rd_ep[0]),
	    ENOENT);
	ctest_expect(run, 35, kqdafs_rdma_ep_close(rd->rd_kc, rd->rd_ep[1]),
	    0);
	ctest_rdma_refused(rd, 36, &wr, ENOENT);
	/* Every completion was delivered: the regions are free. */
	ctest_expect(run, 37, kqdafs_rdma_dereg_mr(rd->rd_kc, rd->rd_ka), 0);
	ctest_expect(run, 38, kqdafs_rdma_dereg_mr(rd->rd_kc, rd->rd_kb), 0);
	ctest_expect(run, 39, kqdafs_rdma_dereg_mr(rd->rd_kc, rd->rd_kb),
	    ENOENT);
}

/* RECVs waiting, then one too many (EAGAIN); the caller destroys. */
static void
ctest_rdma_destroy(struct ctest_rdma *rd)
{
	struct kqdafs_ctest *ct;
	uint64_t i;

	ct = &rd->rd_run->cr_ct;
	for (i = 0; i <= ct->ct_count; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, rd->rd_ep[1],
		    rd->rd_kb, (i % ct->ct_count) * ct->ct_len, 0, 0,
		    ct->ct_len, NULL);
}

/* ---- a fake NIC provider (kqdafs_rdma_provider(9)) ------------------- */

#define	NIC_CONNS	3		/* connections 1 and 2 are wired */
#define	NIC_WINDOW_KEY	7		/* the simulated peer's region */
#define	NIC_BAD_KEY	0xbad		/* fails with EIO */
#define	NIC_MAX_PENDING	512

struct nic_xfer {
	void		*nx_token;
	uint64_t	 nx_conn;
	uint32_t	 nx_op;
	uint32_t	 nx_rkey;
	uint64_t	 nx_roff;
	uint64_t	 nx_len;
	struct vm_page	**nx_pages;
	size_t		 nx_offset;
};

struct nic_done {
	void		*nd_token;
	int		 nd_error;
	uint64_t	 nd_bytes;
};

struct nic {
	struct mtx			 n_mtx;	/* protects the queue */
	struct callout			 n_co;	/* carries the transfers */
	struct kqdafs_rdma_provider	*n_prov;
	struct nic_xfer			 n_q[NIC_MAX_PENDING];
	u_int				 n_nq;
	int				 n_closed[NIC_CONNS];
	u_int				 n_opens[NIC_CONNS];  /* rpo_open */
	u_int				 n_closes[NIC_CONNS]; /* rpo_close */
	struct nic_done			 n_done[NIC_MAX_PENDING]; /* callout */
	char				*n_window;
	size_t				 n_window_len;
};

/* Kernel address of byte pos of a span's pages (the direct map). */
static char *
nic_kva(struct vm_page **ma, size_t pos)
{

	return ((char *)PHYS_TO_DMAP(VM_PAGE_TO_PHYS(ma[pos >> PAGE_SHIFT])) +
	    (pos & PAGE_MASK));
}

/* Copy len bytes between the span at (ma, pos) and buf. */
static void
nic_copy_buf(struct vm_page **ma, size_t pos, char *buf, size_t len,
    int to_span)
{
	size_t chunk;

	while (len > 0) {
		chunk = MIN(len, PAGE_SIZE - (pos & PAGE_MASK));
		if (to_span)
			memcpy(nic_kva(ma, pos), buf, chunk);
		else
			memcpy(buf, nic_kva(ma, pos), chunk);
		pos += chunk;
		buf += chunk;
		len -= chunk;
	}
}

/* Copy len bytes from one span to another. */
static void
nic_copy_spans(struct vm_page **src, size_t spos, struct vm_page **dst,
    size_t dpos, size_t len)
{
	size_t chunk;

	while (len > 0) {
		chunk = MIN(len, PAGE_SIZE - (spos & PAGE_MASK));
		chunk = MIN(chunk, PAGE_SIZE - (dpos & PAGE_MASK));
		memcpy(nic_kva(dst, dpos), nic_kva(src, spos), chunk);
		spos += chunk;
		dpos += chunk;
		len -= chunk;
	}
}

/* The oldest queued RECV on conn, or -1; n_mtx held. */
static int
nic_find_recv(struct nic *n, uint64_t conn)
{
	u_int i;

	for (i = 0; i < n->n_nq; i++)
		if (n->n_q[i].nx_conn == conn &&
		    n->n_q[i].nx_op == KQDAFS_RDMA_RECV)
			return (i);
	return (-1);
}

/* Remove entry i of the queue; n_mtx held. */
static void
nic_remove(struct nic *n, u_int i)
{

	for (; i + 1 < n->n_nq; i++)
		n->n_q[i] = n->n_q[i + 1];
	n->n_nq--;
}

/* Record a completion to make once n_mtx is dropped. */
static void
nic_done(struct nic *n, u_int *nd, void *token, int error, uint64_t bytes)
{

	n->n_done[*nd].nd_token = token;
	n->n_done[*nd].nd_error = error;
	n->n_done[*nd].nd_bytes = error == 0 ? bytes : 0;
	(*nd)++;
}

/* One WRITE or READ against the window: 0 or an errno. */
static int
nic_one_sided(struct nic *n, struct nic_xfer *x)
{

	if (x->nx_rkey == NIC_BAD_KEY)
		return (EIO);
	if (x->nx_rkey != NIC_WINDOW_KEY)
		return (EACCES);
	if (x->nx_roff > n->n_window_len ||
	    x->nx_len > n->n_window_len - x->nx_roff)
		return (EFAULT);
	nic_copy_buf(x->nx_pages, x->nx_offset, n->n_window + x->nx_roff,
	    x->nx_len, x->nx_op == KQDAFS_RDMA_READ);
	return (0);
}

/*
 * The callout: carry what can be carried, then complete it with n_mtx
 * dropped (a DIRECT consumer's upcall runs in this context).
 */
static void
nic_tick(void *arg)
{
	struct nic *n;
	struct nic_xfer *x, *r;
	u_int i, nd;
	int e, ri;

	n = arg;
	nd = 0;
	mtx_lock(&n->n_mtx);
	i = 0;
	while (i < n->n_nq) {
		x = &n->n_q[i];
		if (n->n_closed[x->nx_conn]) {
			nic_done(n, &nd, x->nx_token, ECONNRESET, 0);
		} else if (x->nx_op == KQDAFS_RDMA_WRITE ||
		    x->nx_op == KQDAFS_RDMA_READ) {
			e = nic_one_sided(n, x);
			nic_done(n, &nd, x->nx_token, e, x->nx_len);
		} else if (x->nx_op == KQDAFS_RDMA_SEND &&
		    (ri = nic_find_recv(n, NIC_CONNS - x->nx_conn)) >= 0) {
			r = &n->n_q[ri];
			e = x->nx_len > r->nx_len ? EMSGSIZE : 0;
			if (e == 0)
				nic_copy_spans(x->nx_pages, x->nx_offset,
				    r->nx_pages, r->nx_offset, x->nx_len);
			nic_done(n, &nd, x->nx_token, e, x->nx_len);
			nic_done(n, &nd, r->nx_token, e, x->nx_len);
			/* The RECV, then (below) the SEND, at i - 1 if the
			 * RECV was before it. */
			nic_remove(n, ri);
			if ((u_int)ri < i)
				i--;
		} else {
			/* A RECV, or a SEND with no RECV yet: waits. */
			i++;
			continue;
		}
		nic_remove(n, i);
	}
	mtx_unlock(&n->n_mtx);
	for (i = 0; i < nd; i++)
		kqdafs_rdma_provider_complete(n->n_done[i].nd_token,
		    n->n_done[i].nd_error, n->n_done[i].nd_bytes);
}

static void
nic_post(void *arg, const struct kqdafs_rdma_xfer *x)
{
	struct nic *n;
	struct nic_xfer *q;

	n = arg;
	mtx_lock(&n->n_mtx);
	if (n->n_nq == NIC_MAX_PENDING || x->rx_conn == 0 ||
	    x->rx_conn >= NIC_CONNS) {
		mtx_unlock(&n->n_mtx);
		/* Completing from rpo_post is allowed. */
		kqdafs_rdma_provider_complete(x->rx_token, ENOBUFS, 0);
		return;
	}
	q = &n->n_q[n->n_nq++];
	q->nx_token = x->rx_token;
	q->nx_conn = x->rx_conn;
	q->nx_op = x->rx_op;
	q->nx_rkey = x->rx_remote_key;
	q->nx_roff = x->rx_remote_offset;
	q->nx_len = x->rx_len;
	q->nx_pages = x->rx_pages;
	q->nx_offset = x->rx_offset;
	callout_reset(&n->n_co, 1, nic_tick, n);
	mtx_unlock(&n->n_mtx);
}

static int
nic_open(void *arg, uint64_t conn)
{
	struct nic *n;

	n = arg;
	if (conn == 0 || conn >= NIC_CONNS)
		return (ECONNREFUSED);
	mtx_lock(&n->n_mtx);
	n->n_closed[conn] = 0;
	n->n_opens[conn]++;
	mtx_unlock(&n->n_mtx);
	return (0);
}

static void
nic_close(void *arg, uint64_t conn)
{
	struct nic *n;

	n = arg;
	if (conn == 0 || conn >= NIC_CONNS)
		return;
	mtx_lock(&n->n_mtx);
	n->n_closed[conn] = 1;
	n->n_closes[conn]++;
	callout_reset(&n->n_co, 1, nic_tick, n);
	mtx_unlock(&n->n_mtx);
}

static const struct kqdafs_rdma_provider_ops nic_ops = {
	.rpo_post = nic_post,
	.rpo_open = nic_open,
	.rpo_close = nic_close,
};

static struct nic *
nic_create(size_t window_len)
{
	struct nic *n;

	n = malloc(sizeof(*n), M_CTEST, M_WAITOK | M_ZERO);
	mtx_init(&n->n_mtx, "kqdafs_ctest nic", NULL, MTX_DEF);
	callout_init(&n->n_co, 1);
	n->n_window_len = window_len;
	n->n_window = malloc(window_len, M_CTEST, M_WAITOK | M_ZERO);
	return (n);
}

/* After a successful deregistration (or none): no op runs any more. */
static void
nic_free(struct nic *n)
{

	callout_drain(&n->n_co);
	mtx_destroy(&n->n_mtx);
	free(n->n_window, M_CTEST);
	free(n, M_CTEST);
}

/* rpo_open and rpo_close calls of connection conn so far. */
static void
nic_calls(struct nic *n, uint64_t conn, u_int *opens, u_int *closes)
{

	mtx_lock(&n->n_mtx);
	*opens = n->n_opens[conn];
	*closes = n->n_closes[conn];
	mtx_unlock(&n->n_mtx);
}

/*
 * One endpoint per (provider, connection), e1 bound to connection 1: a
 * second binding of it, by this consumer or by another, is refused with
 * EBUSY before the driver hears of it, so neither the refusal nor (had it
 * been accepted) closing the second endpoint resets connection 1 under
 * e1.  A closed endpoint's connection (2, after its rpo_close) can be
 * bound again.
 */
static void
ctest_nic_rebind(struct ctest_rdma *rd, struct nic *n)
{
	struct kqdafs_consumer_args args;
	struct kqdafs_consumer *kc2;
	struct ctest_run *run;
	u_int opens, closes;
	uint32_t e3;
	int error;

	run = rd->rd_run;
	e3 = 0;
	error = kqdafs_rdma_ep_connect(rd->rd_kc, KQDAFS_CTEST_NIC_NAME, 1,
	    &e3);
	ctest_expect(run, 62, error, EBUSY);
	if (error == 0)
		(void)kqdafs_rdma_ep_close(rd->rd_kc, e3);
	memset(&args, 0, sizeof(args));
	args.ca_name = "kqdafs_ctest rebind";
	args.ca_delivery = KQDAFS_DELIVER_POLL;
	error = kqdafs_consumer_create(&args, &kc2);
	ctest_expect(run, 63, error, 0);
	if (error == 0) {
		error = kqdafs_rdma_ep_connect(kc2, KQDAFS_CTEST_NIC_NAME, 1,
		    &e3);
		ctest_expect(run, 64, error, EBUSY);
		/* Closes e3 if it was bound. */
		kqdafs_consumer_destroy(kc2);
	}
	nic_calls(n, 1, &opens, &closes);
	ctest_expect(run, 65, opens, 1);
	ctest_expect(run, 66, closes, 0);
}

/* After e2 (connection 2) was closed: connection 2 can be bound again. */
static void
ctest_nic_reopen(struct ctest_rdma *rd, struct nic *n)
{
	struct ctest_run *run;
	u_int opens, closes;
	uint32_t e;
	int error;

	run = rd->rd_run;
	e = 0;
	error = kqdafs_rdma_ep_connect(rd->rd_kc, KQDAFS_CTEST_NIC_NAME, 2,
	    &e);
	ctest_expect(run, 67, error, 0);
	if (error == 0)
		ctest_expect(run, 68, kqdafs_rdma_ep_close(rd->rd_kc, e), 0);
	nic_calls(n, 2, &opens, &closes);
	ctest_expect(run, 69, opens, 2);
	ctest_expect(run, 70, closes, 2);
}

/* KQDAFS_CTEST_NIC, consumer created, regions A and B registered. */
static void
ctest_nic(struct ctest_rdma *rd, struct nic *n)
{
	struct kqdafs_rdma_provider *p2;
	struct kqdafs_ctest *ct;
	struct ctest_run *run;
	uint64_t bad, i, id, L;
	uint32_t e1, e2, e3;
	u_int m, N;

	run = rd->rd_run;
	ct = &run->cr_ct;
	N = ct->ct_count;
	L = ct->ct_len;
	m = ct->ct_misalign;
	e1 = e2 = e3 = 0;
	ctest_expect(run, 51, kqdafs_rdma_provider_register(
	    KQDAFS_CTEST_NIC_NAME, &nic_ops, n, &p2), EEXIST);
	ctest_expect(run, 52, kqdafs_rdma_provider_register("", &nic_ops, n,
	    &p2), EINVAL);
	ctest_expect(run, 53, kqdafs_rdma_ep_connect(rd->rd_kc,
	    KQDAFS_CTEST_NIC_NAME, 1, &e1), 0);
	ctest_expect(run, 54, kqdafs_rdma_ep_connect(rd->rd_kc,
	    KQDAFS_CTEST_NIC_NAME, 2, &e2), 0);
	ctest_expect(run, 55, kqdafs_rdma_ep_connect(rd->rd_kc, "nope", 1,
	    &e3), ENOENT);
	ctest_expect(run, 56, kqdafs_rdma_ep_connect(rd->rd_kc,
	    KQDAFS_CTEST_NIC_NAME, 99, &e3), ECONNREFUSED);
	ctest_expect(run, 57, kqdafs_rdma_provider_deregister(n->n_prov),
	    EBUSY);
	ctest_nic_rebind(rd, n);
	/* SEND/RECV over the wire: 1 -> 2. */
	for (i = 0; i < N; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, e2, rd->rd_kb,
		    i * L, 0, 0, L, NULL);
	for (i = 0; i < N; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_SEND, e1, rd->rd_ka,
		    i * L, 0, 0, L, NULL);
	ctest_wait(run, rd->rd_kc);
	ctest_rdma_compare(rd, m);
	/* WRITE into the peer's window, compared; READ it back. */
	for (i = 0; i < N; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_WRITE, e1, rd->rd_ka,
		    i * L, NIC_WINDOW_KEY, i * L, L, NULL);
	ctest_wait(run, rd->rd_kc);
	bad = 0;
	for (i = 0; i < rd->rd_size; i++)
		if (n->n_window[i] != rd->rd_a[m + i])
			bad++;
	for (i = 0; i < N; i++)
		(void)ctest_rdma_post(rd, KQDAFS_RDMA_READ, e1, rd->rd_kb,
		    i * L, NIC_WINDOW_KEY, i * L, L, NULL);
	ctest_wait(run, rd->rd_kc);
	mtx_lock(&run->cr_mtx);
	ct->ct_mismatch += bad;
	mtx_unlock(&run->cr_mtx);
	ctest_rdma_compare(rd, m);
	/* The driver fails one; a SEND longer than its RECV. */
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_WRITE, e1, rd->rd_ka, 0,
	    NIC_BAD_KEY, 0, L, NULL);
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, e2, rd->rd_kb, 0, 0, 0,
	    L / 2, NULL);
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_SEND, e1, rd->rd_ka, 0, 0, 0, L,
	    NULL);
	ctest_wait(run, rd->rd_kc);
	/* A transfer outstanding: EBUSY; posted: no cancel (EALREADY). */
	id = 0;
	if (ctest_rdma_post(rd, KQDAFS_RDMA_RECV, e2, rd->rd_kb, 0, 0, 0, L,
	    &id) == 0) {
		ctest_expect(run, 58, kqdafs_rdma_provider_deregister(
		    n->n_prov), EBUSY);
		ctest_cancel(run, rd->rd_kc, id);
	}
	/* Closing its endpoint makes the driver reset it. */
	ctest_expect(run, 59, kqdafs_rdma_ep_close(rd->rd_kc, e2), 0);
	ctest_wait(run, rd->rd_kc);
	ctest_nic_reopen(rd, n);
	/* Left waiting on e1 for destroy (conn 2 is closed). */
	(void)ctest_rdma_post(rd, KQDAFS_RDMA_RECV, e1, rd->rd_kb, 0, 0, 0, L,
	    NULL);
}

/* KQDAFS_CTEST_RDMA, KQDAFS_CTEST_RDMA_DESTROY, KQDAFS_CTEST_NIC. */
static void
ctest_rdma(struct kqdafs_ctest *ct)
{
	struct ctest_rdma rd;
	struct ctest_run *run;
	struct nic *nic;
	uint64_t j;
	u_int m;
	int error;

	memset(&rd, 0, sizeof(rd));
	nic = NULL;
	m = ct->ct_misalign;
	rd.rd_size = (uint64_t)ct->ct_count * ct->ct_len;
	run = ctest_run_alloc(ct, 4 * ct->ct_count + 8);
	rd.rd_run = run;
	rd.rd_a = malloc(m + rd.rd_size, M_CTEST, M_WAITOK | M_ZERO);
	rd.rd_b = malloc(m + rd.rd_size, M_CTEST, M_WAITOK | M_ZERO);
	rd.rd_c = malloc(m + ct->ct_len, M_CTEST, M_WAITOK | M_ZERO);
	for (j = 0; j < rd.rd_size; j++)
		rd.rd_a[m + j] = (char)kqdafs_ctest_byte(j);
	if (ct->ct_op == KQDAFS_CTEST_NIC) {
		nic = nic_create(rd.rd_size);
		error = kqdafs_rdma_provider_register(KQDAFS_CTEST_NIC_NAME,
		    &nic_ops, nic, &nic->n_prov);
		if (error == 0)
			atomic_add_int(&ctest_providers, 1);
		if (error != 0) {
			nic_free(nic);
			nic = NULL;
			run->cr_ct.ct_error = error;
			goto out;
		}
	}

	error = ctest_create(run, ct, "kqdafs_ctest rdma", ct->ct_op ==
	    KQDAFS_CTEST_RDMA_DESTROY ? ct->ct_count : ct->ct_depth, &rd.rd_kc);
	if (error != 0) {
		run->cr_ct.ct_error = error;
		goto out;
	}
	error = kqdafs_rdma_reg_mr(rd.rd_kc, rd.rd_a + m, rd.rd_size,
	    KQDAFS_MR_REMOTE_READ, &rd.rd_ka);
	if (error == 0)
		error = kqdafs_rdma_reg_mr(rd.rd_kc, rd.rd_b + m, rd.rd_size,
		    KQDAFS_MR_LOCAL_WRITE | KQDAFS_MR_REMOTE_WRITE, &rd.rd_kb);
	if (error == 0)
		error = kqdafs_rdma_reg_mr(rd.rd_kc, rd.rd_c + m, ct->ct_len,
		    KQDAFS_MR_LOCAL_WRITE, &rd.rd_kc_key);
	if (error == 0)
		error = kqdafs_rdma_ep_pair(rd.rd_kc, rd.rd_ep);
	if (error != 0)
		run->cr_ct.ct_error = error;
	else if (ct->ct_op == KQDAFS_CTEST_NIC)
		ctest_nic(&rd, nic);
	else if (ct->ct_op == KQDAFS_CTEST_RDMA) {
		ctest_rdma_full(&rd);
		ctest_wait(run, rd.rd_kc);
	} else
		ctest_rdma_destroy(&rd);
	/*
	 * Cancels what waits, waits for the rest, delivers every completion
	 * still owed, closes the endpoints and deregisters the regions;
	 * afterwards no upcall runs and the buffers are ours again.
	 */
	kqdafs_consumer_destroy(rd.rd_kc);
out:
	if (nic != NULL) {
		/* No endpoint, no transfer left: deregistration succeeds. */
		error = kqdafs_rdma_provider_deregister(nic->n_prov);
		ctest_expect(run, 60, error, 0);
		if (error == 0) {
			nic_free(nic);
			atomic_subtract_rel_int(&ctest_providers, 1);
		}
		/*
		 * Else leak it: the provider still points at it, and the
		 * module stays loaded (MOD_UNLOAD answers EBUSY).
		 */
	}
	*ct = run->cr_ct;
	free(rd.rd_a, M_CTEST);
	free(rd.rd_b, M_CTEST);
	free(rd.rd_c, M_CTEST);
	ctest_run_free(run);
}

/* One test run; the results go to ct. */
static void
ctest_run(struct thread *td, struct kqdafs_ctest *ct)
{
	struct kqdafs_consumer_args args;
	struct kqdafs_consumer *kc, *other;
	struct ctest_other co;
	struct ctest_run *run;
	const cap_rights_t *rights;
	struct file *fp;
	uint64_t off;
	u_int i, j;
	int error;

	if (!ctest_valid(ct)) {
		ct->ct_error = EINVAL;
		return;
	}
	if (ct->ct_op == KQDAFS_CTEST_RDMA ||
	    ct->ct_op == KQDAFS_CTEST_RDMA_DESTROY ||
	    ct->ct_op == KQDAFS_CTEST_NIC) {
		ctest_rdma(ct);
		return;
	}
	/*
	 * Capability rights belong to the descriptor, not to the file the
	 * KAPI is given: look it up with the rights of the system call each
	 * request stands for, as kern_preadv, kern_pwritev and kern_fsync
	 * (and vfs_aio.c aio_aqueue) do, so that a descriptor limited by
	 * cap_rights_limit(2) allows no more here (ENOTCAPABLE).
	 */
	switch (ct->ct_op) {
	case KQDAFS_CTEST_WRITE:
		rights = &cap_pwrite_rights;
		break;
	case KQDAFS_CTEST_FSYNC:
		rights = &cap_fsync_rights;
		break;
	default:
		rights = &cap_pread_rights;
		break;
	}
	error = fget(td, ct->ct_fd, rights, &fp);
	if (error != 0) {
		ct->ct_error = error;
		return;
	}
	run = ctest_run_alloc(ct, ct->ct_count);
	for (i = 0; i < ct->ct_count; i++) {
		if (ct->ct_len == 0)
			continue;
		run->cr_reqs[i].cr_buf = malloc(ct->ct_misalign + ct->ct_len,
		    M_CTEST, M_WAITOK | M_ZERO);
		if (ct->ct_op != KQDAFS_CTEST_WRITE)
			continue;
		off = (uint64_t)ct->ct_offset + (uint64_t)i * ct->ct_len;
		for (j = 0; j < ct->ct_len; j++)
			run->cr_reqs[i].cr_buf[ct->ct_misalign + j] =
			    (char)kqdafs_ctest_byte(off + j);
	}

	other = NULL;
	if (ct->ct_op == KQDAFS_CTEST_DESTROY_OTHER) {
		error = ctest_create(run, ct, "kqdafs_ctest other",
		    ct->ct_depth, &other);
		if (error != 0) {
			run->cr_ct.ct_error = error;
			goto out;
		}
		co.co_run = run;
		co.co_other = other;
		co.co_armed = 0;
		memset(&args, 0, sizeof(args));
		args.ca_name = "kqdafs_ctest destroyer";
		args.ca_delivery = KQDAFS_DELIVER_DELAYED;
		args.ca_upcall = ctest_upcall_destroy_other;
		args.ca_arg = &co;
		args.ca_depth = ct->ct_depth;
		args.ca_batch = ct->ct_batch;
		error = kqdafs_consumer_create(&args, &kc);
		if (error != 0)
			kqdafs_consumer_destroy(other);
	} else
		error = ctest_create(run, ct, "kqdafs_ctest", ct->ct_depth,
		    &kc);
	if (error != 0) {
		run->cr_ct.ct_error = error;
		goto out;
	}

	for (i = 0; i < ct->ct_count; i++) {
		/*
		 * The next to last request of DESTROY_OTHER goes to the
		 * other consumer; then the destroyer is armed, and its last
		 * request gives its upcall a call to destroy in.
		 */
		error = ctest_submit(run, i == ct->ct_count - 2 &&
		    other != NULL ? other : kc, fp, i);
		if (i == ct->ct_count - 2 && other != NULL)
			atomic_store_rel_int(&co.co_armed, 1);
		mtx_lock(&run->cr_mtx);
		if (error == 0) {
			run->cr_reqs[i].cr_submitted = 1;
			run->cr_nsubmitted++;
			run->cr_ct.ct_submitted++;
		} else if (error == EAGAIN)
			run->cr_ct.ct_eagain++;
		else if (run->cr_ct.ct_first_error == 0)
			run->cr_ct.ct_first_error = error;
		mtx_unlock(&run->cr_mtx);
	}
	if (ct->ct_op == KQDAFS_CTEST_CANCEL)
		for (i = 0; i < ct->ct_count; i++)
			if (run->cr_reqs[i].cr_submitted)
				ctest_cancel(run, kc, run->cr_reqs[i].cr_id);
	if (ct->ct_op != KQDAFS_CTEST_DESTROY)
		ctest_wait(run, kc);
	/* Waits for every request; afterwards no upcall runs. */
	kqdafs_consumer_destroy(kc);
	/* The upcall never ran (nothing submitted): destroy it here. */
	if (ct->ct_op == KQDAFS_CTEST_DESTROY_OTHER && co.co_other != NULL)
		kqdafs_consumer_destroy(co.co_other);
	if (ct->ct_op == KQDAFS_CTEST_READ)
		ctest_check_reads(run);
out:
	*ct = run->cr_ct;
	for (i = 0; i < ct->ct_count; i++)
		free(run->cr_reqs[i].cr_buf, M_CTEST);
	ctest_run_free(run);
	fdrop(fp, td);
}

static int
ctest_enter(void)
{
	u_int v;

	do {
		v = atomic_load_acq_int(&ctest_gate);
		if ((v & CTEST_CLOSED) != 0)
			return (ENXIO);
	} while (!atomic_cmpset_int(&ctest_gate, v, v + 1));
	return (0);
}

static int
ctest_sysctl_run(SYSCTL_HANDLER_ARGS)
{
	struct kqdafs_ctest ct;
	int error;

	if (req->newptr == NULL || req->newlen != sizeof(ct))
		return (EINVAL);
	error = ctest_enter();
	if (error != 0)
		return (error);
	error = SYSCTL_IN(req, &ct, sizeof(ct));
	if (error == 0) {
		ctest_run(req->td, &ct);
		error = SYSCTL_OUT(req, &ct, sizeof(ct));
	}
	atomic_subtract_rel_int(&ctest_gate, 1);
	return (error);
}

static SYSCTL_NODE(_debug, OID_AUTO, kqdafs_ctest, CTLFLAG_RD | CTLFLAG_MPSAFE,
    0, "kqdafs consumer test");
SYSCTL_PROC(_debug_kqdafs_ctest, OID_AUTO, run,
    CTLTYPE_OPAQUE | CTLFLAG_RW | CTLFLAG_MPSAFE, NULL, 0, ctest_sysctl_run,
    "S,kqdafs_ctest", "run one consumer test (struct kqdafs_ctest)");

static int
ctest_modevent(module_t mod __unused, int what, void *arg __unused)
{

	switch (what) {
	case MOD_LOAD:
	case MOD_SHUTDOWN:
		return (0);
	case MOD_QUIESCE:
		if (atomic_load_acq_int(&ctest_gate) != 0 ||
		    atomic_load_acq_int(&ctest_providers) != 0)
			return (EBUSY);
		return (0);
	case MOD_UNLOAD:
		if (atomic_load_acq_int(&ctest_providers) != 0 ||
		    !atomic_cmpset_int(&ctest_gate, 0, CTEST_CLOSED))
			return (EBUSY);
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t ctest_mod = {
	"kqdafs_consumer_test",
	ctest_modevent,
	NULL
};

DECLARE_MODULE(kqdafs_consumer_test, ctest_mod, SI_SUB_DRIVERS,
    SI_ORDER_MIDDLE);
MODULE_VERSION(kqdafs_consumer_test, 1);
MODULE_DEPEND(kqdafs_consumer_test, kqdafs, KQDAFS_KAPI_VERSION,
    KQDAFS_KAPI_VERSION, KQDAFS_KAPI_VERSION);
