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
 */

#include <sys/types.h>
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

#include "kqt.h"

#define	RLEN	(64 * 1024)

static struct kqt k;
static uint8_t *mem;
static uint32_t kall, knone, klw, krw, krr;	/* regions by rights */
static uint32_t ep[2];
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

/* r must be accepted and complete with data want. */
static void
expect_ok(struct kqdafs_rdma_request *r, int64_t want, const char *what)
{
	struct kevent ev;
	uint64_t id;
	int e;

	e = kqt_post1(k.dev, r, &id);
	if (e != 0) {
		if (e > 0)
			tap_diag("refused: %s", kqt_errname(e));
		tap_ok(0, "%s", what);
		return;
	}
	tap_ok(kqt_collect(r->rr_kq, &ev, 1, KQT_EVENT_TIMEOUT_MS) == 1 &&
	    kqt_rdma_ev_check(&k, &ev, r->rr_op, id, r->rr_udata, want),
	    "%s: accepted, completes with %jd", what, (intmax_t)want);
}

static void
wr(struct kqdafs_rdma_request *r, uint32_t op, uint32_t lkey,
    uint32_t rkey)
{

	kqt_wr(r, op, ep[0], k.kq, lkey, 0, rkey, 0, 16, 7);
}

static void
post_errors(void)
{
	struct kqdafs_rdma_request r[KQDAFS_RDMA_MAX_BATCH + 1];
	struct kqdafs_rdma_result res[KQDAFS_RDMA_MAX_BATCH + 1];
	struct kqdafs_rdma_post p;
	int64_t posted0;
	uint8_t *ro;
	int i, e;

	posted0 = kqt_counter(KQT_SYSCTL_RDMA_POSTED);
	for (i = 0; i <= KQDAFS_RDMA_MAX_BATCH; i++)
		kqt_wr(&r[i], KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, 0, kall, 64,
		    16, 1);
	e = kqt_post(k.dev, r, res, 0, NULL);
	tap_ok(e == EINVAL, "batch of 0: %s", kqt_errname(e));
	e = kqt_post(k.dev, r, res, KQDAFS_RDMA_MAX_BATCH + 1, NULL);
	tap_ok(e == EINVAL, "batch of %d: %s", KQDAFS_RDMA_MAX_BATCH + 1,
	    kqt_errname(e));
	memset(&p, 0, sizeof(p));
	p.rp_reqs = (uint64_t)(uintptr_t)r;
	p.rp_results = (uint64_t)(uintptr_t)res;
	p.rp_count = 1;
	p.rp_flags = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_POST, &p) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "rp_flags 1: %s", kqt_errname(e));
	p.rp_flags = 0;
	p.rp_pad = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_POST, &p) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "rp_pad 1: %s", kqt_errname(e));
	e = kqt_post(k.dev, NULL, res, 1, NULL);
	tap_ok(e == EFAULT, "request array NULL: %s", kqt_errname(e));
	e = kqt_post(k.dev, r, NULL, 1, NULL);
	tap_ok(e == EFAULT, "result array NULL: %s", kqt_errname(e));
	e = kqt_post(k.dev, (void *)(uintptr_t)0xffff800000000000ULL, res, 1,
	    NULL);
	tap_ok(e == EFAULT, "request array in kernel space: %s",
	    kqt_errname(e));
	ro = mmap(NULL, 4096, PROT_READ, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (ro == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	e = kqt_post(k.dev, r, (void *)ro, 1, NULL);
	tap_ok(e == EFAULT, "result array read-only: %s", kqt_errname(e));
	munmap(ro, 4096);
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_POSTED) == posted0,
	    "malformed batches posted nothing");
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "malformed batches deliver no event");
}

static void
request_bytes(void)
{
	struct kqdafs_rdma_request r;

	/* Positive controls first. */
	wr(&r, KQDAFS_RDMA_WRITE, knone, kall);
	expect_ok(&r, 16, "control: WRITE from a region with no rights");
	wr(&r, KQDAFS_RDMA_READ, klw, krr);
	expect_ok(&r, 16, "control: READ into LOCAL_WRITE from REMOTE_READ");

	/* validate_rdma, in table order. */
	wr(&r, 0, kall, kall);
	expect(&r, EINVAL, "op 0");
	wr(&r, KQDAFS_RDMA_RECV + 1, kall, kall);
	expect(&r, EINVAL, "op 5");
	wr(&r, UINT32_MAX, kall, kall);
	expect(&r, EINVAL, "op 0xffffffff");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_flags = 1;
	expect(&r, EINVAL, "rr_flags 1");
	r.rr_flags = 0;
	r.rr_reserved[0] = 1;
	expect(&r, EINVAL, "rr_reserved[0] nonzero");
	r.rr_reserved[0] = 0;
	r.rr_reserved[1] = 1ULL << 63;
	expect(&r, EINVAL, "rr_reserved[1] nonzero");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_kq = -1;
	expect(&r, EBADF, "kq -1");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_len = KQDAFS_RDMA_MAX_LEN + 1ULL;
	expect(&r, EINVAL, "len 16 MiB + 1");
	r.rr_len = UINT64_MAX;
	expect(&r, EINVAL, "len UINT64_MAX");
	wr(&r, KQDAFS_RDMA_SEND, kall, 0);
	r.rr_local_offset = UINT64_MAX - 8;
	expect(&r, EINVAL, "local_offset + len overflows");
	wr(&r, KQDAFS_RDMA_SEND, kall, kall);
	expect(&r, EINVAL, "SEND with a remote key");
	wr(&r, KQDAFS_RDMA_RECV, kall, 0);
	r.rr_remote_offset = 1;
	expect(&r, EINVAL, "RECV with a remote offset");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_remote_offset = UINT64_MAX - 8;
	expect(&r, EINVAL, "WRITE remote_offset + len overflows");
	wr(&r, KQDAFS_RDMA_READ, kall, kall);
	r.rr_remote_offset = UINT64_MAX;
	expect(&r, EINVAL, "READ remote_offset + len overflows");
	/* The order of faults. */
	wr(&r, 9, kall, kall);
	r.rr_flags = 1;
	r.rr_kq = -1;
	expect(&r, EINVAL, "bad op + flags + kq -1: the op's EINVAL first");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_kq = -1;
	r.rr_len = UINT64_MAX;
	expect(&r, EBADF, "kq -1 + len too long: EBADF first");
	wr(&r, KQDAFS_RDMA_SEND, 999999, kall);
	r.rr_ep = 0;
	expect(&r, EINVAL, "remote args on SEND before any table: EINVAL");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_remote_offset = UINT64_MAX;
	r.rr_ep = 0;
	expect(&r, EINVAL, "overflow before the endpoint check");
}

static void
kernel_checks(void)
{
	struct kqdafs_rdma_request r;
	cap_rights_t rights;
	uint32_t dead[2];
	int kqlim, nullfd, closedfd, e;

	/* The kqueue. */
	if ((closedfd = dup(0)) < 0 || close(closedfd) == -1)
		tap_bail("dup/close: %s", strerror(errno));
	if ((nullfd = open("/dev/null", O_RDWR)) < 0)
		tap_bail("open /dev/null: %s", strerror(errno));
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_kq = closedfd;
	expect(&r, EBADF, "kq not open");
	r.rr_kq = nullfd;
	expect(&r, EBADF, "kq is /dev/null (open, not a kqueue)");
	r.rr_kq = k.dev;
	expect(&r, EBADF, "kq is /dev/kqdafs");
	if ((kqlim = kqueue()) < 0)
		tap_bail("kqueue: %s", strerror(errno));
	cap_rights_init(&rights, CAP_KQUEUE_EVENT);
	if (cap_rights_limit(kqlim, &rights) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
	r.rr_kq = kqlim;
	expect(&r, ENOTCAPABLE, "kq without CAP_KQUEUE_CHANGE");
	close(kqlim);

	/* The endpoint. */
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_ep = 0;
	expect(&r, ENOENT, "endpoint 0");
	r.rr_ep = 0x7fffffff;
	expect(&r, ENOENT, "endpoint never made");
	if ((e = kqt_ep_pair(k.dev, dead)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	tap_ok(kqt_ep_close(k.dev, dead[0]) == 0, "close one end of a pair");
	kqt_wr(&r, KQDAFS_RDMA_SEND, dead[1], k.kq, kall, 0, 0, 0, 1, 1);
	expect(&r, ENOTCONN, "SEND on an endpoint whose peer is closed");
	kqt_wr(&r, KQDAFS_RDMA_RECV, dead[1], k.kq, kall, 0, 0, 0, 1, 1);
	expect(&r, ENOTCONN, "RECV on an endpoint whose peer is closed");
	kqt_wr(&r, KQDAFS_RDMA_WRITE, dead[1], k.kq, kall, 0, kall, 0, 1, 1);
	expect(&r, ENOTCONN, "WRITE on an endpoint whose peer is closed");
	kqt_wr(&r, KQDAFS_RDMA_SEND, dead[0], k.kq, kall, 0, 0, 0, 1, 1);
	expect(&r, ENOENT, "SEND on a closed endpoint");
	kqt_wr(&r, KQDAFS_RDMA_SEND, dead[1], k.kq, 999999, 0, 0, 0, 1, 1);
	expect(&r, ENOTCONN, "peer closed + unknown key: ENOTCONN first");
	tap_ok(kqt_ep_close(k.dev, dead[1]) == 0, "close the other end");
	wr(&r, KQDAFS_RDMA_WRITE, kall, kall);
	r.rr_ep = 0;
	r.rr_kq = nullfd;
	expect(&r, EBADF, "bad kq + bad endpoint: EBADF first");
	close(nullfd);

	/* The regions: keys. */
	wr(&r, KQDAFS_RDMA_SEND, 0, 0);
	expect(&r, ENOENT, "local key 0");
	wr(&r, KQDAFS_RDMA_RECV, 999999, 0);
	expect(&r, ENOENT, "local key never registered");
	wr(&r, KQDAFS_RDMA_WRITE, kall, 999999);
	expect(&r, ENOENT, "remote key never registered");
	wr(&r, KQDAFS_RDMA_READ, kall, 0);
	expect(&r, ENOENT, "remote key 0");
	wr(&r, KQDAFS_RDMA_WRITE, 999999, kall);
	r.rr_ep = 0;
	expect(&r, ENOENT, "bad endpoint + bad key: the endpoint's ENOENT");

	/* Rights. */
	wr(&r, KQDAFS_RDMA_RECV, knone, 0);
	expect(&r, EACCES, "RECV into a region without LOCAL_WRITE");
	wr(&r, KQDAFS_RDMA_RECV, krr, 0);
	expect(&r, EACCES, "RECV into a REMOTE_READ-only region");
	wr(&r, KQDAFS_RDMA_READ, knone, kall);
	expect(&r, EACCES, "READ into a region without LOCAL_WRITE");
	wr(&r, KQDAFS_RDMA_READ, krw, kall);
	expect(&r, EACCES, "READ into a REMOTE_WRITE-only region");
	wr(&r, KQDAFS_RDMA_READ, kall, krw);
	expect(&r, EACCES, "READ from a region without REMOTE_READ");
	wr(&r, KQDAFS_RDMA_WRITE, kall, krr);
	expect(&r, EACCES, "WRITE to a region without REMOTE_WRITE");
	wr(&r, KQDAFS_RDMA_WRITE, kall, klw);
	expect(&r, EACCES, "WRITE to a LOCAL_WRITE-only region");
	wr(&r, KQDAFS_RDMA_WRITE, kall, krw);
	expect_ok(&r, 16, "control: WRITE to a REMOTE_WRITE region");
}

static void
ranges(void)
{
	struct kqdafs_rdma_request r;

	kqt_wr(&r, KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, RLEN - 16, kall, 0,
	    17, 1);
	expect(&r, EFAULT, "local range past the region's end");
	kqt_wr(&r, KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, 0, kall, RLEN - 16,
	    17, 1);
	expect(&r, EFAULT, "remote range past the region's end");
	kqt_wr(&r, KQDAFS_RDMA_READ, ep[0], k.kq, kall, RLEN + 1, kall, 0, 0,
	    1);
	expect(&r, EFAULT, "zero-length local range starting past the end");
	kqt_wr(&r, KQDAFS_RDMA_SEND, ep[0], k.kq, kall, 0, 0, 0, RLEN + 1, 1);
	expect(&r, EFAULT, "SEND longer than its region");
	kqt_wr(&r, KQDAFS_RDMA_RECV, ep[1], k.kq, kall, 1, 0, 0, RLEN, 1);
	expect(&r, EFAULT, "RECV buffer past the region's end");
	kqt_wr(&r, KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, RLEN - 16, kall,
	    RLEN - 16, 16, 1);
	expect_ok(&r, 16, "control: WRITE of the last 16 bytes");
	kqt_wr(&r, KQDAFS_RDMA_READ, ep[0], k.kq, kall, RLEN, kall, RLEN, 0,
	    1);
	expect_ok(&r, 0, "control: zero-length READ at the very end");
	/* Local checks come before remote ones. */
	kqt_wr(&r, KQDAFS_RDMA_READ, ep[0], k.kq, knone, 0, kall, RLEN, 16, 1);
	expect(&r, EACCES, "local right missing + remote range bad: EACCES");
	kqt_wr(&r, KQDAFS_RDMA_WRITE, ep[0], k.kq, kall, RLEN, krr, 0, 16, 1);
	expect(&r, EFAULT, "local range bad + remote right missing: EFAULT");
	kqt_wr(&r, KQDAFS_RDMA_WRITE, ep[0], k.kq, knone, RLEN, 999999, 0, 16,
	    1);
	expect(&r, EFAULT, "local range bad + remote key unknown: EFAULT");
}

static void
reg_errors(void)
{
	struct kqdafs_rdma_reg_mr m;
	uint8_t *ro, *gone;
	uint32_t key;
	int e;

	e = kqt_reg_mr(k.dev, mem, RLEN, 8, &key);
	tap_ok(e == EINVAL, "REG_MR access bit 8: %s", kqt_errname(e));
	e = kqt_reg_mr(k.dev, mem, RLEN, 0xffffffffU, &key);
	tap_ok(e == EINVAL, "REG_MR access 0xffffffff: %s", kqt_errname(e));
	memset(&m, 0, sizeof(m));
	m.krm_addr = (uint64_t)(uintptr_t)mem;
	m.krm_len = RLEN;
	m.krm_key = 5;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_REG_MR, &m) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "REG_MR with krm_key set on input: %s",
	    kqt_errname(e));
	m.krm_key = 0;
	m.krm_reserved = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_REG_MR, &m) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "REG_MR with krm_reserved set: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(k.dev, mem, 0, 0, &key);
	tap_ok(e == EINVAL, "REG_MR of 0 bytes: %s", kqt_errname(e));
	e = kqt_reg_mr(k.dev, mem, KQDAFS_RDMA_MAX_MR_LEN + 1ULL, 0, &key);
	tap_ok(e == EINVAL, "REG_MR of 1 GiB + 1: %s", kqt_errname(e));
	e = kqt_reg_mr(k.dev, NULL, RLEN, 0, &key);
	tap_ok(e == EFAULT, "REG_MR at address 0: %s", kqt_errname(e));
	e = kqt_reg_mr(k.dev, (void *)(uintptr_t)(UINT64_MAX - 4095), 8192, 0,
	    &key);
	tap_ok(e == EFAULT, "REG_MR wrapping around: %s", kqt_errname(e));
	e = kqt_reg_mr(k.dev, (void *)(uintptr_t)0xffff800000000000ULL, 4096,
	    0, &key);
	tap_ok(e == EFAULT, "REG_MR of kernel space: %s", kqt_errname(e));
	gone = kqt_pages(8192);
	munmap(gone, 8192);
	e = kqt_reg_mr(k.dev, gone, 8192, 0, &key);
	tap_ok(e == EFAULT, "REG_MR of unmapped memory: %s", kqt_errname(e));
	ro = mmap(NULL, 8192, PROT_READ, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (ro == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	e = kqt_reg_mr(k.dev, ro, 8192, KQDAFS_MR_LOCAL_WRITE, &key);
	tap_ok(e == EFAULT, "REG_MR LOCAL_WRITE of read-only memory: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(k.dev, ro, 8192, KQDAFS_MR_REMOTE_WRITE, &key);
	tap_ok(e == EFAULT, "REG_MR REMOTE_WRITE of read-only memory: %s",
	    kqt_errname(e));
	e = kqt_reg_mr(k.dev, ro, 8192, KQDAFS_MR_REMOTE_READ, &key);
	tap_ok(e == 0 && key != 0, "control: REG_MR REMOTE_READ of read-only "
	    "memory: %s", kqt_errname(e));
	if (e == 0)
		kqt_dereg_mr(k.dev, key);
	munmap(ro, 8192);
	e = kqt_reg_mr(k.dev, mem + 1, 100, 0, &key);
	tap_ok(e == 0 && key != 0, "control: REG_MR of an unaligned range: "
	    "%s", kqt_errname(e));
	if (e == 0)
		tap_ok(kqt_dereg_mr(k.dev, key) == 0, "control: DEREG_MR");
}

static void
dereg_and_ep_errors(void)
{
	struct kqdafs_rdma_dereg_mr d;
	struct kqdafs_rdma_ep_pair p;
	struct kqdafs_rdma_ep_close c;
	struct kqdafs_rdma_request r;
	struct kevent ev;
	uint32_t key, pair[2];
	uint64_t id;
	int32_t res;
	int e;

	e = kqt_dereg_mr(k.dev, 0);
	tap_ok(e == ENOENT, "DEREG_MR of key 0: %s", kqt_errname(e));
	e = kqt_dereg_mr(k.dev, 999999);
	tap_ok(e == ENOENT, "DEREG_MR of an unknown key: %s", kqt_errname(e));
	if ((e = kqt_reg_mr(k.dev, mem, 4096, KQDAFS_MR_LOCAL_WRITE, &key)) !=
	    0)
		tap_bail("REG_MR: %s", kqt_errname(e));
	memset(&d, 0, sizeof(d));
	d.kdm_key = key;
	d.kdm_pad = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_DEREG_MR, &d) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "DEREG_MR with kdm_pad set: %s", kqt_errname(e));
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

	memset(&p, 0, sizeof(p));
	p.kep_flags = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_EP_PAIR, &p) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "EP_PAIR with kep_flags 1: %s", kqt_errname(e));
	memset(&p, 0, sizeof(p));
	p.kep_ep[1] = 3;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_EP_PAIR, &p) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "EP_PAIR with an out field set: %s",
	    kqt_errname(e));
	memset(&p, 0, sizeof(p));
	p.kep_pad = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_EP_PAIR, &p) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "EP_PAIR with kep_pad set: %s", kqt_errname(e));
	e = kqt_ep_close(k.dev, 0);
	tap_ok(e == ENOENT, "EP_CLOSE of endpoint 0: %s", kqt_errname(e));
	e = kqt_ep_close(k.dev, 0x7fffffff);
	tap_ok(e == ENOENT, "EP_CLOSE of an unknown endpoint: %s",
	    kqt_errname(e));
	if ((e = kqt_ep_pair(k.dev, pair)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	memset(&c, 0, sizeof(c));
	c.kec_ep = pair[0];
	c.kec_pad = 1;
	e = ioctl(k.dev, KQDAFS_IOC_RDMA_EP_CLOSE, &c) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "EP_CLOSE with kec_pad set: %s", kqt_errname(e));
	tap_ok(kqt_ep_close(k.dev, pair[0]) == 0 &&
	    kqt_ep_close(k.dev, pair[1]) == 0, "control: EP_CLOSE of both");
	e = kqt_ep_close(k.dev, pair[0]);
	tap_ok(e == ENOENT, "EP_CLOSE twice: %s", kqt_errname(e));
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
	if ((e = kqt_ep_pair(k.dev, ep)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));

	post_errors();
	request_bytes();
	kernel_checks();
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
	ranges();
	reg_errors();
	dereg_and_ep_errors();
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
