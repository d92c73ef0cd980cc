/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * upcall_modes FILE [scratch]: the kernel consumer API through the test
 * module kqdafs_consumer_test.ko (sysctl debug.kqdafs_ctest.run), in each
 * delivery mode (direct upcall, delayed upcall, polling):
 *   - reads of FILE (a pattern file: "kaio_cache create"), aligned and
 *     misaligned kernel buffers, every byte checked against the pattern;
 *   - writes of the pattern into a scratch file FILE.w, read back with
 *     pread(2) and checked; fsync;
 *   - the counters kern.kqdafs.upcalls_direct, upcalls_delayed,
 *     upcall_batches, upcall_polled and consumers;
 *   - admission: with ca_depth 4 and no reaping, exactly 4 of 10 submits
 *     are accepted, the rest answer EAGAIN;
 *   - bad arguments answer EINVAL;
 *   - a descriptor limited to CAP_PREAD: a write or fsync is ENOTCAPABLE.
 * TAP on stdout.
 */
#include <sys/types.h>
#include <sys/capsicum.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"
#include "../../consumer/kqdafs_ctest.h"

/* The delivery modes of kmod/kqdafs_kapi.h. */
#define	DIRECT	1
#define	DELAYED	2
#define	POLL	3

#define	NREQ	16
#define	RLEN	(64 * 1024)

static int fd;
static off_t fsize;
static char wpath[1024];

static int
run(struct kqdafs_ctest *ct, const char *what)
{

	if (kqt_ctest_run(ct, what) != 0)
		return (-1);
	tap_diag("%s: error %d first_error %d submitted %u completed %u "
	    "eagain %u cancelled %u failed %u upcalls %u max_batch %u bad %u "
	    "timeout %u bytes %ju mismatch %ju", what, ct->ct_error,
	    ct->ct_first_error, ct->ct_submitted, ct->ct_completed,
	    ct->ct_eagain, ct->ct_cancelled, ct->ct_failed, ct->ct_upcalls,
	    ct->ct_max_batch, ct->ct_bad, ct->ct_timeout,
	    (uintmax_t)ct->ct_bytes, (uintmax_t)ct->ct_mismatch);
	return (0);
}

static int
all_completed(const struct kqdafs_ctest *ct, uint32_t n)
{

	return (ct->ct_error == 0 && ct->ct_first_error == 0 &&
	    ct->ct_submitted == n && ct->ct_completed == n &&
	    ct->ct_bad == 0 && ct->ct_timeout == 0 && ct->ct_failed == 0);
}

static void
test_read(int mode, uint32_t misalign, uint32_t batch)
{
	struct kqdafs_ctest ct;
	int64_t d0, dl0, b0, p0;
	char what[96];

	snprintf(what, sizeof(what), "%s read, misalign %u, batch %u",
	    kqt_ctest_mode(mode), misalign, batch);
	d0 = kqt_counter("kern.kqdafs.upcalls_direct");
	dl0 = kqt_counter("kern.kqdafs.upcalls_delayed");
	b0 = kqt_counter("kern.kqdafs.upcall_batches");
	p0 = kqt_counter("kern.kqdafs.upcall_polled");
	kqt_ctest_init(&ct, fd, mode, KQDAFS_CTEST_READ, NREQ, RLEN);
	ct.ct_misalign = misalign;
	ct.ct_batch = batch;
	ct.ct_offset = 4096;
	if (run(&ct, what) != 0)
		return;
	tap_ok(all_completed(&ct, NREQ), "%s: %d requests, each completed "
	    "once", what, NREQ);
	tap_ok(ct.ct_bytes == (uint64_t)NREQ * RLEN && ct.ct_mismatch == 0,
	    "%s: every byte read matches the pattern", what);
	switch (mode) {
	case DIRECT:
		tap_ok(ct.ct_upcalls == NREQ && ct.ct_max_batch == 1,
		    "%s: one direct upcall per completion", what);
		tap_ok(kqt_counter("kern.kqdafs.upcalls_direct") - d0 >= NREQ,
		    "%s: upcalls_direct counted", what);
		break;
	case DELAYED:
		tap_ok(ct.ct_upcalls >= 1 && ct.ct_upcalls <= NREQ &&
		    ct.ct_max_batch <= (batch == 0 ? 16 : batch),
		    "%s: batched delayed upcalls (%u for %d)", what,
		    ct.ct_upcalls, NREQ);
		tap_ok(kqt_counter("kern.kqdafs.upcalls_delayed") - dl0 >=
		    NREQ && kqt_counter("kern.kqdafs.upcall_batches") - b0 >=
		    ct.ct_upcalls, "%s: upcalls_delayed, upcall_batches "
		    "counted", what);
		break;
	case POLL:
		tap_ok(ct.ct_upcalls == 0, "%s: no upcall", what);
		tap_ok(kqt_counter("kern.kqdafs.upcall_polled") - p0 >= NREQ,
		    "%s: upcall_polled counted", what);
		break;
	}
}

static void
test_write(int mode)
{
	struct kqdafs_ctest ct;
	uint8_t *buf;
	ssize_t got;
	int wfd;
	char what[64];

	snprintf(what, sizeof(what), "%s write", kqt_ctest_mode(mode));
	if ((wfd = open(wpath, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0) {
		tap_ok(0, "%s: open %s: %s", what, wpath, strerror(errno));
		return;
	}
	kqt_ctest_init(&ct, wfd, mode, KQDAFS_CTEST_WRITE, NREQ, RLEN);
	ct.ct_misalign = 8;
	if (run(&ct, what) != 0) {
		close(wfd);
		return;
	}
	tap_ok(all_completed(&ct, NREQ) &&
	    ct.ct_bytes == (uint64_t)NREQ * RLEN, "%s: %d requests completed, "
	    "all bytes written", what, NREQ);
	if ((buf = malloc((size_t)NREQ * RLEN)) == NULL)
		tap_bail("malloc");
	got = pread(wfd, buf, (size_t)NREQ * RLEN, 0);
	tap_ok(got == (ssize_t)NREQ * RLEN &&
	    kqt_check(buf, 0, (size_t)NREQ * RLEN) == -1,
	    "%s: the file holds the pattern the module wrote", what);
	free(buf);

	kqt_ctest_init(&ct, wfd, mode, KQDAFS_CTEST_FSYNC, 4, 0);
	if (run(&ct, "fsync") == 0)
		tap_ok(all_completed(&ct, 4), "%s fsync: 4 completed, no "
		    "error", kqt_ctest_mode(mode));
	close(wfd);
}

static void
test_depth(void)
{
	struct kqdafs_ctest ct;

	kqt_ctest_init(&ct, fd, POLL, KQDAFS_CTEST_DEPTH, 10, 4096);
	ct.ct_depth = 4;
	if (run(&ct, "depth 4, 10 submits") != 0)
		return;
	tap_ok(ct.ct_submitted == 4 && ct.ct_eagain == 6,
	    "depth 4: 4 accepted, 6 refused with EAGAIN");
	tap_ok(ct.ct_completed == 4 && ct.ct_mismatch == 0 &&
	    ct.ct_timeout == 0, "depth 4: the 4 accepted complete once");
}

static void
test_bad_args(void)
{
	struct kqdafs_ctest ct;

	kqt_ctest_init(&ct, fd, 0, KQDAFS_CTEST_READ, 1, 4096);
	if (run(&ct, "delivery mode 0") == 0)
		tap_ok(ct.ct_error == EINVAL, "delivery mode 0: EINVAL");
	kqt_ctest_init(&ct, fd, POLL, KQDAFS_CTEST_READ, 1, 4096);
	ct.ct_depth = 1000000;
	if (run(&ct, "depth 1000000") == 0)
		tap_ok(ct.ct_error == EINVAL, "depth 1000000: EINVAL");
	kqt_ctest_init(&ct, fd, DIRECT, KQDAFS_CTEST_WRITE, 1, 4096);
	if (run(&ct, "write on a read-only descriptor") == 0)
		tap_ok(ct.ct_submitted == 0 && ct.ct_first_error == EBADF,
		    "write on a read-only descriptor: EBADF, nothing "
		    "submitted");
}

/*
 * The test consumer looks its caller's descriptor up with the capsicum(4)
 * rights of the operation, as kqdafs_kapi(9) asks of a consumer: a
 * descriptor limited to CAP_PREAD reads, but a write or an fsync on it is
 * ENOTCAPABLE, nothing submitted.
 */
static void
test_capsicum(void)
{
	struct kqdafs_ctest ct;
	cap_rights_t rights;
	int wfd;

	if ((wfd = open(wpath, O_RDWR | O_CREAT, 0644)) < 0) {
		tap_ok(0, "open %s: %s", wpath, strerror(errno));
		return;
	}
	cap_rights_init(&rights, CAP_PREAD);
	if (cap_rights_limit(wfd, &rights) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
	kqt_ctest_init(&ct, wfd, DIRECT, KQDAFS_CTEST_WRITE, 1, 4096);
	if (run(&ct, "write with CAP_PREAD only") == 0)
		tap_ok(ct.ct_error == ENOTCAPABLE && ct.ct_submitted == 0,
		    "write on a descriptor with CAP_PREAD only: ENOTCAPABLE");
	kqt_ctest_init(&ct, wfd, DIRECT, KQDAFS_CTEST_FSYNC, 1, 0);
	if (run(&ct, "fsync with CAP_PREAD only") == 0)
		tap_ok(ct.ct_error == ENOTCAPABLE && ct.ct_submitted == 0,
		    "fsync on a descriptor with CAP_PREAD only: ENOTCAPABLE");
	close(wfd);
}

int
main(int argc, char **argv)
{
	int mode, slow;

	tap_init("upcall_modes");
	fd = kqt_file_args(argc, argv, "upcall_modes", &slow, &fsize);
	if (fsize < 4096 + (off_t)NREQ * RLEN)
		tap_bail("%s is smaller than %d bytes", argv[1],
		    4096 + NREQ * RLEN);
	snprintf(wpath, sizeof(wpath), "%s.w", argv[1]);
	kqt_require_ctest();

	for (mode = DIRECT; mode <= POLL; mode++) {
		test_read(mode, 0, 0);
		test_read(mode, 100, 3);
		test_write(mode);
	}
	test_depth();
	test_bad_args();
	test_capsicum();
	tap_ok(kqt_counter("kern.kqdafs.consumers") == 0,
	    "no consumer left (kern.kqdafs.consumers 0)");
	tap_ok(kqt_wait_inflight(0, 30), "nothing left in flight");
	unlink(wpath);
	close(fd);
	return (tap_done());
}
