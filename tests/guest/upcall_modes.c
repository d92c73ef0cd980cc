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
 *
 * The runs are the lines of tests/cases/upcall_modes.cases, which the
 * kernel simulation runs too (upcall_modes); `make` turns the table into
 * kqc_upcall_modes.h.  The depth run (its EAGAIN count is no table
 * expectation) stays written out here, as in the simulation.
 */
#include <sys/param.h>
#include <sys/capsicum.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqc_upcall_modes.h"
#include "kqt.h"
#include "../../consumer/kqdafs_ctest.h"

/* The delivery modes of kmod/kqdafs_kapi.h. */
#define	DIRECT	1
#define	DELAYED	2
#define	POLL	3

#define	NREQ	16
#define	RLEN	(64 * 1024)

static int fd;
static const char *fpath;
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

/* The descriptor d names; *own when it was opened for the run. */
static int
open_desc(const struct kqc_desc *d, int *own)
{
	int nfd;

	*own = 0;
	switch (d->kind) {
	case KQC_D_NUM:
		return (d->num);
	case KQC_D_CLOSED:
		if ((nfd = dup(fd)) < 0 || close(nfd) == -1)
			tap_bail("dup/close: %s", strerror(errno));
		return (nfd);
	case KQC_D_FILE:
		nfd = open(fpath, d->oflags);
		break;
	case KQC_D_SCRATCH:
		nfd = open(wpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
		break;
	case KQC_D_OPATH:
	case KQC_D_PIPE:
	case KQC_D_SOCKET:
	case KQC_D_DEV:
	case KQC_D_KQ:
		tap_bail("the consumer table names a descriptor no run takes");
	}
	if (nfd < 0)
		tap_bail("open for a run: %s", strerror(errno));
	*own = 1;
	if (d->limited) {
		kqt_limit_rights(nfd, d->rights);
	}
	return (nfd);
}

/* What a completed read run must show in its delivery mode. */
static void
mode_checks(const struct kqc_ctest_case *c, const struct kqdafs_ctest *ct,
    const int64_t c0[4], const char *what)
{
	uint32_t n = ct->ct_submitted;

	if (c->mode == DIRECT) {
		tap_ok(ct->ct_upcalls == n && ct->ct_max_batch == 1,
		    "%s: one direct upcall per completion", what);
		tap_ok(kqt_counter("kern.kqdafs.upcalls_direct") - c0[0] >= n,
		    "%s: upcalls_direct counted", what);
	} else if (c->mode == DELAYED) {
		tap_ok(ct->ct_upcalls >= 1 && ct->ct_upcalls <= n &&
		    ct->ct_max_batch <= (c->batch == 0 ? 16 : c->batch),
		    "%s: batched delayed upcalls (%u for %u)", what,
		    ct->ct_upcalls, n);
		tap_ok(kqt_counter("kern.kqdafs.upcalls_delayed") - c0[1] >= n &&
		    kqt_counter("kern.kqdafs.upcall_batches") - c0[2] >=
		    ct->ct_upcalls, "%s: upcalls_delayed, upcall_batches "
		    "counted", what);
	} else if (c->mode == POLL) {
		tap_ok(ct->ct_upcalls == 0, "%s: no upcall", what);
		tap_ok(kqt_counter("kern.kqdafs.upcall_polled") - c0[3] >= n,
		    "%s: upcall_polled counted", what);
	} else
		tap_ok(0, "%s: delivery mode %d completed a run", what,
		    c->mode);
}

/* One line of tests/cases/upcall_modes.cases. */
static void
run_case(const struct kqc_ctest_case *c)
{
	struct kqdafs_ctest ct;
	int64_t c0[4];
	uint64_t total;
	uint8_t *buf;
	ssize_t got;
	char what[160];
	int cfd, own;

	snprintf(what, sizeof(what), "%s (upcall_modes.cases:%d)", c->what,
	    c->line);
	cfd = open_desc(&c->fd, &own);
	c0[0] = kqt_counter("kern.kqdafs.upcalls_direct");
	c0[1] = kqt_counter("kern.kqdafs.upcalls_delayed");
	c0[2] = kqt_counter("kern.kqdafs.upcall_batches");
	c0[3] = kqt_counter("kern.kqdafs.upcall_polled");
	kqt_ctest_init(&ct, cfd, c->mode, c->op, c->count, c->len);
	ct.ct_depth = c->depth;
	ct.ct_batch = c->batch;
	ct.ct_misalign = c->misalign;
	ct.ct_offset = c->offset;
	if (run(&ct, what) != 0)
		goto out;
	switch (c->want.kind) {
	case KQC_W_ERRNO:
		tap_ok(ct.ct_error == c->want.err && ct.ct_submitted == 0,
		    "%s: %s, nothing submitted", what,
		    kqt_errname(c->want.err));
		break;
	case KQC_W_FIRST:
		tap_ok(ct.ct_submitted == 0 &&
		    ct.ct_first_error == c->want.err, "%s: every request "
		    "refused with %s, nothing submitted", what,
		    kqt_errname(c->want.err));
		break;
	case KQC_W_OK:
		tap_bail("%s: `ok` is no consumer expectation", what);
	case KQC_W_DONE:
		total = c->want.done * c->len;
		tap_ok(all_completed(&ct, (uint32_t)c->want.done),
		    "%s: %ju requests, each completed once", what,
		    (uintmax_t)c->want.done);
		if (c->op == KQDAFS_CTEST_FSYNC)
			break;
		tap_ok(ct.ct_bytes == total && ct.ct_mismatch == 0,
		    "%s: every byte moved%s", what,
		    c->op == KQDAFS_CTEST_READ ? " matches the pattern" : "");
		if (c->op == KQDAFS_CTEST_READ)
			mode_checks(c, &ct, c0, what);
		if (c->op != KQDAFS_CTEST_WRITE)
			break;
		if ((buf = malloc(total)) == NULL)
			tap_bail("malloc");
		got = pread(cfd, buf, total, c->offset);
		tap_ok(got == (ssize_t)total &&
		    kqt_check(buf, c->offset, total) == -1,
		    "%s: the file holds the pattern the module wrote", what);
		free(buf);
		break;
	}
out:
	if (own)
		close(cfd);
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

int
main(int argc, char **argv)
{
	size_t i;
	int slow;

	tap_init("upcall_modes");
	fd = kqt_file_args(argc, argv, "upcall_modes", &slow, &fsize);
	if (fsize < 4096 + (off_t)NREQ * RLEN)
		tap_bail("%s is smaller than %d bytes", argv[1],
		    4096 + NREQ * RLEN);
	fpath = argv[1];
	snprintf(wpath, sizeof(wpath), "%s.w", argv[1]);
	kqt_require_ctest();

	for (i = 0; i < nitems(kqc_ctest_cases); i++)
		run_case(&kqc_ctest_cases[i]);
	test_depth();
	tap_ok(kqt_counter("kern.kqdafs.consumers") == 0,
	    "no consumer left (kern.kqdafs.consumers 0)");
	tap_ok(kqt_wait_inflight(0, 30), "nothing left in flight");
	unlink(wpath);
	close(fd);
	return (tap_done());
}
