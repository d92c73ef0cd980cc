/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rdma_stress [-k] [-p procs] [-t seconds]: many processes posting
 * EVFILT_RDMA work requests concurrently.
 *
 * Each child registers regions and endpoint pairs on its own descriptor
 * and keeps up to MAXOUT WRITEs, READs, SENDs and RECVs in flight (some
 * RECVs shorter than the SENDs that will meet them), reaps and checks
 * every event (right request, right op, a possible outcome, exactly
 * once), cancels some requests, closes endpoint pairs with requests
 * waiting (they must end with -ECONNRESET) and kqueues with requests
 * waiting (their events must never show up), and makes new ones.  The
 * parent kills children with SIGKILL at random moments (-k) and respawns
 * them, ends the rest with SIGTERM (they close their endpoints, drain,
 * check and deregister everything) or SIGKILL, and finally checks that
 * rdma_mrs, rdma_endpoints, rdma_pinned_bytes, the in-flight count and
 * the module's knotes all return to 0.  TAP.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	MAXOUT		512
#define	MAXPROCS	64
#define	RLEN		(256 * 1024)
#define	NPAIRS		2
#define	MAXMSG		8192

struct slot {
	uint64_t	id;
	uint64_t	udata;
	uint32_t	op;
	uint64_t	len;
	int		cancelled;	/* cancel answered 0 */
	int		reset;		/* its endpoint pair was closed */
	int		pair;
};

static void
check_event(struct kqt *k, struct slot *slots, const struct kevent *ev,
    int *nout)
{
	struct slot *s;
	uint32_t i;
	int64_t d;

	i = (uint32_t)((uint64_t)(uintptr_t)ev->udata & 0xffffffff);
	if (i >= MAXOUT || slots[i].id == 0 ||
	    slots[i].udata != (uint64_t)(uintptr_t)ev->udata) {
		CFAIL("event for no outstanding request: ident %ju udata %p "
		    "data %jd", (uintmax_t)ev->ident, ev->udata,
		    (intmax_t)ev->data);
		return;
	}
	s = &slots[i];
	d = ev->data;
	if (ev->filter != k->info.kqi_filter_rdma ||
	    (uint64_t)ev->ident != s->id ||
	    ev->fflags != (u_int)KQDAFS_RDMA_FFLAGS(s->op) ||
	    (ev->flags & EV_ERROR) != 0)
		CFAIL("event mismatch: filter %d ident %ju fflags %#x flags %#x "
		    "for id %ju op %u", ev->filter, (uintmax_t)ev->ident,
		    ev->fflags, ev->flags, (uintmax_t)s->id, s->op);
	else if (s->cancelled && d != -ECANCELED)
		CFAIL("cancelled request %ju (op %u) has data %jd",
		    (uintmax_t)s->id, s->op, (intmax_t)d);
	else if (!s->cancelled && d == -ECANCELED)
		CFAIL("request %ju cancelled though cancel did not say 0",
		    (uintmax_t)s->id);
	else if (d == -ECANCELED)
		;
	else if (d == -ECONNRESET) {
		/*
		 * Only a SEND or RECV waiting for a match is reset; a WRITE or
		 * READ already posted completes normally (kqdafs(4),
		 * KQDAFS_IOC_RDMA_EP_CLOSE).
		 */
		if (s->op == KQDAFS_RDMA_WRITE || s->op == KQDAFS_RDMA_READ)
			CFAIL("%s %ju reset by an endpoint close",
			    s->op == KQDAFS_RDMA_WRITE ? "WRITE" : "READ",
			    (uintmax_t)s->id);
		else if (!s->reset)
			CFAIL("request %ju (op %u) reset though its pair is "
			    "open", (uintmax_t)s->id, s->op);
	} else if (s->op == KQDAFS_RDMA_WRITE || s->op == KQDAFS_RDMA_READ) {
		if (d != (int64_t)s->len)
			CFAIL("%s of %ju: data %jd", s->op == KQDAFS_RDMA_WRITE ?
			    "WRITE" : "READ", (uintmax_t)s->len, (intmax_t)d);
	} else if (d == -ENOMEM)
		/* kqdafs(4): the kernel could not queue a SEND or RECV. */
		CDIAG("%s %ju: -ENOMEM", s->op == KQDAFS_RDMA_SEND ? "SEND" :
		    "RECV", (uintmax_t)s->id);
	else if (d != -EMSGSIZE && (d < 0 || d > (int64_t)s->len ||
	    (s->op == KQDAFS_RDMA_SEND && d != (int64_t)s->len)))
		CFAIL("%s of %ju: data %jd", s->op == KQDAFS_RDMA_SEND ?
		    "SEND" : "RECV", (uintmax_t)s->len, (intmax_t)d);
	memset(s, 0, sizeof(*s));
	(*nout)--;
}

static void
new_pair(struct kqt *k, uint32_t *ep)
{
	int e;

	if ((e = kqt_ep_pair(k->dev, ep)) != 0) {
		CDIAG("EP_PAIR: %s", kqt_errname(e));
		_exit(1);
	}
}

/* Close pair p: its waiting requests end with -ECONNRESET. */
static void
close_pair(struct kqt *k, struct slot *slots, uint32_t *ep, int p)
{
	int e, i;

	for (i = 0; i < MAXOUT; i++)
		if (slots[i].id != 0 && slots[i].pair == p)
			slots[i].reset = 1;
	if ((e = kqt_ep_close(k->dev, ep[0])) != 0 ||
	    (e = kqt_ep_close(k->dev, ep[1])) != 0)
		CFAIL("EP_CLOSE: %s", kqt_errname(e));
}

static void
child(int idx, int secs)
{
	struct kqdafs_rdma_request reqs[64];
	struct kqdafs_rdma_result res[64];
	struct kevent evs[64];
	struct slot *slots;
	struct kqt k;
	uint32_t eps[NPAIRS][2], key[2], at[64], posted;
	uint8_t *mem[2];
	uint64_t end, gen;
	int32_t cres;
	int e, i, j, n, nout, p;

	kqt_child_init(idx);
	if ((e = kqt_open(&k)) != 0) {
		CDIAG("open %s: %s", KQDAFS_DEVICE, strerror(e));
		_exit(1);
	}
	for (i = 0; i < 2; i++) {
		mem[i] = kqt_pages(RLEN);
		kqt_fill(mem[i], (uint64_t)i * RLEN, RLEN);
		if ((e = kqt_reg_mr(k.dev, mem[i], RLEN, KQT_MR_ALL, &key[i])) !=
		    0) {
			CDIAG("REG_MR: %s", kqt_errname(e));
			_exit(1);
		}
	}
	for (p = 0; p < NPAIRS; p++)
		new_pair(&k, eps[p]);
	slots = calloc(MAXOUT, sizeof(*slots));
	if (slots == NULL)
		_exit(1);
	nout = 0;
	gen = 1;
	end = kqt_now_us() + (uint64_t)secs * 1000000;
	while (!kqt_child_stop && kqt_now_us() < end) {
		n = 1 + (int)(kqt_rand() % 64);
		for (i = 0, j = 0; i < n && nout + i < MAXOUT; i++) {
			uint64_t r = kqt_rand(), len, loff, roff;
			uint32_t op, ep;
			int m;

			while (slots[j].id != 0 || slots[j].udata != 0)
				j++;
			op = 1 + (uint32_t)(r % 4);
			p = (int)((r >> 8) % NPAIRS);
			ep = eps[p][(r >> 12) & 1];
			m = (int)((r >> 16) & 1);
			len = op == KQDAFS_RDMA_RECV || op == KQDAFS_RDMA_SEND ?
			    kqt_rand() % MAXMSG : 1 + kqt_rand() % (64 * 1024);
			loff = kqt_rand() % (RLEN - len + 1);
			roff = kqt_rand() % (RLEN - len + 1);
			slots[j].udata = (gen++ << 32) | (uint32_t)j;
			slots[j].op = op;
			slots[j].len = len;
			slots[j].pair = p;
			kqt_wr(&reqs[i], op, ep, k.kq, key[m], loff,
			    op == KQDAFS_RDMA_WRITE || op == KQDAFS_RDMA_READ ?
			    key[1 - m] : 0, op == KQDAFS_RDMA_WRITE ||
			    op == KQDAFS_RDMA_READ ? roff : 0, len,
			    slots[j].udata);
			at[i] = (uint32_t)j;
			j++;
		}
		n = i;
		if (n > 0) {
			memset(res, 0, sizeof(res));
			if ((e = kqt_post(k.dev, reqs, res, (uint32_t)n,
			    &posted)) != 0) {
				CFAIL("POST of %d: %s", n, kqt_errname(e));
				for (i = 0; i < n; i++)
					memset(&slots[at[i]], 0,
					    sizeof(slots[0]));
			} else {
				uint32_t ok = 0;

				for (i = 0; i < n; i++) {
					if (res[i].rres_error == 0 &&
					    res[i].rres_id != 0) {
						slots[at[i]].id = res[i].rres_id;
						nout++;
						ok++;
						continue;
					}
					if (res[i].rres_error != EAGAIN)
						CFAIL("request refused: %s",
						    kqt_errname(
						    res[i].rres_error));
					memset(&slots[at[i]], 0,
					    sizeof(slots[0]));
				}
				if (ok != posted)
					CFAIL("posted %u, %u accepted", posted,
					    ok);
			}
		}
		/* Cancel one now and then. */
		if (kqt_rand() % 4 == 0 && nout > 0) {
			i = (int)(kqt_rand() % MAXOUT);
			if (slots[i].id != 0 && !slots[i].cancelled) {
				if ((e = kqt_cancel(k.dev, slots[i].id,
				    &cres)) != 0)
					CFAIL("cancel: %s", kqt_errname(e));
				else if (cres == 0)
					slots[i].cancelled = 1;
				else if (cres != EALREADY)
					/*
					 * ENOENT only once its event is read,
					 * and this one's was not.
					 */
					CFAIL("cancel of outstanding request "
					    "%ju: result %d", (uintmax_t)
					    slots[i].id, cres);
			}
		}
		/* Close a pair with requests waiting, now and then. */
		if (kqt_rand() % 50 == 0) {
			p = (int)(kqt_rand() % NPAIRS);
			close_pair(&k, slots, eps[p], p);
			for (i = 0; i < MAXOUT; i++)
				if (slots[i].id != 0 && slots[i].pair == p)
					slots[i].pair = -1;
			new_pair(&k, eps[p]);
		}
		/* Close the kqueue with requests in flight, now and then. */
		if (kqt_rand() % 100 == 0) {
			close(k.kq);
			/* Abandoned: their events must never show up. */
			for (i = 0; i < MAXOUT; i++)
				if (slots[i].id != 0) {
					memset(&slots[i], 0, sizeof(slots[0]));
					slots[i].udata = 0;
				}
			nout = 0;
			if ((k.kq = kqueue()) < 0) {
				CDIAG("kqueue: %s", strerror(errno));
				_exit(1);
			}
		}
		n = kqt_collect(k.kq, evs, 64, nout >= MAXOUT - 64 ? 50 : 1);
		for (i = 0; i < n; i++)
			check_event(&k, slots, &evs[i], &nout);
	}
	/* Drain: close every pair (waiting requests reset), reap all. */
	for (p = 0; p < NPAIRS; p++)
		close_pair(&k, slots, eps[p], p);
	end = kqt_now_us() + 30 * 1000000ULL;
	while (nout > 0 && kqt_now_us() < end) {
		n = kqt_collect(k.kq, evs, 64, 1000);
		for (i = 0; i < n; i++)
			check_event(&k, slots, &evs[i], &nout);
	}
	if (nout != 0)
		CFAIL("%d requests without an event after the drain", nout);
	if (kqt_collect(k.kq, evs, 64, 100) != 0)
		CFAIL("events after the drain");
	/*
	 * Requests of closed kqueues are not tracked: one may still be
	 * finishing on a worker thread (EBUSY) for a moment.
	 */
	for (i = 0; i < 2; i++) {
		end = kqt_now_us() + 10 * 1000000ULL;
		while ((e = kqt_dereg_mr(k.dev, key[i])) == EBUSY &&
		    kqt_now_us() < end)
			usleep(10000);
		if (e != 0)
			CFAIL("DEREG_MR after the drain: %s", kqt_errname(e));
	}
	kqt_close(&k);
	_exit(kqt_child_fails != 0 ? 1 : 0);
}

int
main(int argc, char **argv)
{
	int64_t posted0, completed0;
	int c, kill9, nprocs, secs;
	struct kqt_tally t;
	struct kqt k;

	kill9 = 0;
	nprocs = 8;
	secs = 30;
	while ((c = getopt(argc, argv, "kp:t:")) != -1)
		switch (c) {
		case 'k':
			kill9 = 1;
			break;
		case 'p':
			nprocs = atoi(optarg);
			break;
		case 't':
			secs = atoi(optarg);
			break;
		default:
			goto usage;
		}
	if (argc != optind || nprocs < 1 || nprocs > MAXPROCS || secs < 1) {
usage:
		fprintf(stderr, "usage: rdma_stress [-k] [-p procs] "
		    "[-t seconds]\n");
		return (2);
	}
	tap_init("rdma_stress");
	kqt_srand(kqt_now_us());
	kqt_open_or_bail(&k);
	kqt_require_rdma(&k);
	kqt_close(&k);
	posted0 = kqt_counter(KQT_SYSCTL_RDMA_POSTED);
	completed0 = kqt_counter(KQT_SYSCTL_RDMA_COMPLETED);
	tap_diag("%d processes, %d s, %s", nprocs, secs,
	    kill9 ? "random kill -9" : "no kills");

	kqt_stress_run(child, nprocs, secs, kill9, &t);
	tap_diag("%jd work requests posted, %jd completed",
	    (intmax_t)(kqt_counter(KQT_SYSCTL_RDMA_POSTED) - posted0),
	    (intmax_t)(kqt_counter(KQT_SYSCTL_RDMA_COMPLETED) - completed0));
	tap_ok(t.failed == 0, "no child saw a wrong, missing or extra event");
	tap_ok(t.clean >= t.termed, "every child told to stop drained cleanly "
	    "(%d of %d)", t.clean, t.termed);
	if (kill9)
		tap_ok(t.killed > 0, "children were killed with requests in "
		    "flight (%d)", t.killed);
	tap_ok(kqt_counter(KQT_SYSCTL_RDMA_POSTED) > posted0,
	    "work requests were posted");
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_MRS, 0, 60),
	    "rdma_mrs back to 0 (%jd)",
	    (intmax_t)kqt_counter(KQT_SYSCTL_RDMA_MRS));
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_EPS, 0, 60),
	    "rdma_endpoints back to 0 (%jd)",
	    (intmax_t)kqt_counter(KQT_SYSCTL_RDMA_EPS));
	tap_ok(kqt_wait_counter(KQT_SYSCTL_RDMA_PINNED, 0, 60),
	    "rdma_pinned_bytes back to 0 (%jd)",
	    (intmax_t)kqt_counter(KQT_SYSCTL_RDMA_PINNED));
	tap_ok(kqt_wait_inflight(0, 60), "in-flight count back to 0 (%jd)",
	    (intmax_t)kqt_inflight());
	tap_ok(kqt_wait_counter(KQT_SYSCTL_KNOTES, 0, 60),
	    "kqdafs knotes back to 0 (%jd)",
	    (intmax_t)kqt_counter(KQT_SYSCTL_KNOTES));
	return (tap_done());
}
