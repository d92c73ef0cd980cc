/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * upcall_rdma: RDMA through the kernel consumer API (kqdafs_kapi(9)),
 * driven through the test module kqdafs_consumer_test.ko
 * (KQDAFS_CTEST_RDMA*, tests/consumer/kqdafs_ctest.h).  In each delivery
 * mode (direct, delayed, poll), with regions that start inside a page
 * and messages that cross pages:
 *   - N SEND/RECV, N WRITE, N READ between two kernel regions: every
 *     request completes once with the bytes it moved and
 *     KQDAFS_EV_RDMA | op, the bytes arrive (pattern compared);
 *   - a waiting RECV cancelled (-ECANCELED); a region busy (EBUSY) while
 *     a RECV waits on it, free once it is cancelled; a SEND longer than
 *     its RECV (-EMSGSIZE, both); a waiting RECV reset by closing the peer
 *     (-ECONNRESET); every synchronous errno check;
 *   - destroy with RECVs waiting, one more refused with EAGAIN at depth:
 *     their -ECANCELED completions delivered before destroy returned
 *     (dropped for a polling consumer);
 *   - over a fake NIC provider the test module registers (its callout
 *     moves the bytes between the page spans and completes the
 *     transfers, kqdafs_rdma_provider(9)): the same transfers through
 *     endpoints bound to its connections, compared; a transfer it fails
 *     (-EIO); -EMSGSIZE; EBUSY deregistration while an endpoint is bound
 *     or a transfer outstanding; EALREADY cancel of a posted transfer;
 *     -ECONNRESET when an endpoint is closed and at destroy; then the
 *     provider deregisters;
 *   - afterwards: no consumer, region, endpoint or provider left.
 * TAP on stdout.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kqt.h"
#include "../../consumer/kqdafs_ctest.h"

#define	NREQ		32
#define	RLEN		(4096 + 123)	/* messages cross pages */
#define	MISALIGN	100


static int
run(struct kqdafs_ctest *ct, const char *what)
{

	if (kqt_ctest_run(ct, what) != 0)
		return (-1);
	tap_diag("%s: error %d first_error %d submitted %u completed %u "
	    "bytes %ju mismatch %ju cancelled %u reset %u msgsize %u "
	    "failed %u eagain %u cancel 0/%u EALREADY/%u ENOENT/%u checks "
	    "%u bad %u (first %d) bad completions %u timeout %u", what,
	    ct->ct_error, ct->ct_first_error, ct->ct_submitted,
	    ct->ct_completed, (uintmax_t)ct->ct_bytes,
	    (uintmax_t)ct->ct_mismatch, ct->ct_cancelled, ct->ct_reset,
	    ct->ct_msgsize, ct->ct_failed, ct->ct_eagain, ct->ct_cancel_ok,
	    ct->ct_cancel_already, ct->ct_cancel_noent, ct->ct_checks,
	    ct->ct_checks_bad, ct->ct_check_first, ct->ct_bad,
	    ct->ct_timeout);
	return (0);
}

static void
prepare(struct kqdafs_ctest *ct, int mode, int op)
{

	kqt_ctest_init(ct, -1, mode, op, NREQ, RLEN);
	ct->ct_misalign = MISALIGN;
	ct->ct_depth = 4 * NREQ;
	ct->ct_batch = 4;
}

static void
test_transfers(int mode)
{
	struct kqdafs_ctest ct;
	char what[64];

	snprintf(what, sizeof(what), "%s rdma", kqt_ctest_mode(mode));
	prepare(&ct, mode, KQDAFS_CTEST_RDMA);
	if (run(&ct, what) != 0)
		return;
	tap_ok(ct.ct_error == 0 && ct.ct_first_error == 0 &&
	    ct.ct_submitted == 4 * NREQ + 5, "%s: %d work requests posted",
	    what, 4 * NREQ + 5);
	tap_ok(ct.ct_completed == ct.ct_submitted && ct.ct_bad == 0 &&
	    ct.ct_timeout == 0, "%s: every request completed exactly once, "
	    "with KQDAFS_EV_RDMA | op", what);
	tap_ok(ct.ct_bytes == 4 * (uint64_t)NREQ * RLEN && ct.ct_mismatch == 0,
	    "%s: SEND/RECV, WRITE, READ moved the pattern", what);
	tap_ok(ct.ct_cancel_ok == 2 && ct.ct_cancelled == 2,
	    "%s: waiting RECVs cancelled: -ECANCELED", what);
	tap_ok(ct.ct_msgsize == 2, "%s: SEND longer than its RECV: "
	    "-EMSGSIZE for both", what);
	tap_ok(ct.ct_reset == 1, "%s: peer closed: waiting RECV gets "
	    "-ECONNRESET", what);
	tap_ok(ct.ct_failed == 0, "%s: no other error", what);
	tap_ok(ct.ct_checks > 40 && ct.ct_checks_bad == 0,
	    "%s: %u errno checks (EINVAL, ENOENT, ENOTCONN, EACCES, EFAULT, "
	    "EBUSY) all as specified", what, ct.ct_checks);
	tap_ok(kqt_counter("kern.kqdafs.consumers") == 0, "%s: consumer gone",
	    what);
}

static void
test_destroy(int mode)
{
	struct kqdafs_ctest ct;
	char what[64];

	snprintf(what, sizeof(what), "%s rdma destroy", kqt_ctest_mode(mode));
	prepare(&ct, mode, KQDAFS_CTEST_RDMA_DESTROY);
	if (run(&ct, what) != 0)
		return;
	tap_ok(ct.ct_error == 0 && ct.ct_submitted == NREQ &&
	    ct.ct_eagain == 1, "%s: %d RECVs waiting, one more EAGAIN at depth",
	    what, NREQ);
	if (mode == 3)
		tap_ok(ct.ct_completed == 0 && ct.ct_bad == 0,
		    "%s: unpolled completions dropped, no upcall", what);
	else
		tap_ok(ct.ct_completed == NREQ && ct.ct_cancelled +
		    ct.ct_reset == NREQ && ct.ct_bad == 0, "%s: every waiting "
		    "RECV's completion delivered before destroy returned", what);
	tap_ok(kqt_counter("kern.kqdafs.consumers") == 0, "%s: consumer gone",
	    what);
}

static void
test_nic(int mode)
{
	struct kqdafs_ctest ct;
	char what[64];

	snprintf(what, sizeof(what), "%s nic", kqt_ctest_mode(mode));
	prepare(&ct, mode, KQDAFS_CTEST_NIC);
	if (run(&ct, what) != 0)
		return;
	tap_ok(ct.ct_error == 0 && ct.ct_submitted == 4 * NREQ + 5,
	    "%s: provider registered, %d work requests posted", what,
	    4 * NREQ + 5);
	tap_ok(ct.ct_completed == ct.ct_submitted - (mode == 3 ? 1 : 0) &&
	    ct.ct_bad == 0 && ct.ct_timeout == 0, "%s: every request "
	    "completed once from the driver's callout%s", what,
	    mode == 3 ? " (the one reset at destroy not polled)" : "");
	tap_ok(ct.ct_bytes == 4 * (uint64_t)NREQ * RLEN && ct.ct_mismatch == 0,
	    "%s: SEND/RECV, WRITE, READ moved the pattern", what);
	tap_ok(ct.ct_failed == 1 && ct.ct_first_error == EIO,
	    "%s: the transfer the driver failed: -EIO", what);
	tap_ok(ct.ct_msgsize == 2, "%s: -EMSGSIZE for both", what);
	tap_ok(ct.ct_reset == (mode == 3 ? 1u : 2u), "%s: -ECONNRESET on "
	    "close%s", what, mode == 3 ? "" : " and at destroy");
	tap_ok(ct.ct_cancel_already == 1 && ct.ct_cancelled == 0,
	    "%s: a posted transfer cannot be cancelled (EALREADY)", what);
	tap_ok(ct.ct_checks_bad == 0, "%s: %u checks (EEXIST, EINVAL, "
	    "ENOENT, ECONNREFUSED, EBUSY twice, one binding per "
	    "connection, rebinding, deregistration)", what,
	    ct.ct_checks);
	tap_ok(kqt_counter("kern.kqdafs.rdma_providers") == 0,
	    "%s: provider deregistered", what);
}

int
main(void)
{
	int mode;

	tap_init("upcall_rdma");
	kqt_require_ctest();
	for (mode = 1; mode <= 3; mode++) {
		test_transfers(mode);
		test_destroy(mode);
		test_nic(mode);
	}
	tap_ok(kqt_counter("kern.kqdafs.rdma_mrs") == 0 &&
	    kqt_counter("kern.kqdafs.rdma_endpoints") == 0,
	    "no region or endpoint left");
	tap_ok(kqt_wait_inflight(0, 30), "nothing left in flight");
	return (tap_done());
}
