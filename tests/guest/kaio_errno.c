/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_errno DIR: every per-request errno of KQDAFS_IOC_KAIO_SUBMIT (the
 * table at the top of abi/src/kaio.rs and kqdafs(4) ERRORS), using files in
 * DIR: bad op/flags/reserved, bad or wrong-mode descriptors, Capsicum
 * rights, pipes/sockets/FIFOs, non-regular files, offsets and lengths,
 * buffer addresses and mappings, a kq that is not a kqueue, and the order
 * in which faults are reported.  A refused request has id 0, delivers no
 * event and leaves the file as it was; the positive controls next to each
 * case must complete.  TAP.
 *
 * The cases are the lines of tests/cases/kaio_errno.cases, which the
 * kernel simulation runs too (kaio_errnos); `make` turns the table into
 * kqc_kaio_errno.h.  Only the cases the simulation cannot express are
 * written out here (guest_only()).
 */

#include <sys/param.h>
#include <sys/capsicum.h>
#include <sys/event.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqc_kaio_errno.h"
#include "kqt.h"

#define	FILE_SIZE	KQC_KAIO_FILE_SIZE

static struct kqt k;
static const char *path;
static int pfd[2], sv[2];
static uint8_t *file_before, *file_after;
/* The mappings the table's buffers name (enum kqc_area). */
static uint8_t *a_buf, *a_big, *a_ro, *a_unmapped, *a_edge;

/* The whole test file, into b. */
static void
slurp(uint8_t *b)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		tap_bail("open %s: %s", path, strerror(errno));
	n = pread(fd, b, FILE_SIZE, 0);
	if (n != FILE_SIZE)
		tap_bail("pread %s: %zd", path, n);
	close(fd);
}

/* Submit r alone; it must be refused with want and deliver no event. */
static void
expect(struct kqdafs_kaio_request *r, int want, const char *what)
{
	struct kqdafs_kaio_result res;
	uint32_t sub;
	int e;

	slurp(file_before);
	memset(&res, 0xa5, sizeof(res));
	e = kqt_submit(k.dev, r, &res, 1, &sub);
	if (!tap_ok(e == 0, "%s: the ioctl itself succeeds", what)) {
		tap_diag("ioctl: %s", kqt_errname(e));
		return;
	}
	if (!tap_ok(res.kres_error == want && res.kres_id == 0 && sub == 0,
	    "%s -> %s", what, kqt_errname(want))) {
		tap_diag("got error %s, id %ju, submitted %u",
		    kqt_errname(res.kres_error), (uintmax_t)res.kres_id, sub);
		if (res.kres_error == 0)
			(void)kqt_quiet(r->kr_kq >= 0 ? r->kr_kq : k.kq, 2000);
		return;
	}
	if (kqt_quiet(k.kq, 50) != 0)
		tap_ok(0, "%s: a refused request delivers no event", what);
	slurp(file_after);
	if (memcmp(file_before, file_after, FILE_SIZE) != 0)
		tap_ok(0, "%s: a refused request leaves the file as it was",
		    what);
}

/* Submit r alone; it must be accepted and complete with data want. */
static void
expect_ok(struct kqdafs_kaio_request *r, int64_t want, const char *what)
{
	struct kevent ev;
	int e;

	e = kqt_one(&k, r, &ev);
	if (e < 0)
		return;
	if (!tap_ok(e == 0 && ev.data == want, "%s completes with %jd", what,
	    (intmax_t)want))
		tap_diag("refused with %s / event data %jd", kqt_errname(e),
		    (intmax_t)ev.data);
}

static void *
map(size_t len, int prot)
{
	void *p;

	p = mmap(NULL, len, prot, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	return (p);
}

/*
 * The descriptor d names for a request of op; *own is set when it was
 * opened for the case (the caller closes it).
 */
static int
open_desc(const struct kqc_desc *d, uint32_t op, int *own)
{
	int fd;

	*own = 0;
	switch (d->kind) {
	case KQC_D_NUM:
		return (d->num);
	case KQC_D_CLOSED:
		return (-1);	/* run_case() picks the number */
	case KQC_D_PIPE:
		return (op == KQDAFS_KAIO_READ ? pfd[0] : pfd[1]);
	case KQC_D_SOCKET:
		return (op == KQDAFS_KAIO_READ ? sv[0] : sv[1]);
	case KQC_D_DEV:
		return (k.dev);
	case KQC_D_OPATH:
		fd = open(path, O_PATH);
		break;
	case KQC_D_FILE:
		fd = open(path, d->oflags);
		break;
	case KQC_D_KQ:
		if (!d->limited)
			return (k.kq);
		fd = kqueue();
		break;
	case KQC_D_SCRATCH:
		tap_bail("the KAIO table names a scratch file");
	}
	if (fd < 0)
		tap_bail("open for a case: %s", strerror(errno));
	*own = 1;
	if (d->limited) {
		kqt_limit_rights(fd, d->rights);
	}
	return (fd);
}

static void *
area(const struct kqc_mem *m)
{
	uint8_t *base;

	switch (m->area) {
	case KQC_A_ADDR:
		return ((void *)(uintptr_t)m->off);
	case KQC_A_BUF:
		base = a_buf;
		break;
	case KQC_A_BIG:
		base = a_big;
		break;
	case KQC_A_RO:
		base = a_ro;
		break;
	case KQC_A_UNMAPPED:
		base = a_unmapped;
		break;
	case KQC_A_EDGE:
		base = a_edge;
		break;
	case KQC_A_MEM:
	case KQC_A_ARRAY:
		tap_bail("the KAIO table names an RDMA area");
	}
	return (base + m->off);
}

/* One line of tests/cases/kaio_errno.cases. */
static void
run_case(const struct kqc_kaio_case *c)
{
	struct kqdafs_kaio_request r;
	char what[256];
	int closedfd, fd, kq, fd_own, kq_own;

	snprintf(what, sizeof(what), "%s (kaio_errno.cases:%d)", c->what,
	    c->line);
	if (c->buf.area == KQC_A_BIG && a_big == NULL) {
		tap_skip("no 16 MiB mapping", "%s", what);
		return;
	}
	fd = open_desc(&c->fd, c->op, &fd_own);
	kq = open_desc(&c->kq, c->op, &kq_own);
	/* A number nothing has open: after the case's own opens. */
	if ((closedfd = dup(k.kq)) < 0 || close(closedfd) == -1)
		tap_bail("dup/close: %s", strerror(errno));
	if (c->fd.kind == KQC_D_CLOSED)
		fd = closedfd;
	if (c->kq.kind == KQC_D_CLOSED)
		kq = closedfd;
	kqt_req(&r, c->op, fd, kq, c->off, area(&c->buf), c->len, c->line);
	r.kr_flags = c->flags;
	r.kr_reserved[0] = c->reserved[0];
	r.kr_reserved[1] = c->reserved[1];
	switch (c->want.kind) {
	case KQC_W_ERRNO:
		expect(&r, c->want.err, what);
		break;
	case KQC_W_DONE:
		expect_ok(&r, (int64_t)c->want.done, what);
		break;
	case KQC_W_OK:
	case KQC_W_FIRST:
		tap_bail("%s: no KAIO expectation", what);
	}
	if (fd_own)
		close(fd);
	if (kq_own)
		close(kq);
}

/*
 * What the simulation cannot express, so the table cannot hold it: its
 * model has no FIFO, no directory vnode and no character device but
 * /dev/kqdafs (docs/kernsim.md, "Scenarios").
 */
static void
guest_only(const char *dir)
{
	struct kqdafs_kaio_request r;
	char fifo[1024];
	int dirfd, fifofd, nullfd;

	snprintf(fifo, sizeof(fifo), "%s/kaio_errno.fifo", dir);
	unlink(fifo);
	if (mkfifo(fifo, 0600) == -1 ||
	    (fifofd = open(fifo, O_RDWR | O_NONBLOCK)) < 0)
		tap_bail("fifo %s: %s", fifo, strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, fifofd, k.kq, 0, a_buf, 16, 1);
	expect(&r, ESPIPE, "read of a FIFO");
	close(fifofd);
	unlink(fifo);

	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (nullfd = open("/dev/null", O_RDWR)) < 0)
		tap_bail("open dir or /dev/null: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, dirfd, k.kq, 0, a_buf, 512, 1);
	expect(&r, EINVAL, "read of a directory");
	kqt_req(&r, KQDAFS_KAIO_READ, nullfd, k.kq, 0, a_buf, 16, 1);
	expect(&r, EINVAL, "read of /dev/null");
	kqt_req(&r, KQDAFS_KAIO_WRITE, nullfd, k.kq, 0, a_buf, 16, 1);
	expect(&r, EINVAL, "write of /dev/null");
	close(dirfd);
	close(nullfd);
}

int
main(int argc, char **argv)
{
	char pathbuf[1024];
	size_t i;
	int e;

	tap_init("kaio_errno");
	if (argc != 2) {
		fprintf(stderr, "usage: kaio_errno DIR\n");
		return (2);
	}
	kqt_open_or_bail(&k);
	snprintf(pathbuf, sizeof(pathbuf), "%s/kaio_errno.dat", argv[1]);
	path = pathbuf;
	if ((e = kqt_make_file(path, FILE_SIZE)) != 0)
		tap_bail("create %s: %s", path, strerror(e));
	if ((file_before = malloc(FILE_SIZE)) == NULL ||
	    (file_after = malloc(FILE_SIZE)) == NULL)
		tap_bail("malloc");
	{
		int fd;

		if ((fd = open(path, O_RDWR)) < 0)
			tap_bail("open %s: %s", path, strerror(errno));
		kqt_require_kaio(&k, fd);
		close(fd);
	}
	if (pipe(pfd) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		tap_bail("pipe/socketpair: %s", strerror(errno));
	a_buf = map(8192, PROT_READ | PROT_WRITE);
	a_ro = map(8192, PROT_READ);
	a_unmapped = map(8192, PROT_READ | PROT_WRITE);
	munmap(a_unmapped, 8192);
	/* One page with nothing mapped after it. */
	a_edge = map(8192, PROT_READ | PROT_WRITE);
	munmap(a_edge + 4096, 4096);
	a_big = mmap(NULL, KQDAFS_KAIO_MAX_LEN, PROT_READ | PROT_WRITE,
	    MAP_ANON | MAP_PRIVATE, -1, 0);
	if (a_big == MAP_FAILED)
		a_big = NULL;

	for (i = 0; i < nitems(kqc_kaio_cases); i++)
		run_case(&kqc_kaio_cases[i]);
	guest_only(argv[1]);

	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no stray events");
	tap_ok(kqt_wait_inflight(0, 10), "no request left in flight");
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
	unlink(path);
	kqt_close(&k);
	return (tap_done());
}
