/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_limits FILE [slow]: the per-process limits
 * kern.kqdafs.max_requests_per_proc and kern.kqdafs.max_pinned_per_proc
 * (KQT_SYSCTL_MAX_*).  Sets them small, checks EAGAIN / EINVAL, that the
 * limits are per process and that slots come back after completion (when
 * the events are read, for every descriptor of the process), then
 * restores the old values (also on SIGINT/SIGTERM/exit).  Needs root.
 *
 * FILE: at least 32 MiB of uncached data; with "slow" it is on a gnop(8)
 * device delaying every read, so the requests certainly stay in flight and
 * the EAGAIN checks are strict (without it they are reported only).
 * TAP.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	NREQ	32
#define	RLEN	(64 * 1024)
#define	STRIDE	(256 * 1024)	/* apart, so read-ahead cannot warm */

static struct kqt k;
static int fd, slow;
static int64_t old_reqs = -1, old_pinned = -1;
static off_t fsize, next_off;
static uint8_t *bufs;

static void
restore(void)
{

	if (old_reqs >= 0)
		(void)kqt_sysctl_set(KQT_SYSCTL_MAX_REQS, old_reqs);
	if (old_pinned >= 0)
		(void)kqt_sysctl_set(KQT_SYSCTL_MAX_PINNED, old_pinned);
}

static void
onsig(int sig)
{

	restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* n reads of len bytes at fresh offsets; returns how many were accepted,
 * counting the EAGAINs in *eagain and anything else in *other. */
static int
submit_n(int n, uint64_t len, struct kqdafs_kaio_result *res, int *eagain,
    int *other)
{
	struct kqdafs_kaio_request reqs[NREQ];
	uint32_t sub;
	int e, i;

	*eagain = *other = 0;
	for (i = 0; i < n; i++) {
		if (next_off + (off_t)len > fsize)
			next_off = 0;
		kqt_req(&reqs[i], KQDAFS_KAIO_READ, fd, k.kq, next_off,
		    bufs + (size_t)i * RLEN, len, (uint64_t)i);
		next_off += (off_t)len + STRIDE;
	}
	if ((e = kqt_submit(k.dev, reqs, res, (uint32_t)n, &sub)) != 0) {
		tap_diag("submit: %s", kqt_errname(e));
		return (-1);
	}
	for (i = 0; i < n; i++)
		if (res[i].kres_error == EAGAIN)
			(*eagain)++;
		else if (res[i].kres_error != 0) {
			(*other)++;
			tap_diag("request %d: %s", i,
			    kqt_errname(res[i].kres_error));
		}
	return ((int)sub);
}

static int
reap(int n)
{
	struct kevent evs[NREQ];
	int got;

	got = kqt_collect(k.kq, evs, n, KQT_EVENT_TIMEOUT_MS);
	if (got != n)
		tap_diag("reaped %d of %d events", got, n);
	return (got == n);
}

static void
test_requests(void)
{
	struct kqdafs_kaio_result res[NREQ];
	int acc, eagain, other, e, status;
	pid_t pid;

	e = kqt_sysctl_set(KQT_SYSCTL_MAX_REQS, 4);
	if (!tap_ok(e == 0, "set %s=4", KQT_SYSCTL_MAX_REQS)) {
		tap_diag("%s", strerror(e));
		return;
	}
	if (ioctl(k.dev, KQDAFS_IOC_INFO, &k.info) == 0)
		tap_ok(k.info.kqi_max_requests_per_proc == 4,
		    "KQDAFS_IOC_INFO reports the new limit (%u)",
		    k.info.kqi_max_requests_per_proc);
	acc = submit_n(NREQ, RLEN, res, &eagain, &other);
	tap_diag("limit 4: %d accepted, %d EAGAIN, %d other", acc, eagain,
	    other);
	tap_ok(acc >= 1 && acc + eagain == NREQ && other == 0,
	    "only EAGAIN refusals");
	if (slow)
		tap_ok(acc == 4, "exactly 4 accepted while 4 are in flight");
	else if (eagain == 0)
		tap_diag("note: no EAGAIN without a slow device (requests "
		    "completed too fast)");
	if (slow && acc == 4) {
		/* Another process has its own allowance. */
		pid = fork();
		if (pid == 0) {
			struct kqt c;
			int a, ea, ot;

			if (kqt_open(&c) != 0)
				_exit(3);
			k.dev = c.dev;
			k.kq = c.kq;
			a = submit_n(4, RLEN, res, &ea, &ot);
			_exit(a == 4 ? 0 : 1);
		}
		status = -1;
		waitpid(pid, &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "a child process may have its own 4 in flight (status "
		    "%#x)", status);
	}
	tap_ok(acc > 0 && reap(acc), "the accepted requests complete");
	acc = submit_n(4, RLEN, res, &eagain, &other);
	tap_ok(acc == 4, "after completion 4 new requests are accepted "
	    "(got %d)", acc);
	if (acc > 0)
		reap(acc);
	/*
	 * A request stops counting when its event is delivered, not when
	 * its descriptor next submits: with this descriptor drained (and not
	 * used again), another descriptor of this process gets all 4.
	 */
	{
		struct kqt c;
		int sdev, skq;

		if (kqt_open(&c) == 0) {
			sdev = k.dev;
			skq = k.kq;
			k.dev = c.dev;
			k.kq = c.kq;
			acc = submit_n(4, RLEN, res, &eagain, &other);
			tap_ok(acc == 4 && eagain == 0, "events read on one "
			    "descriptor: another descriptor gets all 4 "
			    "(got %d, %d EAGAIN)", acc, eagain);
			if (acc > 0)
				reap(acc);
			k.dev = sdev;
			k.kq = skq;
			kqt_close(&c);
		} else
			tap_ok(0, "open a second descriptor");
	}
	/*
	 * Deleting the knotes of requests whose reads are still held by the
	 * slow device drops their events but not their count: the limit
	 * holds until their I/O ends.
	 */
	if (slow) {
		struct kevent del[4];
		uint64_t end;
		int i, n;

		acc = submit_n(4, RLEN, res, &eagain, &other);
		tap_ok(acc == 4, "4 slow reads accepted (got %d)", acc);
		n = acc > 0 ? acc : 0;
		for (i = 0; i < n; i++)
			EV_SET(&del[i], res[i].kres_id, k.filt, EV_DELETE, 0,
			    0, NULL);
		e = n > 0 && kevent(k.kq, del, n, NULL, 0, NULL) == -1 ?
		    errno : 0;
		tap_ok(e == 0, "EV_DELETE of their knotes (%s)",
		    kqt_errname(e));
		acc = submit_n(1, RLEN, res, &eagain, &other);
		tap_ok(acc == 0 && eagain == 1, "with their knotes deleted "
		    "and their reads in flight, a 5th is still EAGAIN (got "
		    "%d accepted, %d EAGAIN)", acc, eagain);
		if (acc > 0)
			reap(acc);
		tap_ok(kqt_wait_inflight(0, 30), "their reads end");
		/* The count ends with the I/O; allow it a moment. */
		end = kqt_now_us() + 2000000;
		do {
			acc = submit_n(4, RLEN, res, &eagain, &other);
			if (acc == 4 || kqt_now_us() >= end)
				break;
			if (acc > 0)
				reap(acc);
			usleep(50000);
		} while (1);
		tap_ok(acc == 4, "then 4 new requests are accepted (got %d)",
		    acc);
		if (acc > 0)
			reap(acc);
	}
	e = kqt_sysctl_set(KQT_SYSCTL_MAX_REQS, old_reqs);
	tap_ok(e == 0, "restore %s=%jd", KQT_SYSCTL_MAX_REQS,
	    (intmax_t)old_reqs);
}

static void
test_pinned(void)
{
	struct kqdafs_kaio_request r;
	struct kqdafs_kaio_result res[NREQ];
	struct kevent ev;
	uint32_t sub;
	int acc, eagain, other, e, fs;

	e = kqt_sysctl_set(KQT_SYSCTL_MAX_PINNED, 2 * RLEN);
	if (!tap_ok(e == 0, "set %s=%d", KQT_SYSCTL_MAX_PINNED, 2 * RLEN)) {
		tap_diag("%s", strerror(e));
		return;
	}
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, bufs, 2 * RLEN + 1, 1);
	e = kqt_submit(k.dev, &r, res, 1, &sub);
	tap_ok(e == 0 && res[0].kres_error == EINVAL,
	    "a read longer than max_pinned -> EINVAL (got %s)",
	    kqt_errname(res[0].kres_error));
	acc = submit_n(8, RLEN, res, &eagain, &other);
	tap_diag("pinned limit %d: %d x %d accepted, %d EAGAIN", 2 * RLEN,
	    acc, RLEN, eagain);
	tap_ok(acc >= 1 && acc + eagain == 8 && other == 0,
	    "only EAGAIN refusals");
	if (slow) {
		tap_ok(acc == 2, "exactly 2 x 64 KiB accepted under 128 KiB");
		/* A sync holds no memory. */
		kqt_req(&r, KQDAFS_KAIO_FSYNC, fd, k.kq, 0, NULL, 0, 99);
		e = kqt_submit(k.dev, &r, res, 1, &sub);
		fs = e == 0 && res[0].kres_error == 0;
		tap_ok(fs, "fsync accepted at the pinned limit (got %s)",
		    kqt_errname(res[0].kres_error));
		if (fs)
			acc++;
	} else if (eagain == 0)
		tap_diag("note: no EAGAIN without a slow device");
	tap_ok(acc > 0 && reap(acc), "the accepted requests complete");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, bufs, 2 * RLEN, 2);
	e = kqt_one(&k, &r, &ev);
	tap_ok(e == 0 && ev.data == 2 * RLEN,
	    "afterwards a read of exactly the limit works");
	e = kqt_sysctl_set(KQT_SYSCTL_MAX_PINNED, old_pinned);
	tap_ok(e == 0, "restore %s=%jd", KQT_SYSCTL_MAX_PINNED,
	    (intmax_t)old_pinned);
}

int
main(int argc, char **argv)
{
	int64_t v;

	tap_init("kaio_limits");
	fd = kqt_file_args(argc, argv, "kaio_limits", &slow, &fsize);
	kqt_open_or_bail(&k);
	next_off = 1 << 20;
	if ((bufs = malloc((size_t)NREQ * RLEN)) == NULL)
		tap_bail("malloc");
	if (kqt_sysctl_get(KQT_SYSCTL_MAX_REQS, &old_reqs) != 0 ||
	    kqt_sysctl_get(KQT_SYSCTL_MAX_PINNED, &old_pinned) != 0)
		tap_bail("cannot read %s / %s", KQT_SYSCTL_MAX_REQS,
		    KQT_SYSCTL_MAX_PINNED);
	tap_diag("%s=%jd %s=%jd", KQT_SYSCTL_MAX_REQS, (intmax_t)old_reqs,
	    KQT_SYSCTL_MAX_PINNED, (intmax_t)old_pinned);
	tap_ok(old_reqs == k.info.kqi_max_requests_per_proc &&
	    (uint64_t)old_pinned == k.info.kqi_max_pinned_per_proc,
	    "KQDAFS_IOC_INFO agrees with the sysctls");
	atexit(restore);
	signal(SIGINT, onsig);
	signal(SIGTERM, onsig);
	kqt_require_kaio(&k, fd);

	test_requests();
	test_pinned();

	restore();
	tap_ok(kqt_sysctl_get(KQT_SYSCTL_MAX_REQS, &v) == 0 && v == old_reqs &&
	    kqt_sysctl_get(KQT_SYSCTL_MAX_PINNED, &v) == 0 && v == old_pinned,
	    "limits restored");
	tap_ok(kqt_wait_inflight(0, 30), "nothing left in flight");
	free(bufs);
	close(fd);
	kqt_close(&k);
	return (tap_done());
}
