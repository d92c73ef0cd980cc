/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kaio_errno DIR: every per-request errno of KQDAFS_IOC_KAIO_SUBMIT (the
 * table at the top of abi/src/kaio.rs and kqdafs(4) ERRORS), using files in
 * DIR: bad op/flags/reserved, bad or wrong-mode descriptors, Capsicum
 * rights, pipes/sockets/FIFOs, non-regular files, offsets and lengths,
 * buffer addresses and mappings, a kq that is not a kqueue, and the order
 * in which faults are reported.  A refused request has id 0 and delivers no
 * event; the positive controls next to each case must complete.  TAP.
 */

#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/event.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kqt.h"

#define	FILE_SIZE	(256 * 1024)

static struct kqt k;
static uint8_t buf[8192];

/* Submit r alone; it must be refused with want and deliver no event. */
static void
expect(struct kqdafs_kaio_request *r, int want, const char *what)
{
	struct kqdafs_kaio_result res;
	uint32_t sub;
	int e;

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
map(int prot)
{
	void *p;

	p = mmap(NULL, 8192, prot, MAP_ANON | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	return (p);
}

int
main(int argc, char **argv)
{
	struct kqdafs_kaio_request r;
	cap_rights_t rights;
	char path[1024], fifo[1024];
	int closedfd, dirfd, fd, fifofd, kqlim, nullfd, pfd[2], rdfd, sv[2];
	int wrfd, fcap;
	uint8_t *p;
	int e;

	tap_init("kaio_errno");
	if (argc != 2) {
		fprintf(stderr, "usage: kaio_errno DIR\n");
		return (2);
	}
	kqt_open_or_bail(&k);
	snprintf(path, sizeof(path), "%s/kaio_errno.dat", argv[1]);
	if ((e = kqt_make_file(path, FILE_SIZE)) != 0)
		tap_bail("create %s: %s", path, strerror(e));
	if ((fd = open(path, O_RDWR)) < 0 ||
	    (rdfd = open(path, O_RDONLY)) < 0 ||
	    (wrfd = open(path, O_WRONLY)) < 0)
		tap_bail("open %s: %s", path, strerror(errno));
	kqt_require_kaio(&k, fd);

	/* Positive controls. */
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, buf, 4096, 1);
	expect_ok(&r, 4096, "control: read of an O_RDWR file");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, 0, buf, 4096, 1);
	expect_ok(&r, 4096, "control: write of an O_RDWR file");

	/* Rules decided from the request's bytes, in table order. */
	kqt_req(&r, 0, fd, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "op 0");
	kqt_req(&r, KQDAFS_KAIO_FSYNC + 1, fd, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "op 4");
	kqt_req(&r, UINT32_MAX, fd, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "op 0xffffffff");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, buf, 16, 1);
	r.kr_flags = 1;
	expect(&r, EINVAL, "kr_flags 1");
	r.kr_flags = 0x80000000U;
	expect(&r, EINVAL, "kr_flags 0x80000000");
	r.kr_flags = 0;
	r.kr_reserved[0] = 1;
	expect(&r, EINVAL, "kr_reserved[0] nonzero");
	r.kr_reserved[0] = 0;
	r.kr_reserved[1] = 1ULL << 63;
	expect(&r, EINVAL, "kr_reserved[1] nonzero");
	kqt_req(&r, KQDAFS_KAIO_READ, -1, k.kq, 0, buf, 16, 1);
	expect(&r, EBADF, "fd -1");
	kqt_req(&r, KQDAFS_KAIO_READ, INT_MIN, k.kq, 0, buf, 16, 1);
	expect(&r, EBADF, "fd INT_MIN");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, -1, 0, buf, 16, 1);
	expect(&r, EBADF, "kq -1");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, fd, k.kq, 1, NULL, 0, 1);
	expect(&r, EINVAL, "fsync with offset 1");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, fd, k.kq, 0, buf, 0, 1);
	expect(&r, EINVAL, "fsync with a buffer");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, fd, k.kq, 0, NULL, 1, 1);
	expect(&r, EINVAL, "fsync with len 1");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, -1, buf, 16, 1);
	expect(&r, EINVAL, "read at offset -1");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, INT64_MIN, buf, 16, 1);
	expect(&r, EINVAL, "write at offset INT64_MIN");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, INT64_MAX - 10, buf, 4096, 1);
	expect(&r, EINVAL, "offset + len above INT64_MAX");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, INT64_MAX, buf, 1, 1);
	expect(&r, EINVAL, "offset INT64_MAX, len 1");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, buf,
	    KQDAFS_KAIO_MAX_LEN + 1ULL, 1);
	expect(&r, EINVAL, "len 16 MiB + 1");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, 0, buf, UINT64_MAX, 1);
	expect(&r, EINVAL, "len 2^64-1");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, NULL, 16, 1);
	expect(&r, EFAULT, "NULL buffer, len 16");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0,
	    (void *)(uintptr_t)(UINT64_MAX - 100), 4096, 1);
	expect(&r, EFAULT, "buf + len wraps");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0,
	    (void *)(uintptr_t)0xffff800000000000ULL, 4096, 1);
	expect(&r, EFAULT, "buffer in kernel space");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0,
	    (void *)(uintptr_t)0x0000800000000000ULL, 4096, 1);
	expect(&r, EFAULT, "buffer above the user address space");

	/* The first fault wins. */
	kqt_req(&r, 9, -1, -1, -1, NULL, UINT64_MAX, 1);
	r.kr_flags = 1;
	expect(&r, EINVAL, "every fault at once -> op's EINVAL");
	kqt_req(&r, KQDAFS_KAIO_READ, -1, -1, -1, NULL, 16, 1);
	expect(&r, EBADF, "fd -1 and offset -1 -> EBADF first");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, -1, NULL, 16, 1);
	expect(&r, EINVAL, "offset -1 and NULL buffer -> EINVAL first");

	/* Descriptors. */
	closedfd = dup(fd);
	close(closedfd);
	kqt_req(&r, KQDAFS_KAIO_READ, closedfd, k.kq, 0, buf, 16, 1);
	expect(&r, EBADF, "fd not open");
	kqt_req(&r, KQDAFS_KAIO_READ, 100000, k.kq, 0, buf, 16, 1);
	expect(&r, EBADF, "fd 100000 (beyond the table)");
	kqt_req(&r, KQDAFS_KAIO_READ, wrfd, k.kq, 0, buf, 16, 1);
	expect(&r, EBADF, "read of an O_WRONLY descriptor");
	kqt_req(&r, KQDAFS_KAIO_WRITE, rdfd, k.kq, 0, buf, 16, 1);
	expect(&r, EBADF, "write of an O_RDONLY descriptor");
	kqt_req(&r, KQDAFS_KAIO_READ, rdfd, k.kq, 0, buf, 16, 1);
	expect_ok(&r, 16, "control: read of an O_RDONLY descriptor");
	kqt_req(&r, KQDAFS_KAIO_WRITE, wrfd, k.kq, 0, buf, 16, 1);
	expect_ok(&r, 16, "control: write of an O_WRONLY descriptor");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, rdfd, k.kq, 0, NULL, 0, 1);
	expect_ok(&r, 0, "control: fsync of an O_RDONLY descriptor");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, wrfd, k.kq, 0, NULL, 0, 1);
	expect_ok(&r, 0, "control: fsync of an O_WRONLY descriptor");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, rdfd, 0, buf, 16, 1);
	expect(&r, EBADF, "kq is a regular file");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.dev, 0, buf, 16, 1);
	expect(&r, EBADF, "kq is /dev/kqdafs");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, closedfd, 0, buf, 16, 1);
	expect(&r, EBADF, "kq not open");

	/* Capsicum (no capability mode needed for cap_rights_limit). */
	if ((fcap = open(path, O_RDWR)) < 0)
		tap_bail("open: %s", strerror(errno));
	cap_rights_init(&rights, CAP_READ, CAP_WRITE, CAP_FSTAT);
	if (cap_rights_limit(fcap, &rights) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, fcap, k.kq, 0, buf, 16, 1);
	expect(&r, ENOTCAPABLE, "read without CAP_PREAD (CAP_READ only)");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fcap, k.kq, 0, buf, 16, 1);
	expect(&r, ENOTCAPABLE, "write without CAP_PWRITE (CAP_WRITE only)");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, fcap, k.kq, 0, NULL, 0, 1);
	expect(&r, ENOTCAPABLE, "fsync without CAP_FSYNC");
	close(fcap);
	if ((fcap = open(path, O_RDWR)) < 0)
		tap_bail("open: %s", strerror(errno));
	cap_rights_init(&rights, CAP_PREAD);
	if (cap_rights_limit(fcap, &rights) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, fcap, k.kq, 0, buf, 16, 1);
	expect_ok(&r, 16, "control: read with CAP_PREAD only");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fcap, k.kq, 0, buf, 16, 1);
	expect(&r, ENOTCAPABLE, "write with CAP_PREAD only");
	close(fcap);
	if ((fcap = open(path, O_RDWR)) < 0)
		tap_bail("open: %s", strerror(errno));
	cap_rights_init(&rights, CAP_PWRITE, CAP_FSYNC);
	if (cap_rights_limit(fcap, &rights) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_WRITE, fcap, k.kq, 0, buf, 16, 1);
	expect_ok(&r, 16, "control: write with CAP_PWRITE");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, fcap, k.kq, 0, NULL, 0, 1);
	expect_ok(&r, 0, "control: fsync with CAP_FSYNC");
	kqt_req(&r, KQDAFS_KAIO_READ, fcap, k.kq, 0, buf, 16, 1);
	expect(&r, ENOTCAPABLE, "read with CAP_PWRITE|CAP_FSYNC only");
	close(fcap);
	if ((kqlim = kqueue()) < 0)
		tap_bail("kqueue: %s", strerror(errno));
	cap_rights_init(&rights, CAP_KQUEUE_EVENT);
	if (cap_rights_limit(kqlim, &rights) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, fd, kqlim, 0, buf, 16, 1);
	expect(&r, ENOTCAPABLE, "kq without CAP_KQUEUE_CHANGE");
	close(kqlim);

	/* Not seekable: pipe, socket, FIFO. */
	if (pipe(pfd) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		tap_bail("pipe/socketpair: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, pfd[0], k.kq, 0, buf, 16, 1);
	expect(&r, ESPIPE, "read of a pipe");
	kqt_req(&r, KQDAFS_KAIO_WRITE, pfd[1], k.kq, 0, buf, 16, 1);
	expect(&r, ESPIPE, "write of a pipe");
	kqt_req(&r, KQDAFS_KAIO_READ, sv[0], k.kq, 0, buf, 16, 1);
	expect(&r, ESPIPE, "read of a socket");
	kqt_req(&r, KQDAFS_KAIO_FSYNC, sv[1], k.kq, 0, NULL, 0, 1);
	expect(&r, ESPIPE, "fsync of a socket");
	snprintf(fifo, sizeof(fifo), "%s/kaio_errno.fifo", argv[1]);
	unlink(fifo);
	if (mkfifo(fifo, 0600) == -1 ||
	    (fifofd = open(fifo, O_RDWR | O_NONBLOCK)) < 0)
		tap_bail("fifo %s: %s", fifo, strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, fifofd, k.kq, 0, buf, 16, 1);
	expect(&r, ESPIPE, "read of a FIFO");
	close(fifofd);
	unlink(fifo);

	/* Not a regular file. */
	if ((dirfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0 ||
	    (nullfd = open("/dev/null", O_RDWR)) < 0)
		tap_bail("open dir or /dev/null: %s", strerror(errno));
	kqt_req(&r, KQDAFS_KAIO_READ, dirfd, k.kq, 0, buf, 512, 1);
	expect(&r, EINVAL, "read of a directory");
	kqt_req(&r, KQDAFS_KAIO_READ, nullfd, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "read of /dev/null");
	kqt_req(&r, KQDAFS_KAIO_WRITE, nullfd, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "write of /dev/null");
	kqt_req(&r, KQDAFS_KAIO_READ, k.kq, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "read of a kqueue");
	kqt_req(&r, KQDAFS_KAIO_READ, k.dev, k.kq, 0, buf, 16, 1);
	expect(&r, EINVAL, "read of /dev/kqdafs");
	close(dirfd);
	close(nullfd);

	/* Buffer mappings. */
	p = map(PROT_READ | PROT_WRITE);
	munmap(p, 8192);
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, p, 4096, 1);
	expect(&r, EFAULT, "read into an unmapped buffer");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, 0, p, 4096, 1);
	expect(&r, EFAULT, "write from an unmapped buffer");
	p = map(PROT_READ | PROT_WRITE);
	munmap(p + 4096, 4096);
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, p + 4000, 200, 1);
	expect(&r, EFAULT, "read into a buffer running into a hole");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, p + 4000, 96, 1);
	expect_ok(&r, 96, "control: read ending at the hole");
	munmap(p, 4096);
	p = map(PROT_READ);
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, p, 4096, 1);
	expect(&r, EFAULT, "read into a PROT_READ mapping");
	kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, 0, p, 4096, 1);
	expect_ok(&r, 4096, "control: write from a PROT_READ mapping");
	munmap(p, 8192);

	/* Length 0 is accepted whatever the buffer. */
	kqt_req(&r, KQDAFS_KAIO_WRITE, fd, k.kq, 0, NULL, 0, 1);
	expect_ok(&r, 0, "0-byte write with NULL buffer");
	kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0,
	    (void *)(uintptr_t)0xffff800000000000ULL, 0, 1);
	expect_ok(&r, 0, "0-byte read with a kernel-space buffer");
	/* The largest request is allowed. */
	p = mmap(NULL, KQDAFS_KAIO_MAX_LEN, PROT_READ | PROT_WRITE,
	    MAP_ANON | MAP_PRIVATE, -1, 0);
	if (p != MAP_FAILED) {
		kqt_req(&r, KQDAFS_KAIO_READ, fd, k.kq, 0, p,
		    KQDAFS_KAIO_MAX_LEN, 1);
		expect_ok(&r, FILE_SIZE, "read of exactly 16 MiB (short file)");
		munmap(p, KQDAFS_KAIO_MAX_LEN);
	}

	tap_ok(kqt_quiet(k.kq, KQT_QUIET_MS) == 0, "no stray events");
	tap_ok(kqt_wait_inflight(0, 10), "no request left in flight");
	close(fd);
	close(rdfd);
	close(wrfd);
	unlink(path);
	kqt_close(&k);
	return (tap_done());
}
