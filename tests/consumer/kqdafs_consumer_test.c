/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs_consumer_test: a test-only kernel consumer of kqdafs_kapi(9).  It
 * depends on kqdafs (MODULE_DEPEND), and runs one test per write of
 * sysctl debug.kqdafs_ctest.run (struct kqdafs_ctest, kqdafs_ctest.h):
 * it takes the caller's descriptor ct_fd (fget, in the caller's context),
 * creates a consumer with the requested delivery mode, submits KAIO
 * requests on kernel buffers from malloc(9), waits for every completion
 * (upcalls or polling), destroys the consumer, and reports counts, bytes
 * and the data checks.  Buffers are freed only after the consumer is
 * destroyed, which waits for all of its I/O.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/errno.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mutex.h>
#include <sys/proc.h>
#include <sys/capsicum.h>
#include <sys/file.h>
#include <sys/filedesc.h>
#include <sys/sysctl.h>

#include "kqdafs_kapi.h"
#include "kqdafs_ctest.h"

static MALLOC_DEFINE(M_CTEST, "kqdafs_ctest", "kqdafs consumer test");

/* Longest wait for the completions of one run. */
#define	CTEST_WAIT_SECONDS	60

struct ctest_req {
	uint64_t	 cr_id;
	char		*cr_buf;	/* malloc'd: ct_misalign + ct_len */
	int64_t		 cr_data;
	int		 cr_submitted;
	int		 cr_done;
};

struct ctest_run {
	struct mtx		 cr_mtx;	/* protects everything below */
	struct kqdafs_ctest	 cr_ct;
	struct ctest_req	*cr_reqs;
	u_int			 cr_ndone;
	u_int			 cr_nsubmitted;
};

/* One completion; cr_mtx held.  Never sleeps. */
static void
ctest_record(struct ctest_run *run, const struct kqdafs_completion *c)
{
	struct kqdafs_ctest *ct;
	struct ctest_req *r;

	ct = &run->cr_ct;
	if (c->kc_cookie >= ct->ct_count) {
		ct->ct_bad++;
		return;
	}
	r = &run->cr_reqs[c->kc_cookie];
	if (r->cr_done || (r->cr_submitted && r->cr_id != c->kc_id)) {
		ct->ct_bad++;
		return;
	}
	r->cr_done = 1;
	r->cr_data = c->kc_data;
	run->cr_ndone++;
	ct->ct_completed++;
	if (c->kc_data >= 0)
		ct->ct_bytes += (uint64_t)c->kc_data;
	else if (c->kc_data == -ECANCELED)
		ct->ct_cancelled++;
	else {
		ct->ct_failed++;
		if (ct->ct_first_error == 0)
			ct->ct_first_error = (int32_t)-c->kc_data;
	}
}

/* DIRECT (completion context: no sleeping) and DELAYED upcalls. */
static void
ctest_upcall(void *arg, const struct kqdafs_completion *c, u_int n)
{
	struct ctest_run *run;
	u_int i;

	run = arg;
	mtx_lock(&run->cr_mtx);
	run->cr_ct.ct_upcalls++;
	if (n > run->cr_ct.ct_max_batch)
		run->cr_ct.ct_max_batch = n;
	for (i = 0; i < n; i++)
		ctest_record(run, &c[i]);
	wakeup(run);
	mtx_unlock(&run->cr_mtx);
}

/* Wait for the completion of every submitted request. */
static void
ctest_wait(struct ctest_run *run, struct kqdafs_consumer *kc)
{
	struct kqdafs_completion c[16];
	u_int i, n;
	int waited;

	waited = 0;
	mtx_lock(&run->cr_mtx);
	while (run->cr_ndone < run->cr_nsubmitted) {
		if (waited >= CTEST_WAIT_SECONDS * 10) {
			run->cr_ct.ct_timeout = 1;
			break;
		}
		if (run->cr_ct.ct_mode == KQDAFS_DELIVER_POLL) {
			mtx_unlock(&run->cr_mtx);
			n = kqdafs_consumer_poll(kc, c, nitems(c));
			mtx_lock(&run->cr_mtx);
			for (i = 0; i < n; i++)
				ctest_record(run, &c[i]);
			if (n > 0)
				continue;
		}
		(void)mtx_sleep(run, &run->cr_mtx, 0, "ctwait",
		    MAX(hz / 10, 1));
		waited++;
	}
	mtx_unlock(&run->cr_mtx);
}

static int
ctest_submit(struct ctest_run *run, struct kqdafs_consumer *kc,
    struct file *fp, u_int i)
{
	struct kqdafs_ctest *ct;
	struct ctest_req *r;
	off_t off;

	ct = &run->cr_ct;
	r = &run->cr_reqs[i];
	off = ct->ct_offset + (off_t)i * ct->ct_len;
	switch (ct->ct_op) {
	case KQDAFS_CTEST_READ:
	case KQDAFS_CTEST_DEPTH:
	case KQDAFS_CTEST_CANCEL:
	case KQDAFS_CTEST_DESTROY:
		return (kqdafs_kaio_read(kc, fp, off,
		    r->cr_buf + ct->ct_misalign, ct->ct_len, i, &r->cr_id));
	case KQDAFS_CTEST_FSYNC:
		return (kqdafs_kaio_fsync(kc, fp, i, &r->cr_id));
	default:
		return (kqdafs_kaio_write(kc, fp, off,
		    r->cr_buf + ct->ct_misalign, ct->ct_len, i, &r->cr_id));
	}
}

static void
ctest_check_reads(struct ctest_run *run)
{
	struct kqdafs_ctest *ct;
	struct ctest_req *r;
	uint64_t off;
	uint8_t b;
	int64_t j;
	u_int i;

	ct = &run->cr_ct;
	for (i = 0; i < ct->ct_count; i++) {
		r = &run->cr_reqs[i];
		if (!r->cr_done || r->cr_data <= 0)
			continue;
		off = (uint64_t)ct->ct_offset + (uint64_t)i * ct->ct_len;
		for (j = 0; j < r->cr_data; j++) {
			b = (uint8_t)r->cr_buf[ct->ct_misalign + j];
			ct->ct_checksum += b;
			if (b != kqdafs_ctest_byte(off + (uint64_t)j))
				ct->ct_mismatch++;
		}
	}
}

static int
ctest_valid(const struct kqdafs_ctest *ct)
{

	if (ct->ct_count == 0 || ct->ct_count > KQDAFS_CTEST_MAX_COUNT ||
	    ct->ct_len > KQDAFS_CTEST_MAX_LEN || ct->ct_misalign >= PAGE_SIZE ||
	    ct->ct_offset < 0 || ct->ct_op < KQDAFS_CTEST_READ ||
	    ct->ct_op > KQDAFS_CTEST_DESTROY)
		return (0);
	return (ct->ct_len > 0 || ct->ct_op == KQDAFS_CTEST_FSYNC);
}

/* One test run; the results go to ct. */
static void
ctest_run(struct thread *td, struct kqdafs_ctest *ct)
{
	struct kqdafs_consumer_args args;
	struct kqdafs_consumer *kc;
	struct ctest_run *run;
	struct file *fp;
	uint64_t off;
	u_int i, j;
	int error;

	if (!ctest_valid(ct)) {
		ct->ct_error = EINVAL;
		return;
	}
	error = fget(td, ct->ct_fd, &cap_no_rights, &fp);
	if (error != 0) {
		ct->ct_error = error;
		return;
	}
	run = malloc(sizeof(*run), M_CTEST, M_WAITOK | M_ZERO);
	mtx_init(&run->cr_mtx, "kqdafs_ctest", NULL, MTX_DEF);
	run->cr_ct = *ct;
	run->cr_reqs = malloc(sizeof(*run->cr_reqs) * ct->ct_count, M_CTEST,
	    M_WAITOK | M_ZERO);
	for (i = 0; i < ct->ct_count; i++) {
		if (ct->ct_len == 0)
			continue;
		run->cr_reqs[i].cr_buf = malloc(ct->ct_misalign + ct->ct_len,
		    M_CTEST, M_WAITOK | M_ZERO);
		if (ct->ct_op != KQDAFS_CTEST_WRITE)
			continue;
		off = (uint64_t)ct->ct_offset + (uint64_t)i * ct->ct_len;
		for (j = 0; j < ct->ct_len; j++)
			run->cr_reqs[i].cr_buf[ct->ct_misalign + j] =
			    (char)kqdafs_ctest_byte(off + j);
	}

	memset(&args, 0, sizeof(args));
	args.ca_name = "kqdafs_ctest";
	args.ca_delivery = ct->ct_mode;
	args.ca_upcall = ct->ct_mode == KQDAFS_DELIVER_POLL ? NULL :
	    ctest_upcall;
	args.ca_arg = run;
	args.ca_depth = ct->ct_depth;
	args.ca_batch = ct->ct_batch;
	error = kqdafs_consumer_create(&args, &kc);
	if (error != 0) {
		run->cr_ct.ct_error = error;
		goto out;
	}

	for (i = 0; i < ct->ct_count; i++) {
		error = ctest_submit(run, kc, fp, i);
		mtx_lock(&run->cr_mtx);
		if (error == 0) {
			run->cr_reqs[i].cr_submitted = 1;
			run->cr_nsubmitted++;
			run->cr_ct.ct_submitted++;
		} else if (error == EAGAIN)
			run->cr_ct.ct_eagain++;
		else if (run->cr_ct.ct_first_error == 0)
			run->cr_ct.ct_first_error = error;
		mtx_unlock(&run->cr_mtx);
	}
	if (ct->ct_op == KQDAFS_CTEST_CANCEL) {
		for (i = 0; i < ct->ct_count; i++) {
			if (!run->cr_reqs[i].cr_submitted)
				continue;
			error = kqdafs_cancel(kc, run->cr_reqs[i].cr_id);
			mtx_lock(&run->cr_mtx);
			if (error == 0)
				run->cr_ct.ct_cancel_ok++;
			else if (error == EALREADY)
				run->cr_ct.ct_cancel_already++;
			else
				run->cr_ct.ct_cancel_noent++;
			mtx_unlock(&run->cr_mtx);
		}
	}
	if (ct->ct_op != KQDAFS_CTEST_DESTROY)
		ctest_wait(run, kc);
	/* Waits for every request; afterwards no upcall runs. */
	kqdafs_consumer_destroy(kc);
	if (ct->ct_op == KQDAFS_CTEST_READ)
		ctest_check_reads(run);
out:
	*ct = run->cr_ct;
	for (i = 0; i < ct->ct_count; i++)
		free(run->cr_reqs[i].cr_buf, M_CTEST);
	free(run->cr_reqs, M_CTEST);
	mtx_destroy(&run->cr_mtx);
	free(run, M_CTEST);
	fdrop(fp, td);
}

static int
ctest_sysctl_run(SYSCTL_HANDLER_ARGS)
{
	struct kqdafs_ctest ct;
	int error;

	if (req->newptr == NULL || req->newlen != sizeof(ct))
		return (EINVAL);
	error = SYSCTL_IN(req, &ct, sizeof(ct));
	if (error != 0)
		return (error);
	ctest_run(req->td, &ct);
	return (SYSCTL_OUT(req, &ct, sizeof(ct)));
}

static SYSCTL_NODE(_debug, OID_AUTO, kqdafs_ctest, CTLFLAG_RD | CTLFLAG_MPSAFE,
    0, "kqdafs consumer test");
SYSCTL_PROC(_debug_kqdafs_ctest, OID_AUTO, run,
    CTLTYPE_OPAQUE | CTLFLAG_RW | CTLFLAG_MPSAFE, NULL, 0, ctest_sysctl_run,
    "S,kqdafs_ctest", "run one consumer test (struct kqdafs_ctest)");

static int
ctest_modevent(module_t mod __unused, int what, void *arg __unused)
{

	switch (what) {
	case MOD_LOAD:
	case MOD_UNLOAD:
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t ctest_mod = {
	"kqdafs_consumer_test",
	ctest_modevent,
	NULL
};

DECLARE_MODULE(kqdafs_consumer_test, ctest_mod, SI_SUB_DRIVERS,
    SI_ORDER_MIDDLE);
MODULE_VERSION(kqdafs_consumer_test, 1);
MODULE_DEPEND(kqdafs_consumer_test, kqdafs, KQDAFS_KAPI_VERSION,
    KQDAFS_KAPI_VERSION, KQDAFS_KAPI_VERSION);
