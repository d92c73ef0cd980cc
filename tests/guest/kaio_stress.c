/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_stress [-k] [-p procs] [-t seconds] DIR: many processes with many
 * KAIO requests in flight on the file system holding DIR.
 *
 * Each child keeps up to MAXOUT reads, writes and fsyncs in flight on a
 * shared pattern file and a file of its own (written with the same
 * pattern, so every read can be checked), reaps and checks every event
 * (right request, right op, right bytes, exactly once), cancels some
 * requests, and now and then closes its kqueue with requests in flight
 * (their events must never show up) and opens a new one.  The parent
 * respawns children it kills with SIGKILL at random moments (-k), ends
 * the rest with SIGTERM (they drain and check everything) or SIGKILL, and
 * finally checks that the module's in-flight count returns to 0.  TAP.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	SHARED_SIZE	((off_t)8 << 20)
#define	OWN_SIZE	((off_t)1 << 20)
#define	MAXOUT		512
#define	MAXLEN		(128 * 1024)
#define	MAXPROCS	64
#define	GRAVE_MAX	(64 << 20)	/* bytes of abandoned buffers kept */

struct slot {
	uint64_t	id;
	uint64_t	udata;
	uint32_t	op;
	int		own;		/* on the child's own file */
	int		cancelled;	/* cancel answered 0 */
	int64_t		off;
	uint64_t	len;
	uint8_t		*buf;
};

static char dir[1024];

static void
check_event(struct kqt *k, struct slot *slots, const struct kevent *ev,
    int *nout)
{
	struct slot *s;
	uint64_t want;
	uint32_t i;

	i = (uint32_t)((uint64_t)(uintptr_t)ev->udata & 0xffffffff);
	if (i >= MAXOUT || slots[i].id == 0 ||
	    slots[i].udata != (uint64_t)(uintptr_t)ev->udata) {
		CFAIL("event for no outstanding request: ident %ju udata %p "
		    "data %jd", (uintmax_t)ev->ident, ev->udata,
		    (intmax_t)ev->data);
		return;
	}
	s = &slots[i];
	if (ev->filter != k->filt || (uint64_t)ev->ident != s->id ||
	    ev->fflags != (u_int)KQDAFS_KAIO_FFLAGS(s->op))
		CFAIL("event mismatch: filter %d ident %ju fflags %#x for id "
		    "%ju op %u", ev->filter, (uintmax_t)ev->ident, ev->fflags,
		    (uintmax_t)s->id, s->op);
	if (s->cancelled) {
		if (ev->data != -ECANCELED)
			CFAIL("cancelled request %ju has data %jd",
			    (uintmax_t)s->id, (intmax_t)ev->data);
	} else if (ev->data == -ECANCELED)
		CFAIL("request %ju cancelled though cancel did not say 0",
		    (uintmax_t)s->id);
	else if (s->op == KQDAFS_KAIO_FSYNC) {
		if (ev->data != 0)
			CFAIL("fsync data %jd", (intmax_t)ev->data);
	} else {
		off_t size = s->own ? OWN_SIZE : SHARED_SIZE;

		want = s->off >= size ? 0 :
		    ((uint64_t)(size - s->off) < s->len ?
		    (uint64_t)(size - s->off) : s->len);
		if (s->op == KQDAFS_KAIO_WRITE)
			want = s->len;
		if (ev->data != (int64_t)want)
			CFAIL("%s at %jd len %ju: data %jd, want %ju",
			    s->op == KQDAFS_KAIO_READ ? "read" : "write",
			    (intmax_t)s->off, (uintmax_t)s->len,
			    (intmax_t)ev->data, (uintmax_t)want);
		else if (s->op == KQDAFS_KAIO_READ &&
		    kqt_check(s->buf, (uint64_t)s->off, want) >= 0)
			CFAIL("read at %jd len %ju: wrong bytes",
			    (intmax_t)s->off, (uintmax_t)s->len);
	}
	free(s->buf);
	memset(s, 0, sizeof(*s));
	(*nout)--;
}

static void
child(int idx, int secs)
{
	struct kqdafs_kaio_request reqs[64];
	struct kqdafs_kaio_result res[64];
	struct kevent evs[64];
	struct slot *slots;
	struct kqt k;
	char path[1100];
	uint64_t end, gen, grave;
	uint32_t at[64], sub;
	int e, i, j, n, nout, shfd, ownfd, newkq;

	kqt_child_init(idx);
	if ((e = kqt_open(&k)) != 0) {
		CDIAG("open %s: %s", KQDAFS_DEVICE, strerror(e));
		_exit(1);
	}
	snprintf(path, sizeof(path), "%s/stress.shared", dir);
	shfd = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/stress.own.%d", dir, idx);
	if (kqt_make_file(path, OWN_SIZE) != 0 || shfd < 0 ||
	    (ownfd = open(path, O_RDWR)) < 0) {
		CDIAG("files: %s", strerror(errno));
		_exit(1);
	}
	slots = calloc(MAXOUT, sizeof(*slots));
	if (slots == NULL)
		_exit(1);
	nout = 0;
	gen = 1;
	grave = 0;
	end = kqt_now_us() + (uint64_t)secs * 1000000;
	while (!kqt_child_stop && kqt_now_us() < end) {
		/* Submit a batch. */
		n = 1 + (int)(kqt_rand() % 64);
		for (i = 0, j = 0; i < n && nout + i < MAXOUT; i++) {
			uint64_t r = kqt_rand() % 100, len;
			uint32_t op;
			int own;
			int64_t off;
			uint8_t *buf;

			while (slots[j].id != 0 || slots[j].udata != 0)
				j++;
			op = r < 70 ? KQDAFS_KAIO_READ : r < 95 ?
			    KQDAFS_KAIO_WRITE : KQDAFS_KAIO_FSYNC;
			own = op != KQDAFS_KAIO_READ || (r & 1);
			len = op == KQDAFS_KAIO_FSYNC ? 0 :
			    1 + kqt_rand() % MAXLEN;
			off = op == KQDAFS_KAIO_FSYNC ? 0 : (int64_t)
			    (kqt_rand() % (uint64_t)((own ? OWN_SIZE :
			    SHARED_SIZE) + 4096));
			if (op == KQDAFS_KAIO_WRITE &&
			    off + (int64_t)len > OWN_SIZE)
				off = OWN_SIZE - (int64_t)len;
			buf = len > 0 ? malloc(len) : NULL;
			if (len > 0 && buf == NULL)
				break;
			if (op == KQDAFS_KAIO_WRITE)
				kqt_fill(buf, (uint64_t)off, len);
			slots[j].udata = (gen++ << 32) | j;
			slots[j].op = op;
			slots[j].own = own;
			slots[j].off = off;
			slots[j].len = len;
			slots[j].buf = buf;
			kqt_req(&reqs[i], op, own ? ownfd : shfd, k.kq, off,
			    buf, len, slots[j].udata);
			at[i] = (uint32_t)j;
			j++;
		}
		n = i;
		if (n == 0)
			goto reap;
		e = kqt_submit(k.dev, reqs, res, (uint32_t)n, &sub);
		if (e != 0) {
			CFAIL("submit of %d: %s", n, kqt_errname(e));
			break;
		}
		for (i = 0; i < n; i++) {
			struct slot *s = &slots[at[i]];

			if (res[i].kres_error == 0 && res[i].kres_id != 0) {
				s->id = res[i].kres_id;
				nout++;
			} else {
				if (res[i].kres_error != EAGAIN)
					CFAIL("request refused: %s",
					    kqt_errname(res[i].kres_error));
				free(s->buf);
				memset(s, 0, sizeof(*s));
			}
		}
		/* Cancel one now and then. */
		if (kqt_rand() % 8 == 0 && nout > 0) {
			for (i = (int)(kqt_rand() % MAXOUT); slots[i].id == 0;
			    i = (i + 1) % MAXOUT)
				;
			int32_t cr;

			if ((e = kqt_cancel(k.dev, slots[i].id, &cr)) != 0)
				CFAIL("cancel ioctl: %s", kqt_errname(e));
			else if (cr == 0)
				slots[i].cancelled = 1;
			else if (cr != EALREADY && cr != ENOENT)
				CFAIL("cancel result %s", kqt_errname(cr));
		}
		/* Close the kqueue with requests in flight now and then. */
		if (kqt_rand() % 40 == 0 && grave < GRAVE_MAX) {
			close(k.kq);
			for (i = 0; i < MAXOUT; i++)
				if (slots[i].id != 0) {
					/* The kernel may still fill it. */
					grave += slots[i].len;
					memset(&slots[i], 0, sizeof(slots[i]));
				}
			nout = 0;
			if ((newkq = kqueue()) < 0) {
				CFAIL("kqueue: %s", strerror(errno));
				break;
			}
			k.kq = newkq;
			continue;
		}
reap:
		n = kqt_collect(k.kq, evs, 64, nout >= MAXOUT - 64 ? 1000 :
		    (int)(kqt_rand() % 3));
		for (i = 0; i < n; i++)
			check_event(&k, slots, &evs[i], &nout);
		if (kqt_child_fails > 20)
			break;
	}
	/* Drain. */
	while (nout > 0) {
		n = kqt_collect(k.kq, evs, 64, KQT_EVENT_TIMEOUT_MS);
		if (n == 0) {
			CFAIL("%d requests never delivered their event", nout);
			break;
		}
		for (i = 0; i < n; i++)
			check_event(&k, slots, &evs[i], &nout);
	}
	if (kqt_collect(k.kq, evs, 64, 100) != 0)
		CFAIL("events after the drain");
	_exit(kqt_child_fails != 0 ? 1 : 0);
}

int
main(int argc, char **argv)
{
	char path[1100];
	int c, e, i, kill9, nprocs, secs;
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
	if (argc - optind != 1 || nprocs < 1 || nprocs > MAXPROCS ||
	    secs < 1) {
usage:
		fprintf(stderr, "usage: kaio_stress [-k] [-p procs] "
		    "[-t seconds] DIR\n");
		return (2);
	}
	snprintf(dir, sizeof(dir), "%s", argv[optind]);
	tap_init("kaio_stress");
	kqt_srand(kqt_now_us());
	kqt_open_or_bail(&k);
	snprintf(path, sizeof(path), "%s/stress.shared", dir);
	if ((e = kqt_make_file(path, SHARED_SIZE)) != 0)
		tap_bail("create %s: %s", path, strerror(e));
	{
		int fd = open(path, O_RDONLY);

		kqt_require_kaio(&k, fd);
		close(fd);
	}
	kqt_close(&k);
	tap_diag("%d processes, %d s, %s, in %s", nprocs, secs,
	    kill9 ? "random kill -9" : "no kills", dir);

	kqt_stress_run(child, nprocs, secs, kill9, &t);
	tap_ok(t.failed == 0, "no child saw a wrong, missing or extra event");
	tap_ok(t.clean >= t.termed, "every child told to stop drained cleanly "
	    "(%d of %d)", t.clean, t.termed);
	if (kill9)
		tap_ok(t.killed > 0, "children were killed with requests in "
		    "flight (%d)", t.killed);
	tap_ok(kqt_wait_inflight(0, 60), "in-flight count back to 0 (now "
	    "%jd)", (intmax_t)kqt_inflight());
	for (i = 0; i < t.spawned; i++) {
		snprintf(path, sizeof(path), "%s/stress.own.%d", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/stress.shared", dir);
	unlink(path);
	return (tap_done());
}
