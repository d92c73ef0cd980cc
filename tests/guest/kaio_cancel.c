/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_cancel FILE [slow]: KQDAFS_IOC_KAIO_CANCEL outcomes and closing the
 * kqueue with requests in flight.
 *
 * FILE should be at least 64 MiB of data that is not cached (the guest test
 * remounts its file system first); "slow" says FILE lives on a gnop(8)
 * device delaying every read, so reads are certainly still in flight when
 * they are cancelled and when their kqueue is closed, and the checks that
 * need that become strict.
 *
 *   - unknown id, id 0, an id whose event was delivered -> ENOENT;
 *   - kc_pad nonzero -> the ioctl fails with EINVAL;
 *   - cancel through another /dev/kqdafs descriptor -> ENOENT;
 *   - cancelling a batch in flight: every request still delivers exactly
 *     one event; result 0 <=> data -ECANCELED; EALREADY <=> own outcome;
 *     never ENOENT while the event is unread (even if the request already
 *     completed); a second cancel is EALREADY;
 *   - kqueue closed mid-flight: no event anywhere (not on a new kqueue that
 *     reuses the descriptor number), in-flight count back to its baseline,
 *     the device still works.
 * TAP.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	NREQ	64
#define	RLEN	(64 * 1024)
/* Requests are STRIDE apart so read-ahead of one cannot warm the next. */
#define	STRIDE	(256 * 1024)
#define	REGION	((off_t)NREQ * STRIDE)	/* 16 MiB of cold file per phase */

static struct kqt k;
static int fd, slow;
static off_t fsize, next_region;
static uint8_t *bufs;

/* NREQ reads of a region not read before, on kq; results in res. */
static int
submit_region(int kq, struct kqdafs_kaio_request *reqs,
    struct kqdafs_kaio_result *res, uint64_t tag)
{
	uint32_t i, sub;
	int e;

	if (next_region + REGION > fsize)
		next_region = 0;	/* wraps: later phases may be warm */
	for (i = 0; i < NREQ; i++)
		kqt_req(&reqs[i], KQDAFS_KAIO_READ, fd, kq,
		    next_region + (off_t)i * STRIDE, bufs + (size_t)i * RLEN,
		    RLEN, tag + i);
	next_region += REGION;
	e = kqt_submit(k.dev, reqs, res, NREQ, &sub);
	if (e != 0 || sub != NREQ) {
		tap_diag("submit: %s, %u of %d accepted", kqt_errname(e), sub,
		    NREQ);
		return (0);
	}
	return (1);
}

static void
test_simple(void)
{
	struct kqdafs_kaio_request r;
	struct kevent ev;
	uint8_t b[16];
	int32_t res;
	int e, other;
	struct kqdafs_kaio_cancel c;

	e = kqt_cancel(k.dev, 0x7fffffff12345ULL, &res);
	tap_ok(e == 0 && res == ENOENT, "cancel of an unknown id -> ENOENT "
	    "(ioctl %s, result %s)", kqt_errname(e), kqt_errname(res));
	e = kqt_cancel(k.dev, 0, &res);
	tap_ok(e == 0 && res == ENOENT, "cancel of id 0 -> ENOENT "
	    "(ioctl %s, result %s)", kqt_errname(e), kqt_errname(res));
	memset(&c, 0, sizeof(c));
	c.kc_id = 1;
	c.kc_pad = 1;
	e = ioctl(k.dev, KQDAFS_IOC_KAIO_CANCEL, &c) == -1 ? errno : 0;
	tap_ok(e == EINVAL, "cancel with kc_pad 1 -> ioctl EINVAL (got %s)",
	    kqt_errname(e));

	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, b, sizeof(b), 5);
	if (kqt_one(&k, &r, &ev) == 0) {
		e = kqt_cancel(k.dev, ev.ident, &res);
		tap_ok(e == 0 && res == ENOENT, "cancel after the event was "
		    "delivered -> ENOENT (got %s)", kqt_errname(res));
	} else
		tap_ok(0, "read for the delivered-cancel case");

	/* Another descriptor of /dev/kqdafs does not see our requests. */
	if ((other = open(KQDAFS_DEVICE, O_RDWR)) < 0)
		tap_bail("open %s: %s", KQDAFS_DEVICE, strerror(errno));
	{
		struct kqdafs_kaio_request reqs[NREQ];
		struct kqdafs_kaio_result rs[NREQ];
		struct kevent evs[NREQ];
		int i, n, good;

		if (submit_region(k.kq, reqs, rs, 0x100)) {
			good = 1;
			for (i = 0; i < NREQ; i++) {
				e = kqt_cancel(other, rs[i].kres_id, &res);
				if (e != 0 || res != ENOENT) {
					tap_diag("request %d: ioctl %s result "
					    "%s", i, kqt_errname(e),
					    kqt_errname(res));
					good = 0;
				}
			}
			tap_ok(good, "cancel through another descriptor -> "
			    "ENOENT");
			n = kqt_collect(k.kq, evs, NREQ, KQT_EVENT_TIMEOUT_MS);
			good = n == NREQ;
			for (i = 0; i < n; i++)
				if (evs[i].data != RLEN)
					good = 0;
			tap_ok(good, "... and the requests complete normally "
			    "(%d events)", n);
		} else
			tap_ok(0, "submit for the other-descriptor case");
	}
	close(other);
}

static void
test_cancel_batch(void)
{
	struct kqdafs_kaio_request reqs[NREQ];
	struct kqdafs_kaio_result rs[NREQ];
	struct kevent evs[NREQ];
	int32_t cres[NREQ], res2;
	int ncanc, nalready, nnoent, nbad, seen[NREQ];
	int e, i, j, n, good;

	if (!submit_region(k.kq, reqs, rs, 0x200)) {
		tap_ok(0, "submit of %d reads to cancel", NREQ);
		return;
	}
	/* Cancel from the last: the latest submitted are the likeliest
	 * still waiting. */
	ncanc = nalready = nnoent = nbad = 0;
	for (i = NREQ - 1; i >= 0; i--) {
		e = kqt_cancel(k.dev, rs[i].kres_id, &cres[i]);
		if (e != 0) {
			tap_diag("cancel %d: ioctl %s", i, kqt_errname(e));
			cres[i] = -1;
			nbad++;
		} else if (cres[i] == 0)
			ncanc++;
		else if (cres[i] == EALREADY)
			nalready++;
		else if (cres[i] == ENOENT)
			nnoent++;
		else {
			tap_diag("cancel %d: result %s", i,
			    kqt_errname(cres[i]));
			nbad++;
		}
	}
	tap_diag("cancel results: %d cancelled, %d EALREADY, %d ENOENT",
	    ncanc, nalready, nnoent);
	tap_ok(nbad == 0 && nnoent == 0, "every cancel answers 0 or EALREADY "
	    "(no event was read yet: never ENOENT)");
	if (slow)
		tap_ok(ncanc > 0, "reads held by the slow device can be "
		    "cancelled (%d of %d)", ncanc, NREQ);
	/* A second cancel never succeeds again. */
	good = 1;
	for (i = 0; i < NREQ; i++) {
		if (cres[i] != 0)
			continue;
		e = kqt_cancel(k.dev, rs[i].kres_id, &res2);
		if (e != 0 || res2 != EALREADY) {
			tap_diag("second cancel of %d: ioctl %s result %s", i,
			    kqt_errname(e), kqt_errname(res2));
			good = 0;
		}
	}
	tap_ok(good, "cancelling a cancelled request -> EALREADY");

	n = kqt_collect(k.kq, evs, NREQ, KQT_EVENT_TIMEOUT_MS);
	tap_ok(n == NREQ, "every request delivers its event (%d of %d)", n,
	    NREQ);
	memset(seen, 0, sizeof(seen));
	good = 1;
	for (j = 0; j < n; j++) {
		i = (int)((uintptr_t)evs[j].udata - 0x200);
		if (i < 0 || i >= NREQ || seen[i]++ ||
		    !kqt_ev_check(&k, &evs[j], KQDAFS_KAIO_READ,
		    rs[i].kres_id, 0x200 + (uint64_t)i)) {
			tap_diag("bad or duplicate event %d", j);
			good = 0;
			continue;
		}
		if (cres[i] == 0 && evs[j].data != -ECANCELED) {
			tap_diag("request %d was cancelled but its event has "
			    "data %jd", i, (intmax_t)evs[j].data);
			good = 0;
		}
		if (cres[i] != 0 && evs[j].data != RLEN) {
			tap_diag("request %d (cancel %s) has data %jd, not %d",
			    i, kqt_errname(cres[i]), (intmax_t)evs[j].data,
			    RLEN);
			good = 0;
		}
		if (evs[j].data == RLEN &&
		    kqt_check(bufs + (size_t)i * RLEN,
		    (uint64_t)reqs[i].kr_offset, RLEN) >= 0) {
			tap_diag("request %d completed with wrong bytes", i);
			good = 0;
		}
	}
	tap_ok(good, "cancelled -> -ECANCELED, others -> their own outcome");
	for (i = 0; i < NREQ; i++) {
		e = kqt_cancel(k.dev, rs[i].kres_id, &res2);
		if (e != 0 || res2 != ENOENT)
			break;
	}
	tap_ok(i == NREQ, "after delivery every id -> ENOENT");
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra events");
}

static void
test_kq_close(void)
{
	struct kqdafs_kaio_request reqs[NREQ];
	struct kqdafs_kaio_result rs[NREQ];
	struct kevent ev;
	int64_t base, mid;
	int kq2, kq3, n;
	int32_t res;

	base = kqt_inflight();
	if ((kq2 = kqueue()) < 0)
		tap_bail("kqueue: %s", strerror(errno));
	if (!submit_region(kq2, reqs, rs, 0x300)) {
		tap_ok(0, "submit of %d reads on a kqueue to close", NREQ);
		close(kq2);
		return;
	}
	close(kq2);
	mid = kqt_inflight();
	tap_diag("in flight: %jd before, %jd right after closing the kqueue",
	    (intmax_t)base, (intmax_t)mid);
	if (slow && mid <= base)
		tap_diag("note: nothing counted in flight right after the "
		    "close; the close may not have raced the reads");
	/* The next kqueue will very likely get the same number. */
	if ((kq3 = kqueue()) < 0)
		tap_bail("kqueue: %s", strerror(errno));
	tap_diag("new kqueue is fd %d (closed one was %d)", kq3, kq2);
	n = kqt_collect(kq3, &ev, 1, slow ? 3000 : 1000);
	tap_ok(n == 0, "no event reaches a new kqueue on the same number");
	tap_ok(kqt_quiet(k.kq, 100) == 0, "no event reaches another kqueue");
	tap_ok(kqt_wait_inflight(base, 30), "in-flight count back to %jd",
	    (intmax_t)base);
	n = kqt_cancel(k.dev, rs[0].kres_id, &res);
	tap_ok(n == 0 && res == ENOENT, "their ids are gone (ENOENT)");
	close(kq3);
	/* The device still works. */
	{
		struct kqdafs_kaio_request r;
		uint8_t b[100];

		kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 1000, b, 100, 77);
		tap_ok(kqt_one(&k, &r, &ev) == 0 && ev.data == 100 &&
		    kqt_check(b, 1000, 100) < 0,
		    "a read after the close works");
	}
}

int
main(int argc, char **argv)
{

	tap_init("kaio_cancel");
	fd = kqt_file_args(argc, argv, "kaio_cancel", &slow, &fsize);
	kqt_open_or_bail(&k);
	if (fsize < 4 * REGION)
		tap_bail("%s is smaller than %jd bytes", argv[1],
		    (intmax_t)(4 * REGION));
	if ((bufs = malloc((size_t)NREQ * RLEN)) == NULL)
		tap_bail("malloc");
	/* The probe reads offset 0 only; regions start past it. */
	next_region = REGION;
	kqt_require_kaio(&k, fd);
	tap_diag("file %jd bytes, %s device", (intmax_t)fsize,
	    slow ? "slow" : "normal");

	test_simple();
	test_cancel_batch();
	test_kq_close();

	tap_ok(kqt_wait_inflight(0, 30), "nothing left in flight");
	free(bufs);
	close(fd);
	kqt_close(&k);
	return (tap_done());
}
