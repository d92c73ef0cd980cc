/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_rw DIR: KAIO data path on the file system holding DIR (UFS through
 * the buffer cache, tmpfs through the workers): reads at many offsets and
 * lengths (unaligned, block-spanning, 0-length), EOF handling, write then
 * read back, holes, fsync, a full batch of KQDAFS_KAIO_MAX_BATCH requests,
 * malformed batches and a mixed batch.  TAP on stdout; exit 0 iff every
 * check passed.
 */

#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	FILE_SIZE	((off_t)(4 << 20) + 1234)	/* ends mid-block */
#define	GUARD		64
#define	SENTINEL	0x5a

static struct kqt k;
static int rfd;
static char path[1024];

/* One read of [off, off + len) into a buffer at misalignment mis. */
static void
read_case(int64_t off, uint64_t len, size_t mis, const char *what)
{
	struct kqdafs_kaio_request r;
	struct kevent ev;
	uint64_t want;
	uint8_t *raw, *buf;
	int64_t bad;
	size_t i;
	int e;

	want = off >= FILE_SIZE ? 0 :
	    ((uint64_t)(FILE_SIZE - off) < len ? (uint64_t)(FILE_SIZE - off) :
	    len);
	raw = malloc(len + mis + GUARD);
	if (raw == NULL)
		tap_bail("malloc");
	memset(raw, SENTINEL, len + mis + GUARD);
	buf = raw + mis;
	kqt_req(&r, KQDAFS_KAIO_READ, rfd, k.kq, off, buf, len,
	    0xdead000000000000ULL | (uint64_t)off);
	e = kqt_one(&k, &r, &ev);
	if (e != 0) {
		if (e > 0) {
			tap_ok(0, "read %s (off %jd len %ju) accepted", what,
			    (intmax_t)off, (uintmax_t)len);
			tap_diag("refused with %s", kqt_errname(e));
		}
		free(raw);
		return;
	}
	if (!tap_ok(ev.data == (int64_t)want,
	    "read %s (off %jd len %ju mis %zu) returns %ju bytes", what,
	    (intmax_t)off, (uintmax_t)len, mis, (uintmax_t)want)) {
		tap_diag("event data %jd", (intmax_t)ev.data);
		free(raw);
		return;
	}
	bad = kqt_check(buf, (uint64_t)off, want);
	if (!tap_ok(bad < 0, "read %s data matches the pattern", what))
		tap_diag("first bad byte at file offset %jd: got %#x want %#x",
		    (intmax_t)(off + bad), buf[bad],
		    kqt_pat((uint64_t)(off + bad)));
	for (i = 0; i < mis; i++)
		if (raw[i] != SENTINEL)
			break;
	for (bad = (int64_t)want; bad < (int64_t)(len + GUARD); bad++)
		if (buf[bad] != SENTINEL)
			break;
	if (!tap_ok(i == mis && bad == (int64_t)(len + GUARD),
	    "read %s writes only the bytes it returns", what))
		tap_diag("byte before buffer %zu / after data %jd clobbered",
		    i, (intmax_t)bad);
	free(raw);
}

static void
test_reads(void)
{
	static const struct {
		int64_t		off;
		uint64_t	len;
		const char	*what;
	} cases[] = {
		{ 0, 1, "first byte" },
		{ 0, 512, "first sector" },
		{ 0, 4096, "first page" },
		{ 1, 4095, "unaligned start" },
		{ 4095, 2, "across a page" },
		{ 511, 513, "across a sector" },
		{ 32767, 2, "across a 32k block" },
		{ 65536 - 100, 65536 + 200, "spanning three blocks" },
		{ 12345, 100000, "odd offset and length" },
		{ 0, 1 << 20, "1 MiB" },
		{ 3, (1 << 20) + 5, "1 MiB unaligned" },
		{ 1 << 20, 3 << 20, "3 MiB" },
		{ 0, (uint64_t)FILE_SIZE, "whole file" },
	};
	size_t i;
	int j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		read_case(cases[i].off, cases[i].len, i % 8, cases[i].what);
	for (j = 0; j < 48; j++) {
		int64_t off = (int64_t)(kqt_rand() % (uint64_t)FILE_SIZE);
		uint64_t len = 1 + kqt_rand() % (j % 4 == 0 ? 300000 : 9000);

		read_case(off, len, (size_t)(kqt_rand() % 16), "random");
	}
	/* EOF. */
	read_case(FILE_SIZE, 100, 0, "at EOF");
	read_case(FILE_SIZE + 10000, 4096, 0, "past EOF");
	read_case((int64_t)1 << 40, 1, 0, "far past EOF");
	read_case(FILE_SIZE - 100, 1000, 1, "across EOF");
	read_case(FILE_SIZE - 1, 1 << 20, 0, "last byte, long length");
}

static void
test_zero_length(void)
{
	struct kqdafs_kaio_request r;
	struct kevent ev;
	char c = 0;

	kqt_req(&r, KQDAFS_KAIO_READ, rfd, k.kq, 0, NULL, 0, 7);
	if (kqt_one(&k, &r, &ev) == 0)
		tap_ok(ev.data == 0, "0-byte read with NULL buffer -> 0");
	else
		tap_ok(0, "0-byte read with NULL buffer accepted");
	kqt_req(&r, KQDAFS_KAIO_READ, rfd, k.kq, 100, (void *)(uintptr_t)8,
	    0, 8);
	if (kqt_one(&k, &r, &ev) == 0)
		tap_ok(ev.data == 0, "0-byte read with a bogus buffer -> 0");
	else
		tap_ok(0, "0-byte read with a bogus buffer accepted");
	kqt_req(&r, KQDAFS_KAIO_READ, rfd, k.kq, FILE_SIZE + 99, &c, 0, 9);
	if (kqt_one(&k, &r, &ev) == 0)
		tap_ok(ev.data == 0, "0-byte read past EOF -> 0");
	else
		tap_ok(0, "0-byte read past EOF accepted");
}

/* KAIO write, checked with pread(2) and a KAIO read. */
static void
test_write(const char *dir)
{
	static const struct {
		int64_t		off;
		uint64_t	len;
	} w[] = {
		{ 0, 5000 },		/* new file */
		{ 4093, 70001 },	/* overlaps, unaligned, spans blocks */
		{ 300000, 1 },		/* leaves a hole */
		{ 300001, 1 << 20 },	/* extends */
	};
	struct kqdafs_kaio_request r;
	struct kevent ev;
	struct stat st;
	uint8_t *buf, *back;
	int64_t bad, end;
	size_t i;
	int fd, rofd;

	snprintf(path, sizeof(path), "%s/kaio_rw.w", dir);
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		tap_bail("open %s: %s", path, strerror(errno));
	buf = malloc(2 << 20);
	back = malloc(2 << 20);
	if (buf == NULL || back == NULL)
		tap_bail("malloc");
	end = 0;
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		kqt_fill(buf, (uint64_t)w[i].off, w[i].len);
		kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, w[i].off, buf,
		    w[i].len, 100 + i);
		if (kqt_one(&k, &r, &ev) != 0) {
			tap_ok(0, "write %zu accepted and completed", i);
			continue;
		}
		tap_ok(ev.data == (int64_t)w[i].len,
		    "write %zu (off %jd len %ju) reports %ju bytes", i,
		    (intmax_t)w[i].off, (uintmax_t)w[i].len,
		    (uintmax_t)w[i].len);
		if (w[i].off + (int64_t)w[i].len > end)
			end = w[i].off + (int64_t)w[i].len;
	}
	if (fstat(fd, &st) == 0)
		tap_ok(st.st_size == end, "file size after writes is %jd",
		    (intmax_t)end);
	/* Everything written follows the pattern; the hole reads as zeros. */
	memset(back, 0xee, end);
	if (pread(fd, back, (size_t)end, 0) != (ssize_t)end)
		tap_ok(0, "pread back of %jd bytes", (intmax_t)end);
	else {
		bad = kqt_check(back, 0, 74094);
		tap_ok(bad < 0, "pread sees the written bytes (0..74094)");
		for (bad = 74094; bad < 300000; bad++)
			if (back[bad] != 0)
				break;
		tap_ok(bad == 300000, "the hole reads as zeros");
		bad = kqt_check(back + 300000, 300000, (size_t)end - 300000);
		tap_ok(bad < 0, "pread sees the extending writes");
	}
	memset(back, 0xee, end);
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, back, (uint64_t)end, 200);
	if (kqt_one(&k, &r, &ev) == 0) {
		tap_ok(ev.data == end, "KAIO read back returns %jd bytes",
		    (intmax_t)end);
		tap_ok(kqt_check(back, 0, 74094) < 0 &&
		    kqt_check(back + 300000, 300000, (size_t)end - 300000) < 0,
		    "KAIO read back matches what was written");
	} else
		tap_ok(0, "KAIO read back accepted");

	kqt_req(&r, KQDAFS_KAIO_FSYNC, fd, k.kq, 0, NULL, 0, 300);
	if (kqt_one(&k, &r, &ev) == 0)
		tap_ok(ev.data == 0, "fsync completes with 0");
	else
		tap_ok(0, "fsync accepted");
	rofd = open(path, O_RDONLY);
	kqt_req(&r, KQDAFS_KAIO_FSYNC, rofd, k.kq, 0, NULL, 0, 301);
	if (kqt_one(&k, &r, &ev) == 0)
		tap_ok(ev.data == 0, "fsync of a read-only descriptor -> 0");
	else
		tap_ok(0, "fsync of a read-only descriptor accepted");
	close(rofd);
	/* Write, fsync and read in one batch: all three complete. */
	{
		struct kqdafs_kaio_request b[3];
		struct kqdafs_kaio_result res[3];
		struct kevent evs[3];
		uint32_t sub;
		int n;

		kqt_fill(buf, 0, 4096);
		kqt_req(&b[0], KQDAFS_KAIO_WRITE, fd, k.kq, 0, buf, 4096, 1);
		kqt_req(&b[1], KQDAFS_KAIO_FSYNC, fd, k.kq, 0, NULL, 0, 2);
		kqt_req(&b[2], KQDAFS_KAIO_READ, fd, k.kq, 8192, back, 100, 3);
		if (kqt_submit(k.dev, b, res, 3, &sub) == 0 && sub == 3) {
			n = kqt_collect(k.kq, evs, 3, KQT_EVENT_TIMEOUT_MS);
			tap_ok(n == 3, "write+fsync+read batch: 3 events");
		} else
			tap_ok(0, "write+fsync+read batch accepted");
	}
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra events");
	close(fd);
	unlink(path);
	free(buf);
	free(back);
}

/* KQDAFS_KAIO_MAX_BATCH reads in one call; every event exactly once. */
static void
test_full_batch(void)
{
	struct kqdafs_kaio_request *reqs;
	struct kqdafs_kaio_result *res;
	struct kevent *evs;
	uint8_t **bufs;
	uint32_t sub, i, j, n;
	int got, good, e, seen[KQDAFS_KAIO_MAX_BATCH];

	n = KQDAFS_KAIO_MAX_BATCH;
	tap_ok(k.info.kqi_max_batch == n, "kqi_max_batch is %u", n);
	reqs = calloc(n, sizeof(*reqs));
	res = calloc(n, sizeof(*res));
	evs = calloc(n + 1, sizeof(*evs));
	bufs = calloc(n, sizeof(*bufs));
	if (reqs == NULL || res == NULL || evs == NULL || bufs == NULL)
		tap_bail("calloc");
	for (i = 0; i < n; i++) {
		uint64_t len = 1 + kqt_rand() % 20000;
		int64_t off = (int64_t)(kqt_rand() % (uint64_t)FILE_SIZE);

		if ((bufs[i] = malloc(len)) == NULL)
			tap_bail("malloc");
		kqt_req(&reqs[i], KQDAFS_KAIO_READ, rfd, k.kq, off, bufs[i],
		    len, 0x1000 + i);
		seen[i] = 0;
	}
	e = kqt_submit(k.dev, reqs, res, n, &sub);
	if (!tap_ok(e == 0 && sub == n, "batch of %u reads accepted", n)) {
		tap_diag("ioctl %s, submitted %u", kqt_errname(e), sub);
		goto out;
	}
	good = 1;
	for (i = 0; i < n && good; i++) {
		if (res[i].kres_error != 0 || res[i].kres_id == 0)
			good = 0;
		for (j = 0; j < i && good; j++)
			if (res[j].kres_id == res[i].kres_id)
				good = 0;
	}
	tap_ok(good, "%u distinct nonzero ids", n);
	got = kqt_collect(k.kq, evs, (int)n, KQT_EVENT_TIMEOUT_MS);
	tap_ok(got == (int)n, "%u events (got %d)", n, got);
	good = 1;
	for (j = 0; j < (uint32_t)got; j++) {
		i = (uint32_t)((uintptr_t)evs[j].udata - 0x1000);
		if (i >= n || seen[i]++ != 0 ||
		    !kqt_ev_check(&k, &evs[j], KQDAFS_KAIO_READ, res[i].kres_id,
		    reqs[i].kr_udata)) {
			tap_diag("bad or duplicate event %u (udata %p)", j,
			    evs[j].udata);
			good = 0;
			continue;
		}
		{
			uint64_t want = reqs[i].kr_len;

			if ((uint64_t)reqs[i].kr_offset + want >
			    (uint64_t)FILE_SIZE)
				want = (uint64_t)FILE_SIZE -
				    (uint64_t)reqs[i].kr_offset;
			if (evs[j].data != (int64_t)want ||
			    kqt_check(bufs[i], (uint64_t)reqs[i].kr_offset,
			    want) >= 0) {
				tap_diag("request %u: data %jd want %ju or bad "
				    "bytes", i, (intmax_t)evs[j].data,
				    (uintmax_t)want);
				good = 0;
			}
		}
	}
	tap_ok(good, "each event once, matching its request, data correct");
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no extra events");
out:
	for (i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(reqs);
	free(res);
	free(evs);
}

static void *
unmapped_page(void)
{
	void *p;

	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_ANON | MAP_PRIVATE,
	    -1, 0);
	if (p == MAP_FAILED)
		tap_bail("mmap");
	munmap(p, 4096);
	return (p);
}

static void
bad_batch(struct kqdafs_kaio_submit *s, int want, const char *what)
{
	int e;

	e = ioctl(k.dev, KQDAFS_IOC_KAIO_SUBMIT, s) == -1 ? errno : 0;
	if (!tap_ok(e == want, "%s: ioctl fails with %s", what,
	    kqt_errname(want)))
		tap_diag("got %s", kqt_errname(e));
	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0,
	    "%s: no request was submitted (no event)", what);
}

static void
test_bad_batches(void)
{
	struct kqdafs_kaio_request reqs[KQDAFS_KAIO_MAX_BATCH + 1];
	struct kqdafs_kaio_result res[KQDAFS_KAIO_MAX_BATCH + 1];
	struct kqdafs_kaio_submit s;
	static uint8_t buf[512];
	void *ro;
	unsigned i;

	for (i = 0; i < KQDAFS_KAIO_MAX_BATCH + 1; i++)
		kqt_req(&reqs[i], KQDAFS_KAIO_READ, rfd, k.kq, 0, buf,
		    sizeof(buf), i);
	memset(res, 0xa5, sizeof(res));

	memset(&s, 0, sizeof(s));
	s.ks_reqs = (uintptr_t)reqs;
	s.ks_results = (uintptr_t)res;
	s.ks_count = 0;
	bad_batch(&s, EINVAL, "count 0");
	s.ks_count = KQDAFS_KAIO_MAX_BATCH + 1;
	bad_batch(&s, EINVAL, "count 257");
	s.ks_count = UINT32_MAX;
	bad_batch(&s, EINVAL, "count 2^32-1");
	for (i = 0; i < sizeof(res); i++)
		if (((uint8_t *)res)[i] != 0xa5)
			break;
	tap_ok(i == sizeof(res), "refused batches leave the results alone");
	s.ks_count = 1;
	s.ks_flags = 1;
	bad_batch(&s, EINVAL, "ks_flags 1");
	s.ks_flags = 0;
	s.ks_pad = 1;
	bad_batch(&s, EINVAL, "ks_pad 1");
	s.ks_pad = 0;
	s.ks_reqs = 0;
	bad_batch(&s, EFAULT, "ks_reqs NULL");
	s.ks_reqs = (uintptr_t)unmapped_page();
	bad_batch(&s, EFAULT, "ks_reqs unmapped");
	s.ks_reqs = 0xffff800000001000ULL;
	bad_batch(&s, EFAULT, "ks_reqs in kernel space");
	s.ks_reqs = (uintptr_t)reqs;
	s.ks_count = 4;
	s.ks_results = 0;
	bad_batch(&s, EFAULT, "ks_results NULL");
	s.ks_results = (uintptr_t)unmapped_page();
	bad_batch(&s, EFAULT, "ks_results unmapped");
	ro = mmap(NULL, 4096, PROT_READ, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (ro == MAP_FAILED)
		tap_bail("mmap");
	s.ks_results = (uintptr_t)ro;
	bad_batch(&s, EFAULT, "ks_results read-only");
	munmap(ro, 4096);
	/* The request array ends in an unmapped page. */
	{
		uint8_t *two;

		two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_ANON | MAP_PRIVATE, -1, 0);
		if (two == MAP_FAILED)
			tap_bail("mmap");
		munmap(two + 4096, 4096);
		memcpy(two + 4096 - 2 * sizeof(reqs[0]), reqs,
		    2 * sizeof(reqs[0]));
		s.ks_reqs = (uintptr_t)(two + 4096 - 2 * sizeof(reqs[0]));
		s.ks_results = (uintptr_t)res;
		s.ks_count = 3;
		bad_batch(&s, EFAULT, "request array runs into an unmapped page");
		munmap(two, 4096);
	}
}

/* Good, bad, good: per-request results, two events. */
static void
test_mixed_batch(void)
{
	struct kqdafs_kaio_request reqs[4];
	struct kqdafs_kaio_result res[4];
	struct kevent evs[4];
	uint8_t a[100], b[100];
	uint32_t sub;
	int e, n;

	kqt_req(&reqs[0], KQDAFS_KAIO_READ, rfd, k.kq, 10, a, 100, 1);
	kqt_req(&reqs[1], 99, rfd, k.kq, 10, a, 100, 2);
	kqt_req(&reqs[2], KQDAFS_KAIO_READ, rfd, k.kq, 20, b, 100, 3);
	kqt_req(&reqs[3], KQDAFS_KAIO_READ, -1, k.kq, 20, b, 100, 4);
	memset(res, 0xa5, sizeof(res));
	e = kqt_submit(k.dev, reqs, res, 4, &sub);
	if (!tap_ok(e == 0, "mixed batch: ioctl succeeds"))
		return;
	tap_ok(sub == 2, "mixed batch: ks_submitted 2 (got %u)", sub);
	tap_ok(res[0].kres_error == 0 && res[0].kres_id != 0 &&
	    res[2].kres_error == 0 && res[2].kres_id != 0 &&
	    res[0].kres_id != res[2].kres_id,
	    "mixed batch: good requests have distinct ids");
	tap_ok(res[1].kres_error == EINVAL && res[1].kres_id == 0,
	    "mixed batch: bad op -> id 0, EINVAL (got %s)",
	    kqt_errname(res[1].kres_error));
	tap_ok(res[3].kres_error == EBADF && res[3].kres_id == 0,
	    "mixed batch: fd -1 -> id 0, EBADF (got %s)",
	    kqt_errname(res[3].kres_error));
	n = kqt_collect(k.kq, evs, 4, 2000);
	tap_ok(n == 2, "mixed batch: exactly 2 events (got %d)", n);
	tap_ok(kqt_check(a, 10, 100) < 0 && kqt_check(b, 20, 100) < 0,
	    "mixed batch: data correct");
}

int
main(int argc, char **argv)
{
	int e;

	tap_init("kaio_rw");
	if (argc != 2) {
		fprintf(stderr, "usage: kaio_rw DIR\n");
		return (2);
	}
	kqt_srand((uint64_t)getpid() * 7919);
	kqt_open_or_bail(&k);
	tap_diag("filter %d, slot mode %u, max batch %u", k.filt,
	    k.info.kqi_slot_mode, k.info.kqi_max_batch);
	snprintf(path, sizeof(path), "%s/kaio_rw.pat", argv[1]);
	if ((e = kqt_make_file(path, FILE_SIZE)) != 0)
		tap_bail("create %s: %s", path, strerror(e));
	if ((rfd = open(path, O_RDONLY)) < 0)
		tap_bail("open %s: %s", path, strerror(errno));
	kqt_require_kaio(&k, rfd);

	test_reads();
	test_zero_length();
	test_full_batch();
	test_bad_batches();
	test_mixed_batch();
	test_write(argv[1]);
	tap_ok(kqt_wait_inflight(0, 10), "no request left in flight");

	close(rfd);
	snprintf(path, sizeof(path), "%s/kaio_rw.pat", argv[1]);
	unlink(path);
	kqt_close(&k);
	return (tap_done());
}
