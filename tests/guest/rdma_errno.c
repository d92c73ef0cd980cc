/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rdma_errno: every errno of the EVFILT_RDMA ABI, each with a positive
 * control next to it.
 *
 * KQDAFS_IOC_RDMA_POST as a whole (count, flags, pad, unreadable or
 * unwritable arrays: the call fails and posts nothing); each work request
 * (the byte checks of validate_rdma in their order, then the kqueue:
 * closed, not a kqueue, without CAP_KQUEUE_CHANGE; the endpoint: unknown,
 * closed, peer closed; the regions: unknown key, missing right, range
 * outside; their order; admission against max_requests_per_proc);
 * KQDAFS_IOC_RDMA_REG_MR (access bits, key/reserved set, length 0 or
 * above the limit, null/wrapping/kernel/unmapped/read-only memory, the
 * pinned limit max_pinned_per_proc -> EAGAIN, RLIMIT_MEMLOCK -> ENOMEM,
 * the table of KQDAFS_RDMA_MAX_MRS -> ENOSPC, after the argument
 * checks); DEREG_MR
 * (unknown, twice, pad, EBUSY while a request names the region); EP_PAIR
 * (flags, out fields set, KQDAFS_RDMA_MAX_ENDPOINTS -> ENOSPC); EP_CLOSE
 * (unknown, twice, pad).
 * Refused requests have id 0, are not counted as posted, are counted in
 * rdma_refused, and deliver no event.  TAP.
 *
 * The table-shaped cases are the lines of tests/cases/rdma_errno.cases,
 * which the kernel simulation runs too (rdma_errnos); `make` turns the
 * table into kqc_rdma_errno.h.  Written out here are the cases that need
 * a sequence (a region busy under a waiting RECV, the limits, the full
 * tables) and the one the simulation cannot express (a kqueue that is
 * /dev/null: its model has no such device).
 */

#include <sys/param.h>
#include <sys/capsicum.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqc_rdma_errno.h"
#include "kqt.h"

#define	RLEN	KQC_RDMA_RLEN

static struct kqt k;
static uint8_t *mem;
static uint32_t kall, knone, klw, krw, krr;	/* regions by rights */
static uint32_t ep[2], dead[2];
/* The mappings the table names (enum kqc_area). */
static uint8_t *a_ro, *a_unmapped;
static struct kqdafs_rdma_request a_reqs[KQDAFS_RDMA_MAX_BATCH + 1];
static struct kqdafs_rdma_result a_res[KQDAFS_RDMA_MAX_BATCH + 1];
static int64_t saved_pinned = -1, saved_reqs = -1;
static int64_t refused;

static void
restore(void)
{

	if (saved_pinned >= 0)
		kqt_sysctl_set(KQT_SYSCTL_MAX_PINNED, saved_pinned);
	if (saved_reqs >= 0)
		kqt_sysctl_set(KQT_SYSCTL_MAX_REQS, saved_reqs);
}

/* r must be refused with want (per request) and deliver no event. */
static void
expect(struct kqdafs_rdma_request *r, int want, const char *what)
{
	int e;

	e = kqt_post1(k.dev, r, NULL);
	if (e > 0)
		refused++;
	tap_ok(e == want, "%s: %s (expected %s)", what, e < 0 ? "?" :
	    kqt_errname(e), kqt_errname(want));
}

/* The counters a refused case must leave as they were. */
#define	NCOUNTERS	5
static const char *const counter_names[NCOUNTERS] = {
	KQT_SYSCTL_RDMA_POSTED, KQT_SYSCTL_RDMA_REFUSED, KQT_SYSCTL_RDMA_MRS,
	KQT_SYSCTL_RDMA_EPS, KQT_SYSCTL_RDMA_PINNED
};

static void
counters(int64_t v[NCOUNTERS])
{
	int i;

	for (i = 0; i < NCOUNTERS; i++)
		v[i] = kqt_counter(counter_names[i]);
}

static uint32_t
key_of(const struct kqc_key *kk)
{

	switch (kk->kind) {
	case KQC_K_NUM:
		return (kk->num);
	case KQC_K_ALL:
		return (kall);
	case KQC_K_NONE:
		return (knone);
	case KQC_K_LW:
		return (klw);
	case KQC_K_RW:
		return (krw);
	case KQC_K_RR:
		return (krr);
	}
	tap_bail("unknown region kind %d", kk->kind);
}

static uint32_t
ep_of(const struct kqc_ep *e, uint32_t fresh)
{

	switch (e->kind) {
	case KQC_EP_NUM:
		return (e->num);
	case KQC_EP_0:
		return (ep[0]);
	case KQC_EP_1:
		return (ep[1]);
	case KQC_EP_CLOSED:
		return (dead[0]);
	case KQC_EP_PEER_CLOSED:
		return (dead[1]);
	case KQC_EP_FRESH:
		return (fresh);
	}
	tap_bail("unknown endpoint kind %d", e->kind);
}

/* The address m names; results: the batch's result array. */
static uint64_t
addr_of(const struct kqc_mem *m, int results)
{
	uint8_t *base;

	switch (m->area) {
	case KQC_A_ADDR:
		return (m->off);
	case KQC_A_MEM:
		base = mem;
		break;
	case KQC_A_RO:
		base = a_ro;
		break;
	case KQC_A_UNMAPPED:
		base = a_unmapped;
		break;
	case KQC_A_ARRAY:
		base = results ? (uint8_t *)a_res : (uint8_t *)a_reqs;
		break;
	case KQC_A_BUF:
	case KQC_A_BIG:
	case KQC_A_EDGE:
		tap_bail("the RDMA table names a KAIO area");
	}
	return ((uint64_t)(uintptr_t)(base + m->off));
}

/* The kqueue d names; *own when it was made for the case. */
static int
kq_of(const struct kqc_desc *d, int *own)
{
	int fd;

	*own = 0;
	switch (d->kind) {
	case KQC_D_NUM:
		return (d->num);
	case KQC_D_CLOSED:
		return (-1);	/* run_case() picks the number */
	case KQC_D_DEV:
		return (k.dev);
	case KQC_D_KQ:
		if (!d->limited)
			return (k.kq);
		if ((fd = kqueue()) < 0)
			tap_bail("kqueue: %s", strerror(errno));
		kqt_limit_rights(fd, d->rights);
		*own = 1;
		return (fd);
	case KQC_D_FILE:
	case KQC_D_OPATH:
	case KQC_D_PIPE:
	case KQC_D_SOCKET:
	case KQC_D_SCRATCH:
		break;
	}
	tap_bail("the RDMA table names a descriptor it has no file for");
}

/* One line of tests/cases/rdma_errno.cases. */
static void
run_case(const struct kqc_rdma_case *c)
{
	struct kqdafs_rdma_request r;
	struct kqdafs_rdma_post p;
	struct kqdafs_rdma_reg_mr m;
	struct kqdafs_rdma_dereg_mr d;
	struct kqdafs_rdma_ep_pair pr;
	struct kqdafs_rdma_ep_close cl;
	struct kevent ev;
	int64_t before[NCOUNTERS], after[NCOUNTERS];
	uint32_t fresh[2] = { 0, 0 };
	uint64_t id = 0;
	char what[256];
	int closedfd, e, i, kq = -1, kq_own = 0;

	snprintf(what, sizeof(what), "%s (rdma_errno.cases:%d)", c->what,
	    c->line);
	counters(before);
	switch (c->kind) {
	case KQC_R_POST1:
		kq = kq_of(&c->kq, &kq_own);
		if (c->kq.kind == KQC_D_CLOSED) {
			if ((closedfd = dup(k.kq)) < 0 || close(closedfd) == -1)
				tap_bail("dup/close: %s", strerror(errno));
			kq = closedfd;
		}
		kqt_wr(&r, c->op, ep_of(&c->ep, 0), kq, key_of(&c->lkey),
		    c->loff, key_of(&c->rkey), c->roff, c->len, c->line);
		r.rr_flags = c->flags;
		r.rr_reserved[0] = c->reserved[0];
		r.rr_reserved[1] = c->reserved[1];
		e = kqt_post1(k.dev, &r, &id);
		break;
	case KQC_R_BATCH:
		memset(&p, 0, sizeof(p));
		p.rp_reqs = addr_of(&c->reqs, 0);
		p.rp_results = addr_of(&c->results, 1);
		p.rp_count = c->count;
		p.rp_flags = c->flags;
		p.rp_pad = c->pad;
		e = ioctl(k.dev, KQDAFS_IOC_RDMA_POST, &p) == -1 ? errno : 0;
		break;
	case KQC_R_REG_MR:
		memset(&m, 0, sizeof(m));
		m.krm_addr = addr_of(&c->addr, 0);
		m.krm_len = c->len;
		m.krm_access = c->access;
		m.krm_key = c->key;
		m.krm_reserved = c->reserved[0];
		e = ioctl(k.dev, KQDAFS_IOC_RDMA_REG_MR, &m) == -1 ? errno : 0;
		if (e == 0)
			tap_ok(m.krm_key != 0 &&
			    kqt_dereg_mr(k.dev, m.krm_key) == 0,
			    "%s: a key, deregistered again", what);
		break;
	case KQC_R_DEREG_MR:
		memset(&d, 0, sizeof(d));
		d.kdm_key = key_of(&c->dkey);
		d.kdm_pad = c->pad;
		e = ioctl(k.dev, KQDAFS_IOC_RDMA_DEREG_MR, &d) == -1 ? errno :
		    0;
		break;
	case KQC_R_EP_PAIR:
		memset(&pr, 0, sizeof(pr));
		pr.kep_ep[0] = c->eps[0];
		pr.kep_ep[1] = c->eps[1];
		pr.kep_flags = c->flags;
		pr.kep_pad = c->pad;
		e = ioctl(k.dev, KQDAFS_IOC_RDMA_EP_PAIR, &pr) == -1 ? errno :
		    0;
		if (e == 0) {
			fresh[0] = pr.kep_ep[0];
			fresh[1] = pr.kep_ep[1];
		}
		break;
	case KQC_R_EP_CLOSE:
		if (c->ep.kind == KQC_EP_FRESH &&
		    (e = kqt_ep_pair(k.dev, fresh)) != 0)
			tap_bail("EP_PAIR: %s", kqt_errname(e));
		memset(&cl, 0, sizeof(cl));
		cl.kec_ep = ep_of(&c->ep, fresh[0]);
		cl.kec_pad = c->pad;
		e = ioctl(k.dev, KQDAFS_IOC_RDMA_EP_CLOSE, &cl) == -1 ? errno :
		    0;
		if (e == 0)
			fresh[0] = 0;
		break;
	}
	counters(after);
	switch (c->want.kind) {
	case KQC_W_ERRNO:
		tap_ok(e == c->want.err, "%s: %s (expected %s)", what,
		    e < 0 ? "?" : kqt_errname(e), kqt_errname(c->want.err));
		/* A refused work request counts once in rdma_refused. */
		if (c->kind == KQC_R_POST1 && e > 0) {
			before[1]++;
			refused++;
		}
		break;
	case KQC_W_DONE:
		tap_ok(e == 0 && kqt_collect(kq, &ev, 1,
		    KQT_EVENT_TIMEOUT_MS) == 1 &&
		    kqt_rdma_ev_check(&k, &ev, c->op, id, c->line,
		    (int64_t)c->want.done), "%s: accepted, completes with %ju",
		    what, (uintmax_t)c->want.done);
		if (e > 0)
			tap_diag("refused: %s", kqt_errname(e));
		break;
	case KQC_W_OK:
		tap_ok(e == 0, "%s: %s", what, kqt_errname(e));
		break;
	case KQC_W_FIRST:
		tap_bail("%s: no RDMA expectation", what);
	}
	if (c->want.kind != KQC_W_DONE) {
		/* Nothing moved but what the case made and left. */
		before[3] += (fresh[0] != 0) + (fresh[1] != 0);
		for (i = 0; i < NCOUNTERS; i++)
			if (before[i] != after[i])
				break;
		if (!tap_ok(i == NCOUNTERS && kqt_quiet(k.kq, 50) == 0,
		    "%s: changes nothing, delivers no event", what))
			tap_diag("%s: %jd, expected %jd",
			    counter_names[i < NCOUNTERS ? i : 0],
			    (intmax_t)after[i < NCOUNTERS ? i : 0],
			    (intmax_t)before[i < NCOUNTERS ? i : 0]);
	}
	for (i = 0; i < 2; i++)
		if (fresh[i] != 0)
			kqt_ep_close(k.dev, fresh[i]);
	if (kq_own)
		close(kq);
}

/*
 * The cases that are sequences: DEREG_MR refused while a waiting RECV
 * names the region, and what follows once it is gone.
 */
static void
dereg_sequence(void)
{
	struct kqdafs_rdma_request r;
	struct kevent ev;
	uint32_t key;
	uint64_t id;
	int32_t res;
	int e;

	if ((e = kqt_reg_mr(k.dev, mem, 4096, KQDAFS_MR_LOCAL_WRITE, &key)) !=
	    0)
		tap_bail("REG_MR: %s", kqt_errname(e));
	/* EBUSY while a waiting RECV names it. */
	kqt_wr(&r, KQDAFS_RDMA_RECV, ep[1], k.kq, key, 0, 0, 0, 4096, 77);
	e = kqt_post1(k.dev, &r, &id);
	tap_ok(e == 0, "a RECV names the region and waits: %s",
	    kqt_errname(e));
	e = kqt_dereg_mr(k.dev, key);
	tap_ok(e == EBUSY, "DEREG_MR of a region a waiting RECV names: %s",
	    kqt_errname(e));
	e = kqt_cancel(k.dev, id, &res);
	tap_ok(e == 0 && res == 0, "cancel the RECV: %s, result %d",
	    kqt_errname(e), res);
	tap_ok(kqt_collect(k.kq, &ev, 1, KQT_EVENT_TIMEOUT_MS) == 1 &&
	    kqt_rdma_ev_check(&k, &ev, KQDAFS_RDMA_RECV, id, 77, -ECANCELED),
	    "its event says -ECANCELED");
	e = kqt_dereg_mr(k.dev, key);
	tap_ok(e == 0, "then DEREG_MR succeeds: %s", kqt_errname(e));
	e = kqt_dereg_mr(k.dev, key);
	tap_ok(e == ENOENT, "DEREG_MR twice: %s", kqt_errname(e));
	kqt_wr(&r, KQDAFS_RDMA_SEND, ep[0], k.kq, key, 0, 0, 0, 1, 1);
	expect(&r, ENOENT, "SEND from a deregistered region");
}

/* What the simulation cannot express: its model has no /dev/null. */
static void
guest_only(void)
{
	struct kqdafs_rdma_request r;
	int nullfd;

	if ((nullfd = open("/dev/null", O_RDWR)) < 0)
		tap_bail("open /dev/null: %s", strerror(errno));
	kqt_wr(&r, KQDAFS_RDMA_WRITE, ep[0], nullfd, kall, 0, kall, 0, 16, 7);
	expect(&r, EBADF, "kq is /dev/null (open, not a kqueue)");
	close(nullfd);
}

/* ENOSPC: the tables of a fresh descriptor; per descriptor. */
static void
tables(void)
{
	int64_t mrs0, eps0, pin0;
	uint32_t key, pair[2];
	uint8_t *pages;
	int d, e, i, n;

	mrs0 = kqt_counter(KQT_SYSCTL_RDMA_MRS);
	eps0 = kqt_counter(KQT_SYSCTL_RDMA_EPS);
	pin0 = kqt_counter(KQT_SYSCTL_RDMA_PINNED);
	if ((d = open(KQDAFS_DEVICE, O_RDWR)) < 0)
		tap_bail("open: %s", strerror(errno));
	pages = kqt_pages((size_t)KQDAFS_RDMA_MAX_MRS * 4096);
	for (i = 0, n = 0; i < KQDAFS_RDMA_MAX_MRS; i++)
		if (kqt_reg_mr(d, pages + (size_t)i * 4096, 4096, 0, &key) ==
		    0)
			n++;
	tap_ok(n == KQDAFS_RDMA_MAX_MRS, "%d regions on one descriptor (%d)",
	    KQDAFS_RDMA_MAX_MRS, n);
	e = kqt_reg_mr(d, pages, 4096, 0, &key);
	tap_ok(e == ENOSPC, "one more: %s", kqt_errname(e));
	/* The argument checks come before the table's, as for EP_PAIR. */
	e = kqt_reg_mr(d, pages, 4096, 0xffffffffU, &key);
	tap_ok(e == EINVAL, "full table, unknown rights: EINVAL first: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(d, pages, 0, 0, &key);
	tap_ok(e == EINVAL, "full table, length 0: EINVAL first: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(d, NULL, 4096, 0, &key);
	tap_ok(e == EFAULT, "full table, null address: EFAULT first: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(k.dev, pages, 4096, 0, &key);
	tap_ok(e == 0, "control: another descriptor still registers: %s",
	    kqt_errname(e));
	if (e == 0)
		kqt_dereg_mr(k.dev, key);
	for (i = 0, n = 0; i < KQDAFS_RDMA_MAX_ENDPOINTS / 2; i++)
		if (kqt_ep_pair(d, pair) == 0)
			n++;
	tap_ok(n == KQDAFS_RDMA_MAX_ENDPOINTS / 2,
	    "%d pairs on one descriptor (%d)", KQDAFS_RDMA_MAX_ENDPOINTS / 2,
	    n);
	e = kqt_ep_pair(d, pair);
	tap_ok(e == ENOSPC, "one more pair: %s", kqt_errname(e));
	/* Endpoints count one by one: a half-closed pair still holds one. */
	if (n > 0) {
		uint32_t last[2];

		last[0] = pair[0];
		last[1] = pair[1];
		e = kqt_ep_close(d, last[0]);
		e = e == 0 ? kqt_ep_pair(d, pair) : e;
		tap_ok(e == ENOSPC, "one endpoint closed (%d open): a pair "
		    "still does not fit: %s", KQDAFS_RDMA_MAX_ENDPOINTS - 1,
		    kqt_errname(e));
		e = kqt_ep_close(d, last[1]);
		e = e == 0 ? kqt_ep_pair(d, pair) : e;
		tap_ok(e == 0, "its peer closed too: a pair fits again: %s",
		    kqt_errname(e));
	}
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_MRS) == mrs0 + KQDAFS_RDMA_MAX_MRS &&
	    kqt_counter(KQT_SYSCTL_RDMA_EPS) == eps0 +
	    KQDAFS_RDMA_MAX_ENDPOINTS, "rdma_mrs and rdma_endpoints count "
	    "them");
	close(d);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_MRS, mrs0, 10) &&
	    kqt_wait_counter(KQT_SYSCTL_RDMA_EPS, eps0, 10) &&
	    kqt_wait_counter(KQT_SYSCTL_RDMA_PINNED, pin0, 10),
	    "closing the descriptor releases them all");
	munmap(pages, (size_t)KQDAFS_RDMA_MAX_MRS * 4096);
}

/* EAGAIN: max_pinned_per_proc (REG_MR), max_requests_per_proc (POST). */
static void
limits(void)
{
	struct kqdafs_rdma_request r[8];
	struct kqdafs_rdma_result res[8];
	struct kevent ev[8];
	struct rlimit rl, rl0;
	int64_t pin0;
	uint32_t key, key2, posted;
	int32_t cres;
	int d, e, i;

	if ((e = kqt_sysctl_get(KQT_SYSCTL_MAX_PINNED, &saved_pinned)) != 0 ||
	    (e = kqt_sysctl_get(KQT_SYSCTL_MAX_REQS, &saved_reqs)) != 0)
		tap_bail("read limits: %s", kqt_errname(e));
	/* This process holds RLEN * 5 in its regions on k.dev. */
	if ((d = open(KQDAFS_DEVICE, O_RDWR)) < 0)
		tap_bail("open: %s", strerror(errno));
	e = kqt_sysctl_set(KQT_SYSCTL_MAX_PINNED, 5 * RLEN + 65536);
	tap_ok(e == 0, "set max_pinned_per_proc to what we hold + 64 KiB: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(d, mem, 65536, 0, &key);
	tap_ok(e == 0, "control: 64 KiB more fits: %s", kqt_errname(e));
	e = kqt_reg_mr(d, mem, 4096, 0, &key2);
	tap_ok(e == EAGAIN, "4 KiB more: %s", kqt_errname(e));
	if (e == 0)
		kqt_dereg_mr(d, key2);
	kqt_dereg_mr(d, key);
	e = kqt_reg_mr(d, mem, 65536 + 4096, 0, &key2);
	tap_ok(e == EAGAIN, "one region of 68 KiB: %s", kqt_errname(e));
	if (e == 0)
		kqt_dereg_mr(d, key2);
	e = kqt_reg_mr(d, mem, 65536, 0, &key);
	tap_ok(e == 0, "control: released bytes can be registered again: %s",
	    kqt_errname(e));
	if (e == 0)
		kqt_dereg_mr(d, key);
	/*
	 * A region is charged as mlock(2) is (kqdafs(4), Wired memory):
	 * with RLIMIT_MEMLOCK 0, ENOMEM, and nothing is held.
	 */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		tap_bail("getrlimit: %s", strerror(errno));
	rl0 = rl;
	rl.rlim_cur = 0;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		tap_bail("setrlimit: %s", strerror(errno));
	pin0 = kqt_counter(KQT_SYSCTL_RDMA_PINNED);
	e = kqt_reg_mr(d, mem, 4096, 0, &key);
	tap_ok(e == ENOMEM, "RLIMIT_MEMLOCK 0: ENOMEM: %s", kqt_errname(e));
	if (e == 0)
		kqt_dereg_mr(d, key);
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_PINNED) == pin0,
	    "RLIMIT_MEMLOCK 0: nothing held");
	if (setrlimit(RLIMIT_MEMLOCK, &rl0) != 0)
		tap_bail("setrlimit: %s", strerror(errno));
	close(d);
	kqt_sysctl_set(KQT_SYSCTL_MAX_PINNED, saved_pinned);

	e = kqt_sysctl_set(KQT_SYSCTL_MAX_REQS, 4);
	tap_ok(e == 0, "set max_requests_per_proc to 4: %s", kqt_errname(e));
	for (i = 0; i < 5; i++)
		kqt_wr(&r[i], KQDAFS_RDMA_RECV, ep[1], k.kq, klw,
		    (uint64_t)i * 16, 0, 0, 16, 100 + i);
	memset(res, 0, sizeof(res));
	e = kqt_post(k.dev, r, res, 5, &posted);
	tap_ok(e == 0 && posted == 4 && res[4].rres_id == 0 &&
	    res[4].rres_error == EAGAIN, "5 waiting RECVs: 4 posted, the "
	    "fifth refused with EAGAIN (%s, posted %u, %s)", kqt_errname(e),
	    posted, kqt_errname(res[4].rres_error));
	refused++;
	for (i = 0; i < 4; i++)
		kqt_cancel(k.dev, res[i].rres_id, &cres);
	tap_ok(kqt_collect(k.kq, ev, 4, KQT_EVENT_TIMEOUT_MS) == 4,
	    "the four complete when cancelled");
	kqt_sysctl_set(KQT_SYSCTL_MAX_REQS, saved_reqs);
	kqt_wr(&r[0], KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, 0, kall, 64, 16, 1);
	e = kqt_post1(k.dev, &r[0], NULL);
	tap_ok(e == 0, "limit restored: a request is accepted again: %s",
	    kqt_errname(e));
	kqt_collect(k.kq, ev, 1, KQT_EVENT_TIMEOUT_MS);
	saved_pinned = saved_reqs = -1;
}

int
main(void)
{
	static const uint32_t acc[5] = { KQT_MR_ALL, 0, KQDAFS_MR_LOCAL_WRITE,
	    KQDAFS_MR_REMOTE_WRITE, KQDAFS_MR_REMOTE_READ };
	uint32_t *keys[5] = { &kall, &knone, &klw, &krw, &krr };
	struct kevent ev[4];
	int64_t refused0, mrs0, eps0;
	int e, i, n;

	tap_init("rdma_errno");
	kqt_open_or_bail(&k);
	kqt_require_rdma(&k);
	atexit(restore);
	refused0 = kqt_counter(KQT_SYSCTL_RDMA_REFUSED);
	mrs0 = kqt_counter(KQT_SYSCTL_RDMA_MRS);
	eps0 = kqt_counter(KQT_SYSCTL_RDMA_EPS);
	mem = kqt_pages(5 * RLEN);
	for (i = 0; i < 5; i++)
		if ((e = kqt_reg_mr(k.dev, mem + (size_t)i * RLEN, RLEN, acc[i],
		    keys[i])) != 0)
			tap_bail("REG_MR %d: %s", i, kqt_errname(e));
	if ((e = kqt_ep_pair(k.dev, ep)) != 0 ||
	    (e = kqt_ep_pair(k.dev, dead)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	tap_ok(kqt_ep_close(k.dev, dead[0]) == 0, "close one end of a pair");
	a_ro = mmap(NULL, 8192, PROT_READ, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (a_ro == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	a_unmapped = kqt_pages(8192);
	munmap(a_unmapped, 8192);
	for (i = 0; i <= KQDAFS_RDMA_MAX_BATCH; i++)
		kqt_wr(&a_reqs[i], KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, 0, kall,
		    64, 16, 1);

	for (i = 0; i < (int)nitems(kqc_rdma_cases); i++)
		run_case(&kqc_rdma_cases[i]);
	tap_ok(kqt_ep_close(k.dev, dead[1]) == 0, "close the other end");
	guest_only();
	/* SEND from a region without rights into a LOCAL_WRITE RECV. */
	{
		struct kqdafs_rdma_request rr, rs;
		uint64_t idr, ids;

		kqt_wr(&rr, KQDAFS_RDMA_RECV, ep[0], k.kq, klw, 0, 0, 0, 16, 3);
		kqt_wr(&rs, KQDAFS_RDMA_SEND, ep[1], k.kq, knone, 0, 0, 0, 16,
		    4);
		e = kqt_post1(k.dev, &rr, &idr);
		e = e == 0 ? kqt_post1(k.dev, &rs, &ids) : e;
		n = e == 0 ? kqt_collect(k.kq, ev, 2, KQT_EVENT_TIMEOUT_MS) : 0;
		tap_ok(n == 2 && kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, idr),
		    KQDAFS_RDMA_RECV, idr, 3, 16) &&
		    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids),
		    KQDAFS_RDMA_SEND, ids, 4, 16), "control: SEND from a "
		    "region with no rights into a LOCAL_WRITE RECV");
	}
	dereg_sequence();
	limits();
	tables();

	/* Each refused request once; malformed batches not at all. */
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_REFUSED) - refused0 == refused,
	    "rdma_refused counts the %jd refused requests (moved by %jd)",
	    (intmax_t)refused,
	    (intmax_t)(kqt_counter(KQT_SYSCTL_RDMA_REFUSED) - refused0));
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "no refused request delivered an event");
	kqt_ep_close(k.dev, ep[0]);
	kqt_ep_close(k.dev, ep[1]);
	for (i = 0; i < 5; i++)
		kqt_dereg_mr(k.dev, *keys[i]);
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_MRS) == mrs0 &&
	    kqt_counter(KQT_SYSCTL_RDMA_EPS) == eps0,
	    "regions and endpoints back to %jd and %jd", (intmax_t)mrs0,
	    (intmax_t)eps0);
	tap_ok(kqt_wait_inflight(0, 10), "no request in flight");
	kqt_close(&k);
	return (tap_done());
}
