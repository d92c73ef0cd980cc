/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_fault: device read errors on the KAIO buffer-cache path.
 *
 *   kaio_fault FILE PROVIDER
 *
 * FILE (a pattern file of kaio_cache create, size a multiple of 64 KiB)
 * lives on a UFS whose device is the gnop(8) provider PROVIDER (e.g.
 * md3.nop) and is not cached (the caller remounted).  The file is opened
 * first (its inode read), then:
 *
 *  1. gnop configure -r 100: every read of the device fails with EIO.
 *     Reading the whole file with KAIO, every request completes with
 *     -EIO (a failed block is never reported as data), nothing hangs, and
 *     nothing stays in flight.
 *  2. gnop configure -r 50: half the device reads fail.  Every request
 *     completes either with -EIO or with all its bytes, and those bytes
 *     are right.
 *  3. gnop configure -r 0: the whole file reads back right (a block that
 *     failed was not left in the buffer cache as valid data).
 *
 * TAP.  The failure probability is set back to 0 on every exit path.
 */

#include <sys/types.h>
#include <sys/event.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	CHUNK	(64 * 1024)
#define	BATCH	64

static const char *provider;

/* gnop configure -r PCT PROVIDER; 1 when it succeeded. */
static int
fail_reads(int pct)
{
	char cmd[256];
	int st;

	snprintf(cmd, sizeof(cmd), "gnop configure -r %d %s", pct, provider);
	st = system(cmd);
	if (st != 0)
		tap_diag("'%s' exited with status %d", cmd, st);
	return (st == 0);
}

static void
reset_device(void)
{

	(void)fail_reads(0);
}

struct tally {
	int64_t	ok;		/* completed with all bytes, right ones */
	int64_t	eio;		/* completed with -EIO */
	int64_t	bad;		/* anything else (diagnosed) */
};

/*
 * Read the whole file with KAIO, BATCH requests of CHUNK bytes in flight
 * at a time, and sort the completions.  0 when every request completed.
 */
static int
read_all(struct kqt *k, int fd, off_t size, struct tally *t)
{
	struct kqdafs_kaio_request reqs[BATCH];
	struct kqdafs_kaio_result res[BATCH];
	struct kevent evs[BATCH];
	uint8_t *buf;
	off_t base, off;
	uint32_t i, n, sub;
	int e, got, j, lost;

	memset(t, 0, sizeof(*t));
	if ((buf = malloc((size_t)CHUNK * BATCH)) == NULL)
		tap_bail("malloc");
	lost = 0;
	for (base = 0; base < size; base += (off_t)CHUNK * BATCH) {
		n = 0;
		for (off = base; off < size && n < BATCH; off += CHUNK, n++)
			kqt_req(&reqs[n], KQDAFS_KAIO_READ, fd, k->kq, off,
			    buf + (size_t)n * CHUNK, CHUNK, n);
		e = kqt_submit(k->dev, reqs, res, n, &sub);
		if (e != 0 || sub != n) {
			tap_diag("submit of %u reads: %s, %u accepted", n,
			    kqt_errname(e), sub);
			free(buf);
			return (-1);
		}
		got = kqt_collect(k->kq, evs, (int)n, KQT_EVENT_TIMEOUT_MS);
		if (got != (int)n) {
			tap_diag("%d of %u events within %d ms", got, n,
			    KQT_EVENT_TIMEOUT_MS);
			lost = 1;
		}
		for (j = 0; j < got; j++) {
			i = (uint32_t)(uintptr_t)evs[j].udata;
			if (i >= n || !kqt_ev_check(k, &evs[j],
			    KQDAFS_KAIO_READ, res[i].kres_id, i)) {
				t->bad++;
				continue;
			}
			off = reqs[i].kr_offset;
			if (evs[j].data == -EIO)
				t->eio++;
			else if (evs[j].data == CHUNK &&
			    kqt_check(buf + (size_t)i * CHUNK, (uint64_t)off,
			    CHUNK) < 0)
				t->ok++;
			else {
				tap_diag("read at %jd: data %jd%s",
				    (intmax_t)off, (intmax_t)evs[j].data,
				    evs[j].data == CHUNK ? " with wrong bytes" :
				    "");
				t->bad++;
			}
		}
		if (lost)
			break;
	}
	free(buf);
	return (lost ? -1 : 0);
}

int
main(int argc, char **argv)
{
	struct kqt k;
	off_t size;
	struct tally t;
	int64_t nreq;
	int fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: kaio_fault FILE PROVIDER\n");
		return (2);
	}
	provider = argv[2];
	tap_init("kaio_fault");
	kqt_open_or_bail(&k);
	fd = kqt_open_file(argv[1], &size);
	if (size == 0 || size % CHUNK != 0)
		tap_bail("%s: size %jd is not a nonzero multiple of %d",
		    argv[1], (intmax_t)size, CHUNK);
	kqt_require_kaio(&k, fd);
	nreq = size / CHUNK;
	atexit(reset_device);

	if (!tap_ok(fail_reads(100), "gnop configure -r 100 %s", provider))
		tap_bail("cannot make the device fail reads");
	r = read_all(&k, fd, size, &t);
	tap_ok(r == 0, "every read of a failing device completed");
	tap_ok(t.eio == nreq && t.ok == 0 && t.bad == 0,
	    "all %jd reads completed with -EIO (%jd -EIO, %jd data, %jd odd)",
	    (intmax_t)nreq, (intmax_t)t.eio, (intmax_t)t.ok, (intmax_t)t.bad);
	tap_ok(kqt_wait_inflight(0, 10), "nothing in flight afterwards");

	if (!tap_ok(fail_reads(50), "gnop configure -r 50 %s", provider))
		tap_bail("cannot make the device fail half the reads");
	r = read_all(&k, fd, size, &t);
	tap_ok(r == 0, "every read of a flaky device completed");
	tap_ok(t.bad == 0 && t.ok + t.eio == nreq,
	    "each read got -EIO or all its right bytes (%jd -EIO, %jd data, "
	    "%jd odd)", (intmax_t)t.eio, (intmax_t)t.ok, (intmax_t)t.bad);
	tap_ok(kqt_wait_inflight(0, 10), "nothing in flight afterwards");

	if (!tap_ok(fail_reads(0), "gnop configure -r 0 %s", provider))
		tap_bail("cannot make the device work again");
	r = read_all(&k, fd, size, &t);
	tap_ok(r == 0 && t.ok == nreq && t.eio == 0 && t.bad == 0,
	    "the healed device reads back every byte right (%jd of %jd; a "
	    "failed block was not cached as data)", (intmax_t)t.ok,
	    (intmax_t)nreq);
	tap_ok(kqt_wait_inflight(0, 10), "nothing in flight at the end");
	close(fd);
	kqt_close(&k);
	return (tap_done());
}
