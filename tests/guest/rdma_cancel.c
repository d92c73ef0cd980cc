/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rdma_cancel: the ends of EVFILT_RDMA work requests that do not simply
 * complete.
 *
 * KQDAFS_IOC_CANCEL (the command KAIO uses) on a waiting RECV and a
 * waiting SEND: result 0 and an event with data -ECANCELED; the cancelled
 * RECV takes no data and the RECVs behind it keep their FIFO order; cancel
 * again, of a completed request, of id 0, of another descriptor's request:
 * ENOENT; kc_pad set: EINVAL; kaio_cancelled counts the RDMA cancels.
 * A WRITE cancelled while queued behind busy workers: DEREG_MR of the
 * region only it names succeeds as soon as its -ECANCELED is read.
 * Closing an endpoint: every request waiting on it and on its peer
 * completes with -ECONNRESET, READs already posted complete normally, then
 * ENOTCONN (peer) and ENOENT (itself).  A kqueue closed with requests
 * waiting: its knotes go, no event reaches any other kqueue and everything
 * is released once the endpoints close.  A descriptor closed with regions, endpoints and requests of
 * every kind outstanding: rdma_mrs, rdma_endpoints, rdma_pinned_bytes and
 * the in-flight count go back to where they were.  TAP.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	RLEN	(256 * 1024)

static struct kqt k;
static uint8_t *src, *inbox;
static uint32_t ksrc, kinbox;
static int64_t ncancelled;	/* cancels that answered 0 */

static uint64_t
post(uint32_t op, uint32_t ep, int kq, uint32_t lkey, uint64_t loff,
    uint64_t len, uint64_t udata)
{
	struct kqdafs_rdma_request r;
	uint64_t id;
	int e;

	kqt_wr(&r, op, ep, kq, lkey, loff, 0, 0, len, udata);
	if ((e = kqt_post1(k.dev, &r, &id)) != 0) {
		if (e > 0)
			tap_diag("op %u on ep %u refused: %s", op, ep,
			    kqt_errname(e));
		return (0);
	}
	return (id);
}

static int32_t
cancel(uint64_t id)
{
	int32_t res;
	int e;

	if ((e = kqt_cancel(k.dev, id, &res)) != 0) {
		tap_diag("KQDAFS_IOC_CANCEL: %s", kqt_errname(e));
		return (-1);
	}
	if (res == 0)
		ncancelled++;
	return (res);
}

/*
 * Cancel of a request whose event was read: ENOENT once the completing
 * thread has let go of it (EALREADY for a moment before; see kqt.h).
 */
static int32_t
cancel_done(uint64_t id)
{
	int32_t res;
	int e;

	if ((e = kqt_cancel_settled(k.dev, id, &res)) != 0) {
		tap_diag("KQDAFS_IOC_CANCEL: %s", kqt_errname(e));
		return (-1);
	}
	return (res);
}

static void
cancels(void)
{
	struct kqdafs_kaio_cancel c;
	struct kevent ev[8];
	uint32_t ep[2];
	uint64_t r1, r2, r3, s1, s2, w;
	int64_t cancelled0;
	int e, n, d2;

	cancelled0 = kqt_counter(KQT_SYSCTL_KAIO_CANCELLED);
	ncancelled = 0;
	if ((e = kqt_ep_pair(k.dev, ep)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	kqt_fill(src, 0, RLEN);
	memset(inbox, 0xee, RLEN);

	/* A waiting RECV. */
	r1 = post(KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 0, 4096, 11);
	tap_ok(r1 != 0 && kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "a RECV with no SEND waits");
	tap_ok(cancel(r1) == 0, "cancel of the waiting RECV answers 0");
	n = kqt_collect(k.kq, ev, 1, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 1 && kqt_rdma_ev_check(&k, &ev[0], KQDAFS_RDMA_RECV, r1,
	    11, -ECANCELED), "its event: data -ECANCELED, RECV fflags, udata");
	tap_ok(cancel_done(r1) == ENOENT, "cancel again: ENOENT");
	/* The cancelled RECV takes nothing: a SEND now waits. */
	s1 = post(KQDAFS_RDMA_SEND, ep[0], k.kq, ksrc, 0, 100, 12);
	tap_ok(s1 != 0 && kqt_quiet(k.kq, KQT_QUIET_MS) == 0 &&
	    inbox[0] == 0xee, "a SEND after the cancel finds no RECV: waits");
	/* A waiting SEND. */
	tap_ok(cancel(s1) == 0, "cancel of the waiting SEND answers 0");
	n = kqt_collect(k.kq, ev, 1, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 1 && kqt_rdma_ev_check(&k, &ev[0], KQDAFS_RDMA_SEND, s1,
	    12, -ECANCELED), "its event: data -ECANCELED");
	r1 = post(KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 0, 4096, 13);
	tap_ok(r1 != 0 && kqt_quiet(k.kq, KQT_QUIET_MS) == 0 &&
	    inbox[0] == 0xee, "the cancelled SEND is not delivered to a RECV "
	    "posted later");

	/* FIFO across a cancel: r1 (waiting), r2, r3; cancel r2. */
	r2 = post(KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 4096, 4096, 14);
	r3 = post(KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 8192, 4096, 15);
	tap_ok(r2 != 0 && r3 != 0 && cancel(r2) == 0, "cancel the middle one "
	    "of three waiting RECVs");
	n = kqt_collect(k.kq, ev, 1, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 1 && kqt_rdma_ev_check(&k, &ev[0], KQDAFS_RDMA_RECV, r2,
	    14, -ECANCELED), "it completes with -ECANCELED");
	s1 = post(KQDAFS_RDMA_SEND, ep[0], k.kq, ksrc, 1000, 10, 16);
	s2 = post(KQDAFS_RDMA_SEND, ep[0], k.kq, ksrc, 2000, 20, 17);
	n = kqt_collect(k.kq, ev, 4, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 4 &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, r1), KQDAFS_RDMA_RECV, r1,
	    13, 10) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, r3), KQDAFS_RDMA_RECV, r3,
	    15, 20) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, s1), KQDAFS_RDMA_SEND, s1,
	    16, 10) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, s2), KQDAFS_RDMA_SEND, s2,
	    17, 20), "two SENDs fill the first and the third RECV, in order");
	tap_ok(kqt_check(inbox, 1000, 10) < 0 &&
	    kqt_check(inbox + 8192, 2000, 20) < 0 && inbox[4096] == 0xee,
	    "bytes exact; the cancelled RECV's buffer untouched");

	/* Completed, unknown, id 0, other descriptor, pad. */
	tap_ok(cancel_done(s2) == ENOENT,
	    "cancel of a completed SEND: ENOENT");
	tap_ok(cancel(0) == ENOENT, "cancel of id 0: ENOENT");
	tap_ok(cancel(UINT64_MAX) == ENOENT, "cancel of an unknown id: ENOENT");
	{
		struct kqdafs_rdma_request r;

		kqt_wr(&r, KQDAFS_RDMA_READ, ep[0], k.kq, kinbox, 0, ksrc, 0, 64,
		    18);
		e = kqt_post1(k.dev, &r, &w);
		n = e == 0 ? kqt_collect(k.kq, ev, 1, KQT_EVENT_TIMEOUT_MS) : 0;
		tap_ok(n == 1 && cancel_done(w) == ENOENT, "cancel of a READ "
		    "whose event was read: ENOENT");
	}
	r1 = post(KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 0, 64, 19);
	if ((d2 = open(KQDAFS_DEVICE, O_RDWR)) < 0)
		tap_bail("open: %s", strerror(errno));
	{
		int32_t res = -1;

		e = kqt_cancel(d2, r1, &res);
		tap_ok(e == 0 && res == ENOENT, "cancel through another "
		    "descriptor: ENOENT (%s, result %d)", kqt_errname(e), res);
	}
	close(d2);
	memset(&c, 0, sizeof(c));
	c.kc_id = r1;
	c.kc_pad = 1;
	e = ioctl(k.dev, KQDAFS_IOC_CANCEL, &c) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "cancel with kc_pad set: %s", kqt_errname(e));
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "the RECV still waits");
	tap_ok(cancel(r1) == 0, "control: cancel it through its descriptor");
	n = kqt_collect(k.kq, ev, 1, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 1 && kqt_rdma_ev_check(&k, &ev[0], KQDAFS_RDMA_RECV, r1,
	    19, -ECANCELED), "-ECANCELED");
	/* RDMA cancels are counted with KAIO's (docs/rdma.md). */
	tap_ok(kqt_counter(KQT_SYSCTL_KAIO_CANCELLED) - cancelled0 ==
	    ncancelled, "kaio_cancelled moved by the %jd cancels that "
	    "answered 0 (%jd)", (intmax_t)ncancelled,
	    (intmax_t)(kqt_counter(KQT_SYSCTL_KAIO_CANCELLED) - cancelled0));
	kqt_ep_close(k.dev, ep[0]);
	kqt_ep_close(k.dev, ep[1]);
}

/*
 * A WRITE cancelled while it waits on the worker queue lets go of its
 * regions before its -ECANCELED event can be read: DEREG_MR of a region
 * only it named succeeds right after the event (the job may still be on
 * the queue).  The workers are kept busy by a batch of large WRITEs
 * posted in the same call, ahead of it.
 */
#define	NBUSY	64

static void
queued_write(void)
{
	struct kqdafs_rdma_request reqs[NBUSY + 1];
	struct kqdafs_rdma_result res[NBUSY + 1];
	struct kevent ev[NBUSY + 1];
	uint8_t *busy, *own;
	uint32_t ep[2], kbusy, kown, posted;
	uint64_t id;
	int32_t r;
	int e, i, n, got, seen;

	busy = kqt_pages(RLEN);
	own = kqt_pages(8192);
	if ((e = kqt_reg_mr(k.dev, busy, RLEN, KQT_MR_ALL, &kbusy)) != 0 ||
	    (e = kqt_reg_mr(k.dev, own, 8192, KQT_MR_ALL, &kown)) != 0)
		tap_bail("REG_MR: %s", kqt_errname(e));
	if ((e = kqt_ep_pair(k.dev, ep)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	for (i = 0; i < NBUSY; i++)
		kqt_wr(&reqs[i], KQDAFS_RDMA_WRITE, ep[0], k.kq, kbusy, 0,
		    kbusy, RLEN / 2, RLEN / 2, 100 + i);
	kqt_wr(&reqs[NBUSY], KQDAFS_RDMA_WRITE, ep[0], k.kq, kown, 0, kown,
	    4096, 4096, 99);
	e = kqt_post(k.dev, reqs, res, NBUSY + 1, &posted);
	if (!tap_ok(e == 0 && posted == NBUSY + 1, "%d WRITEs posted in one "
	    "call: %s, %u", NBUSY + 1, kqt_errname(e), posted))
		return;
	id = res[NBUSY].rres_id;
	r = cancel(id);
	got = seen = 0;
	if (r == 0) {
		/* Read events until the cancelled one; then DEREG at once. */
		while (!seen && (n = kqt_collect(k.kq, ev, 1,
		    KQT_EVENT_TIMEOUT_MS)) == 1) {
			got++;
			if (ev[0].ident == id)
				seen = kqt_rdma_ev_check(&k, &ev[0],
				    KQDAFS_RDMA_WRITE, id, 99, -ECANCELED);
		}
		e = kqt_dereg_mr(k.dev, kown);
		tap_ok(seen && e == 0, "the cancelled queued WRITE's event "
		    "read: DEREG_MR of its region succeeds at once: %s",
		    kqt_errname(e));
	} else if (r == EALREADY) {
		/*
		 * The one documented "too late" answer (kqdafs(4)): a worker
		 * took the WRITE first.  Anything else -- the ioctl failing
		 * (-1), ENOENT for a request whose event is unread -- is a
		 * failure.
		 */
		tap_skip("the WRITE ran before the cancel (EALREADY)",
		    "DEREG_MR right after a queued WRITE's -ECANCELED");
	} else
		tap_ok(0, "cancel of the queued WRITE answers 0 or EALREADY: "
		    "%s", r == -1 ? "the ioctl failed" : kqt_errname(r));
	/* Drain the rest. */
	n = kqt_collect(k.kq, ev, NBUSY + 1 - got, KQT_EVENT_TIMEOUT_MS);
	tap_ok(got + n == NBUSY + 1, "every WRITE delivers one event "
	    "(%d)", got + n);
	tap_ok(kqt_ep_close(k.dev, ep[0]) == 0 &&
	    kqt_ep_close(k.dev, ep[1]) == 0 &&
	    kqt_dereg_mr(k.dev, kbusy) == 0 &&
	    (r == 0 || kqt_dereg_mr(k.dev, kown) == 0),
	    "endpoints close, regions deregister");
	munmap(busy, RLEN);
	munmap(own, 8192);
}

static void
ep_close(void)
{
	struct kevent ev[16];
	uint64_t ids[8];
	uint32_t ep[2], x[2];
	int e, i, n, good;

	if ((e = kqt_ep_pair(k.dev, ep)) != 0 ||
	    (e = kqt_ep_pair(k.dev, x)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	/* On ep[1]: three RECVs and two SENDs, all waiting. */
	for (i = 0; i < 3; i++)
		ids[i] = post(KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox,
		    (uint64_t)i * 4096, 4096, 100 + i);
	for (i = 3; i < 5; i++)
		ids[i] = post(KQDAFS_RDMA_SEND, ep[1], k.kq, ksrc, 0, 4096,
		    100 + i);
	tap_ok(ids[0] && ids[1] && ids[2] && ids[3] && ids[4] &&
	    kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "five requests wait on one "
	    "endpoint (3 RECV, 2 SEND to a peer with no RECV)");
	/* READs of the whole region on both ends, posted just before. */
	for (i = 5; i < 7; i++) {
		struct kqdafs_rdma_request r;

		kqt_wr(&r, KQDAFS_RDMA_READ, ep[i - 5], k.kq, kinbox, 0, ksrc,
		    0, RLEN, 100 + i);
		if (kqt_post1(k.dev, &r, &ids[i]) != 0)
			ids[i] = 0;
	}
	e = kqt_ep_close(k.dev, ep[0]);
	tap_ok(e == 0, "close its peer: %s", kqt_errname(e));
	n = kqt_collect(k.kq, ev, 7, KQT_EVENT_TIMEOUT_MS);
	for (i = 0, good = n == 7; good && i < 5; i++)
		good = kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[i]),
		    i < 3 ? KQDAFS_RDMA_RECV : KQDAFS_RDMA_SEND, ids[i],
		    100 + i, -ECONNRESET);
	tap_ok(good, "all five complete with -ECONNRESET (%d events)", n);
	tap_ok(n == 7 && ids[5] != 0 && ids[6] != 0 &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[5]), KQDAFS_RDMA_READ,
	    ids[5], 105, RLEN) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[6]), KQDAFS_RDMA_READ,
	    ids[6], 106, RLEN), "READs posted on either end before the close "
	    "complete normally");
	{
		struct kqdafs_rdma_request r;

		kqt_wr(&r, KQDAFS_RDMA_RECV, ep[1], k.kq, kinbox, 0, 0, 0, 1, 1);
		e = kqt_post1(k.dev, &r, NULL);
		tap_ok(e == ENOTCONN, "then a RECV on the endpoint: %s",
		    kqt_errname(e));
	}
	tap_ok(kqt_ep_close(k.dev, ep[1]) == 0, "the endpoint itself closes");

	/* Closing the endpoint itself resets its own waiting requests. */
	ids[0] = post(KQDAFS_RDMA_RECV, x[0], k.kq, kinbox, 0, 64, 200);
	ids[1] = post(KQDAFS_RDMA_SEND, x[0], k.kq, ksrc, 0, 64, 201);
	/* ids[1] met ids[0]? No: SEND on x[0] goes to x[1]'s RECVs. */
	ids[2] = post(KQDAFS_RDMA_RECV, x[1], k.kq, kinbox, 4096, 32, 202);
	n = kqt_collect(k.kq, ev, 2, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 2 && kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[1]),
	    KQDAFS_RDMA_SEND, ids[1], 201, -EMSGSIZE) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[2]), KQDAFS_RDMA_RECV,
	    ids[2], 202, -EMSGSIZE), "a SEND of 64 into a RECV of 32: both "
	    "-EMSGSIZE");
	ids[1] = post(KQDAFS_RDMA_RECV, x[0], k.kq, kinbox, 64, 64, 203);
	tap_ok(kqt_ep_close(k.dev, x[0]) == 0, "close an endpoint with two "
	    "RECVs waiting on it");
	n = kqt_collect(k.kq, ev, 2, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == 2 && kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[0]),
	    KQDAFS_RDMA_RECV, ids[0], 200, -ECONNRESET) &&
	    kqt_rdma_ev_check(&k, kqt_find_ev(ev, n, ids[1]), KQDAFS_RDMA_RECV,
	    ids[1], 203, -ECONNRESET), "both complete with -ECONNRESET");
	{
		struct kqdafs_rdma_request r;

		kqt_wr(&r, KQDAFS_RDMA_RECV, x[0], k.kq, kinbox, 0, 0, 0, 1, 1);
		e = kqt_post1(k.dev, &r, NULL);
		tap_ok(e == ENOENT, "RECV on the closed endpoint: %s",
		    kqt_errname(e));
		kqt_wr(&r, KQDAFS_RDMA_RECV, x[1], k.kq, kinbox, 0, 0, 0, 1, 1);
		e = kqt_post1(k.dev, &r, NULL);
		tap_ok(e == ENOTCONN, "RECV on its peer: %s", kqt_errname(e));
	}
	kqt_ep_close(k.dev, x[1]);
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra event");
}

static void
kqueue_closed(void)
{
	struct kevent ev[16];
	uint64_t ids[4], s[4];
	uint32_t ep[2];
	int64_t knotes0;
	int e, i, kq2, n, got;

	if ((e = kqt_ep_pair(k.dev, ep)) != 0)
		tap_bail("EP_PAIR: %s", kqt_errname(e));
	if ((kq2 = kqueue()) < 0)
		tap_bail("kqueue: %s", strerror(errno));
	for (i = 0; i < 4; i++)
		ids[i] = post(KQDAFS_RDMA_RECV, ep[1], kq2, kinbox,
		    (uint64_t)i * 4096, 4096, 300 + i);
	tap_ok(ids[0] && ids[1] && ids[2] && ids[3],
	    "four RECVs wait, their events bound to a second kqueue");
	knotes0 = kqt_counter(KQT_SYSCTL_KNOTES);
	close(kq2);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_KNOTES, knotes0 - 4, 10),
	    "closing that kqueue drops its four knotes (%jd -> %jd)",
	    (intmax_t)knotes0, (intmax_t)kqt_counter(KQT_SYSCTL_KNOTES));
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "closing that kqueue sends nothing to ours");
	/*
	 * Whether the module lets the orphaned RECVs go at once or keeps
	 * them until matched, the SENDs below either wait or complete, and
	 * their own events (on our kqueue) must be well-formed.
	 */
	for (i = 0; i < 4; i++)
		s[i] = post(KQDAFS_RDMA_SEND, ep[0], k.kq, ksrc, 0, 100, 310 + i);
	n = kqt_collect(k.kq, ev, 4, 2000);
	for (i = 0, got = 0; i < n; i++)
		if ((ev[i].ident == s[0] || ev[i].ident == s[1] ||
		    ev[i].ident == s[2] || ev[i].ident == s[3]) &&
		    ev[i].data == 100 && ev[i].fflags ==
		    (u_int)KQDAFS_RDMA_FFLAGS(KQDAFS_RDMA_SEND))
			got++;
	tap_ok(got == n, "SENDs after the close: %d matched orphaned RECVs "
	    "(%s), every event ours", n, n == 0 ? "they were let go" :
	    "they were kept");
	tap_ok(kqt_ep_close(k.dev, ep[0]) == 0 && kqt_ep_close(k.dev, ep[1]) ==
	    0, "close both endpoints");
	n += kqt_collect(k.kq, ev, 4 - n, 2000);
	tap_ok(n == 4, "every SEND completed (matched or -ECONNRESET): %d", n);
	for (i = 0; i < 4; i++)
		tap_ok(cancel_done(ids[i]) == ENOENT, "orphaned RECV %d is gone",
		    i);
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no event of the closed "
	    "kqueue's requests reaches ours");
	tap_ok(kqt_wait_inflight(0, 10), "in-flight count back to 0 (%jd)",
	    (intmax_t)kqt_inflight());
}

/* A second descriptor closed with everything outstanding. */
static void
descriptor_closed(void)
{
	struct kqdafs_rdma_request r[8];
	struct kqdafs_rdma_result res[8];
	struct kevent ev[16];
	int64_t mrs0, eps0, pin0, knotes0;
	uint32_t a, b, c, ep[2], ep2[2], posted;
	uint8_t *mem;
	int d, e, i, kq3, n, bad;

	mrs0 = kqt_counter(KQT_SYSCTL_RDMA_MRS);
	eps0 = kqt_counter(KQT_SYSCTL_RDMA_EPS);
	pin0 = kqt_counter(KQT_SYSCTL_RDMA_PINNED);
	knotes0 = kqt_counter(KQT_SYSCTL_KNOTES);
	if ((d = open(KQDAFS_DEVICE, O_RDWR)) < 0 || (kq3 = kqueue()) < 0)
		tap_bail("open/kqueue: %s", strerror(errno));
	mem = kqt_pages(4 * RLEN);
	if ((e = kqt_reg_mr(d, mem, RLEN, KQT_MR_ALL, &a)) != 0 ||
	    (e = kqt_reg_mr(d, mem + RLEN, RLEN, KQT_MR_ALL, &b)) != 0 ||
	    (e = kqt_reg_mr(d, mem + 2 * RLEN, 2 * RLEN, 0, &c)) != 0 ||
	    (e = kqt_ep_pair(d, ep)) != 0 || (e = kqt_ep_pair(d, ep2)) != 0)
		tap_bail("set-up on the second descriptor: %s", kqt_errname(e));
	/* Waiting RECVs, a waiting SEND, and big WRITEs/READs in flight. */
	kqt_wr(&r[0], KQDAFS_RDMA_RECV, ep[0], kq3, a, 0, 0, 0, 4096, 1);
	kqt_wr(&r[1], KQDAFS_RDMA_RECV, ep[0], kq3, a, 4096, 0, 0, 4096, 2);
	kqt_wr(&r[2], KQDAFS_RDMA_SEND, ep2[0], kq3, c, 0, 0, 0, 4096, 3);
	kqt_wr(&r[3], KQDAFS_RDMA_WRITE, ep[1], kq3, c, 0, b, 0, RLEN, 4);
	kqt_wr(&r[4], KQDAFS_RDMA_READ, ep2[1], kq3, a, 0, b, 0, RLEN, 5);
	kqt_wr(&r[5], KQDAFS_RDMA_WRITE, ep[1], kq3, c, RLEN, a, 0, RLEN, 6);
	kqt_wr(&r[6], KQDAFS_RDMA_RECV, ep[1], kq3, b, 0, 0, 0, 64, 7);
	e = kqt_post(d, r, res, 7, &posted);
	tap_ok(e == 0 && posted == 7, "second descriptor: 3 regions, 2 pairs, "
	    "7 requests outstanding (%s, posted %u)", kqt_errname(e), posted);
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_MRS) == mrs0 + 3 &&
	    kqt_counter(KQT_SYSCTL_RDMA_EPS) == eps0 + 4 &&
	    kqt_counter(KQT_SYSCTL_RDMA_PINNED) == pin0 + 4 * RLEN,
	    "counters show them");
	close(d);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_MRS, mrs0, 10),
	    "closing the descriptor: rdma_mrs back to %jd", (intmax_t)mrs0);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_EPS, eps0, 10),
	    "rdma_endpoints back to %jd", (intmax_t)eps0);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_PINNED, pin0, 10),
	    "rdma_pinned_bytes back to %jd", (intmax_t)pin0);
	tap_ok(kqt_wait_inflight(0, 10), "in-flight count back to 0 (%jd)",
	    (intmax_t)kqt_inflight());
	/*
	 * Events of the closed descriptor's requests: the module may discard
	 * them (as KAIO does on close) or deliver those that finished or were
	 * reset; any that arrive must be well-formed and end in a transfer,
	 * -ECONNRESET or -ECANCELED.
	 */
	n = kqt_collect(kq3, ev, 16, KQT_QUIET_MS);
	for (i = 0, bad = 0; i < n; i++)
		if (ev[i].filter != k.info.kqi_filter_rdma ||
		    (ev[i].fflags & KQDAFS_EV_RDMA) == 0 ||
		    kqt_find_ev(ev, i, ev[i].ident) != NULL ||
		    (ev[i].data < 0 && ev[i].data != -ECONNRESET &&
		    ev[i].data != -ECANCELED)) {
			tap_diag("odd event: ident %ju fflags %#x data %jd",
			    (uintmax_t)ev[i].ident, ev[i].fflags,
			    (intmax_t)ev[i].data);
			bad++;
		}
	tap_ok(n <= 7 && bad == 0, "%d events after the close, each "
	    "well-formed and once", n);
	close(kq3);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_KNOTES, knotes0, 10),
	    "kqdafs knotes back to %jd", (intmax_t)knotes0);
	/* The memory is ours again: writing it is fine, nothing changes it. */
	memset(mem, 0x77, 4 * RLEN);
	usleep(200000);
	for (i = 0, bad = 0; i < 4 * RLEN; i++)
		if (mem[i] != 0x77)
			bad++;
	tap_ok(bad == 0, "no late transfer writes the released memory");
	munmap(mem, 4 * RLEN);
}

int
main(void)
{
	int e;

	tap_init("rdma_cancel");
	kqt_open_or_bail(&k);
	kqt_require_rdma(&k);
	src = kqt_pages(RLEN);
	inbox = kqt_pages(RLEN);
	if ((e = kqt_reg_mr(k.dev, src, RLEN, KQDAFS_MR_REMOTE_READ, &ksrc)) !=
	    0 || (e = kqt_reg_mr(k.dev, inbox, RLEN, KQDAFS_MR_LOCAL_WRITE,
	    &kinbox)) != 0)
		tap_bail("REG_MR: %s", kqt_errname(e));
	cancels();
	queued_write();
	ep_close();
	kqueue_closed();
	descriptor_closed();
	e = kqt_dereg_mr(k.dev, ksrc);
	tap_ok(e == 0 && kqt_dereg_mr(k.dev, kinbox) == 0,
	    "our regions deregister: nothing names them any more");
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no stray event");
	kqt_close(&k);
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_MRS, 0, 10) &&
	    kqt_wait_counter(KQT_SYSCTL_RDMA_EPS, 0, 10) &&
	    kqt_wait_counter(KQT_SYSCTL_RDMA_PINNED, 0, 10) &&
	    kqt_wait_inflight(0, 10), "everything released: rdma_mrs, "
	    "rdma_endpoints, rdma_pinned_bytes, in flight all 0");
	return (tap_done());
}
