/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_cache: which path KAIO reads take, seen through the counters.
 *
 *   kaio_cache create FILE MIB    write a pattern file of MIB MiB
 *   kaio_cache cold FILE          UFS, cache dropped (remounted): reads
 *                                 miss the buffer cache
 *   kaio_cache warm FILE          UFS, just read: reads hit the cache
 *   kaio_cache worker FILE        a file system without buffer cache
 *                                 (tmpfs): reads go to the workers
 *
 * Each read mode reads the whole file with KAIO (64 KiB requests, up to a
 * full batch in flight), checks every byte, and checks how the counters
 * KQT_SYSCTL_* (kqt.h) moved.  TAP.
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

enum { C_HITS, C_MISSES, C_REQ_BC, C_REQ_WK, NCOUNTERS };
static const char *cnames[NCOUNTERS] = {
	KQT_SYSCTL_HITS, KQT_SYSCTL_MISSES, KQT_SYSCTL_REQ_BUFCACHE,
	KQT_SYSCTL_REQ_WORKER,
};

static int
counters(int64_t *v)
{
	int e, i, good;

	good = 1;
	for (i = 0; i < NCOUNTERS; i++)
		if ((e = kqt_sysctl_get(cnames[i], &v[i])) != 0) {
			tap_diag("sysctl %s: %s (renamed? see KQT_SYSCTL_* in "
			    "tests/guest/lib/kqt.h)", cnames[i], strerror(e));
			good = 0;
			v[i] = 0;
		}
	return (good);
}

/* Read the whole file through KAIO; returns requests made, -1 on error. */
static int64_t
read_all(struct kqt *k, int fd, off_t size)
{
	struct kqdafs_kaio_request reqs[KQDAFS_KAIO_MAX_BATCH];
	struct kqdafs_kaio_result res[KQDAFS_KAIO_MAX_BATCH];
	struct kevent evs[KQDAFS_KAIO_MAX_BATCH];
	uint8_t *buf;
	int64_t nreq, bad;
	off_t off, base;
	uint32_t i, n, sub;
	int e, got, good, j;

	if ((buf = malloc((size_t)CHUNK * KQDAFS_KAIO_MAX_BATCH)) == NULL)
		tap_bail("malloc");
	nreq = 0;
	good = 1;
	for (base = 0; base < size && good;
	    base += (off_t)CHUNK * KQDAFS_KAIO_MAX_BATCH) {
		n = 0;
		for (off = base; off < size &&
		    n < KQDAFS_KAIO_MAX_BATCH; off += CHUNK, n++)
			kqt_req(&reqs[n], KQDAFS_KAIO_READ, fd, k->kq, off,
			    buf + (size_t)n * CHUNK, CHUNK, n);
		e = kqt_submit(k->dev, reqs, res, n, &sub);
		if (e != 0 || sub != n) {
			tap_diag("submit of %u reads: %s, %u accepted", n,
			    kqt_errname(e), sub);
			for (i = 0; i < n; i++)
				if (res[i].kres_error != 0) {
					tap_diag("request %u: %s", i,
					    kqt_errname(res[i].kres_error));
					break;
				}
			good = 0;
			if (e != 0)
				break;
			n = sub;	/* still reap what was accepted */
		}
		got = kqt_collect(k->kq, evs, (int)n, KQT_EVENT_TIMEOUT_MS);
		if (got != (int)n) {
			tap_diag("%d of %u events", got, n);
			good = 0;
		}
		for (j = 0; j < got; j++) {
			i = (uint32_t)(uintptr_t)evs[j].udata;
			if (i >= n || !kqt_ev_check(k, &evs[j],
			    KQDAFS_KAIO_READ, res[i].kres_id, i)) {
				good = 0;
				continue;
			}
			off = reqs[i].kr_offset;
			if (evs[j].data != (size - off < CHUNK ? size - off :
			    CHUNK)) {
				tap_diag("read at %jd: data %jd", (intmax_t)off,
				    (intmax_t)evs[j].data);
				good = 0;
				continue;
			}
			bad = kqt_check(buf + (size_t)i * CHUNK, (uint64_t)off,
			    (size_t)evs[j].data);
			if (bad >= 0) {
				tap_diag("bad byte at offset %jd",
				    (intmax_t)(off + bad));
				good = 0;
			}
		}
		nreq += n;
	}
	free(buf);
	return (good ? nreq : -1);
}

int
main(int argc, char **argv)
{
	struct kqt k;
	off_t size;
	int64_t before[NCOUNTERS], after[NCOUNTERS], d[NCOUNTERS], nreq;
	uint64_t t0, us;
	const char *mode;
	int e, fd, have, i;

	if (argc == 4 && strcmp(argv[1], "create") == 0) {
		if ((e = kqt_make_file(argv[2],
		    (off_t)strtol(argv[3], NULL, 10) << 20)) != 0) {
			fprintf(stderr, "kaio_cache: create %s: %s\n", argv[2],
			    strerror(e));
			return (1);
		}
		return (0);
	}
	if (argc != 3 || (strcmp(argv[1], "cold") != 0 &&
	    strcmp(argv[1], "warm") != 0 && strcmp(argv[1], "worker") != 0)) {
		fprintf(stderr, "usage: kaio_cache create FILE MIB | "
		    "cold|warm|worker FILE\n");
		return (2);
	}
	mode = argv[1];
	tap_init("kaio_cache");
	kqt_open_or_bail(&k);
	fd = kqt_open_file(argv[2], &size);
	kqt_require_kaio(&k, fd);

	have = counters(before);
	tap_ok(have, "counters %s ... readable", KQT_SYSCTL_HITS);
	t0 = kqt_now_us();
	nreq = read_all(&k, fd, size);
	us = kqt_now_us() - t0;
	tap_ok(nreq > 0, "%s read of %jd bytes: every request completed "
	    "with the right bytes", mode, (intmax_t)size);
	counters(after);
	for (i = 0; i < NCOUNTERS; i++) {
		d[i] = after[i] - before[i];
		tap_diag("%s: %jd -> %jd (+%jd)", cnames[i],
		    (intmax_t)before[i], (intmax_t)after[i], (intmax_t)d[i]);
	}
	tap_diag("%s: %jd requests, %ju us, %.1f MiB/s", mode, (intmax_t)nreq,
	    (uintmax_t)us, us > 0 ? (double)size / us * 1e6 /
	    (1 << 20) : 0.0);
	if (nreq <= 0 || !have) {
		tap_skip("no usable read or counters", "counter checks");
		return (tap_done());
	}
	if (strcmp(mode, "worker") == 0) {
		tap_ok(d[C_REQ_WK] >= nreq, "%jd requests counted in %s",
		    (intmax_t)nreq, KQT_SYSCTL_REQ_WORKER);
		tap_ok(d[C_REQ_BC] == 0, "%s did not move",
		    KQT_SYSCTL_REQ_BUFCACHE);
		tap_ok(d[C_HITS] == 0 && d[C_MISSES] == 0,
		    "buffer-cache hits/misses did not move");
	} else {
		tap_ok(d[C_REQ_BC] >= nreq, "%jd requests counted in %s",
		    (intmax_t)nreq, KQT_SYSCTL_REQ_BUFCACHE);
		tap_ok(d[C_REQ_WK] == 0, "%s did not move",
		    KQT_SYSCTL_REQ_WORKER);
		if (strcmp(mode, "cold") == 0)
			tap_ok(d[C_MISSES] > 0 && d[C_MISSES] >= d[C_HITS],
			    "cold cache: mostly misses (+%jd misses, +%jd "
			    "hits)", (intmax_t)d[C_MISSES],
			    (intmax_t)d[C_HITS]);
		else
			tap_ok(d[C_HITS] > 0 && d[C_MISSES] * 10 <= d[C_HITS],
			    "warm cache: hits (+%jd hits, +%jd misses)",
			    (intmax_t)d[C_HITS], (intmax_t)d[C_MISSES]);
	}
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra events");
	close(fd);
	kqt_close(&k);
	return (tap_done());
}
