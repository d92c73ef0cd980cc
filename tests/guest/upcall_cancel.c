/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * upcall_cancel FILE [slow]: cancellation and destroy with requests in
 * flight, through the kernel consumer test module
 * (kqdafs_consumer_test.ko).  FILE is at least 32 MiB, not cached past
 * its first 8 MiB (with "slow", on a UFS behind a gnop(8) provider that
 * delays every read: reads are certainly in flight when cancelled, and
 * the checks that need it are strict).  Each run reads its own 4 MiB
 * region from 8 MiB on.  In each delivery mode:
 *   - cancel every request: each kqdafs_cancel answers 0, EALREADY or
 *     ENOENT; every request completes exactly once; exactly the
 *     cancelled ones carry -ECANCELED (strict: some were cancelled);
 *   - destroy with requests in flight: destroy returns having waited for
 *     them (no timeout, nothing unknown or repeated); with upcalls, every
 *     request's completion was delivered before destroy returned;
 *   - afterwards: no consumer, nothing in flight.
 * TAP on stdout.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"
#include "../../consumer/kqdafs_ctest.h"

#define	NREQ	64
#define	RLEN	(64 * 1024)

static int fd, slow;
static off_t fsize;
static int64_t next_region = 8 * 1024 * 1024;

static int
run(struct kqdafs_ctest *ct, const char *what)
{

	if (kqt_ctest_run(ct, what) != 0)
		return (-1);
	tap_diag("%s: error %d first_error %d submitted %u completed %u "
	    "cancelled %u failed %u cancel 0/%u EALREADY/%u ENOENT/%u "
	    "bad %u timeout %u", what, ct->ct_error, ct->ct_first_error,
	    ct->ct_submitted, ct->ct_completed, ct->ct_cancelled,
	    ct->ct_failed, ct->ct_cancel_ok, ct->ct_cancel_already,
	    ct->ct_cancel_noent, ct->ct_bad, ct->ct_timeout);
	return (0);
}

static void
prepare(struct kqdafs_ctest *ct, int mode, int op)
{

	kqt_ctest_init(ct, fd, mode, op, NREQ, RLEN);
	ct->ct_offset = next_region;
	next_region += (int64_t)NREQ * RLEN;
	ct->ct_depth = NREQ;
}

static void
test_cancel(int mode)
{
	struct kqdafs_ctest ct;
	char what[64];

	snprintf(what, sizeof(what), "%s cancel", kqt_ctest_mode(mode));
	prepare(&ct, mode, KQDAFS_CTEST_CANCEL);
	if (run(&ct, what) != 0)
		return;
	tap_ok(ct.ct_error == 0 && ct.ct_submitted == NREQ,
	    "%s: %d reads submitted", what, NREQ);
	tap_ok(ct.ct_cancel_ok + ct.ct_cancel_already + ct.ct_cancel_noent ==
	    ct.ct_submitted, "%s: every cancel answered 0, EALREADY or "
	    "ENOENT", what);
	tap_ok(ct.ct_completed == ct.ct_submitted && ct.ct_bad == 0 &&
	    ct.ct_timeout == 0, "%s: every request completed exactly once",
	    what);
	tap_ok(ct.ct_cancelled == ct.ct_cancel_ok && ct.ct_failed == 0,
	    "%s: exactly the cancelled ones carry -ECANCELED", what);
	if (slow)
		tap_ok(ct.ct_cancel_ok > 0, "%s: some reads in flight were "
		    "cancelled (slow device)", what);
	else
		tap_skip("no slow device", "%s: some reads in flight were "
		    "cancelled", what);
}

static void
test_destroy(int mode)
{
	struct kqdafs_ctest ct;
	char what[64];

	snprintf(what, sizeof(what), "%s destroy in flight",
	    kqt_ctest_mode(mode));
	prepare(&ct, mode, KQDAFS_CTEST_DESTROY);
	if (run(&ct, what) != 0)
		return;
	tap_ok(ct.ct_error == 0 && ct.ct_submitted == NREQ && ct.ct_bad == 0,
	    "%s: submitted, nothing unknown or repeated", what);
	if (mode == 3)
		tap_ok(ct.ct_completed == 0, "%s: unpolled completions "
		    "dropped, no upcall", what);
	else
		tap_ok(ct.ct_completed == ct.ct_submitted &&
		    ct.ct_failed == 0, "%s: every completion delivered before "
		    "destroy returned (%u cancelled)", what, ct.ct_cancelled);
	tap_ok(kqt_counter("kern.kqdafs.consumers") == 0,
	    "%s: consumer gone", what);
}

int
main(int argc, char **argv)
{
	int mode;

	tap_init("upcall_cancel");
	fd = kqt_file_args(argc, argv, "upcall_cancel", &slow, &fsize);
	if (fsize < next_region + 6 * (off_t)NREQ * RLEN)
		tap_bail("%s is smaller than %jd bytes", argv[1],
		    (intmax_t)(next_region + 6 * (off_t)NREQ * RLEN));
	kqt_require_ctest();
	tap_diag("%s, %s device", argv[1], slow ? "slow" : "normal");
	for (mode = 1; mode <= 3; mode++) {
		test_cancel(mode);
		test_destroy(mode);
	}
	tap_ok(kqt_wait_inflight(0, 30), "nothing left in flight");
	close(fd);
	return (tap_done());
}
