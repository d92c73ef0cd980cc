/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqt.c: shared helpers of the in-guest KAIO test programs; see kqt.h.
 */

#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../consumer/kqdafs_ctest.h"
#include "kqt.h"

static int tap_n;
static int tap_failed;
static const char *tap_prog = "kqt";

void
tap_init(const char *prog)
{

	tap_prog = prog;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# %s (pid %d)\n", prog, (int)getpid());
}

static void
vdiag(const char *fmt, va_list ap)
{
	char buf[1024], *line, *next;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = buf; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		printf("#   %s\n", line);
	}
}

int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	char name[512];

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	tap_n++;
	if (cond)
		printf("ok %d - %s\n", tap_n, name);
	else {
		tap_failed++;
		printf("not ok %d - %s\n", tap_n, name);
	}
	return (cond);
}

void
tap_skip(const char *why, const char *fmt, ...)
{
	va_list ap;
	char name[512];

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	tap_n++;
	printf("ok %d - %s # SKIP %s\n", tap_n, name, why);
}

void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

void
tap_bail(const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("Bail out! %s: %s\n", tap_prog, msg);
	fflush(stdout);
	exit(2);
}

int
tap_failures(void)
{

	return (tap_failed);
}

int
tap_done(void)
{

	printf("1..%d\n", tap_n);
	if (tap_failed != 0)
		printf("# %s: %d of %d checks failed\n", tap_prog, tap_failed,
		    tap_n);
	else
		printf("# %s: all %d checks passed\n", tap_prog, tap_n);
	fflush(stdout);
	return (tap_failed != 0 ? 1 : 0);
}

/* ---- device ---- */

int
kqt_open(struct kqt *k)
{

	memset(k, 0, sizeof(*k));
	k->kq = -1;
	k->dev = open(KQDAFS_DEVICE, O_RDWR | O_CLOEXEC);
	if (k->dev < 0)
		return (errno);
	if (ioctl(k->dev, KQDAFS_IOC_INFO, &k->info) == -1) {
		int e = errno;

		close(k->dev);
		k->dev = -1;
		return (e);
	}
	k->filt = k->info.kqi_filter_kaio;
	k->kq = kqueue();
	if (k->kq < 0) {
		int e = errno;

		close(k->dev);
		k->dev = -1;
		return (e);
	}
	return (0);
}

void
kqt_open_or_bail(struct kqt *k)
{
	int e;

	if ((e = kqt_open(k)) != 0)
		tap_bail("cannot open %s / KQDAFS_IOC_INFO / kqueue: %s",
		    KQDAFS_DEVICE, strerror(e));
	if (k->info.kqi_abi_version != KQDAFS_ABI_VERSION)
		tap_bail("ABI version %u, this program speaks %d",
		    k->info.kqi_abi_version, KQDAFS_ABI_VERSION);
}

/*
 * Limit fd to the rights in the 0-terminated list (cap_rights_limit(2));
 * bail out if the kernel refuses.
 */
void
kqt_limit_rights(int fd, const uint64_t *rights)
{
	cap_rights_t r;
	int i;

	cap_rights_init(&r);
	for (i = 0; rights[i] != 0; i++)
		cap_rights_set(&r, rights[i]);
	if (cap_rights_limit(fd, &r) == -1)
		tap_bail("cap_rights_limit: %s", strerror(errno));
}

int
kqt_open_file(const char *path, off_t *sizep)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &st) == -1)
		tap_bail("open %s: %s", path, strerror(errno));
	*sizep = st.st_size;
	return (fd);
}

int
kqt_file_args(int argc, char **argv, const char *prog, int *slowp,
    off_t *sizep)
{

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "slow"))) {
		fprintf(stderr, "usage: %s FILE [slow]\n", prog);
		exit(2);
	}
	*slowp = argc == 3;
	return (kqt_open_file(argv[1], sizep));
}

void
kqt_close(struct kqt *k)
{

	if (k->kq >= 0)
		close(k->kq);
	if (k->dev >= 0)
		close(k->dev);
	k->kq = k->dev = -1;
}

/* ---- requests ---- */

void
kqt_req(struct kqdafs_kaio_request *r, uint32_t op, int fd, int kq,
    int64_t off, const void *buf, uint64_t len, uint64_t udata)
{

	memset(r, 0, sizeof(*r));
	r->kr_op = op;
	r->kr_fd = fd;
	r->kr_kq = kq;
	r->kr_offset = off;
	r->kr_buf = (uint64_t)(uintptr_t)buf;
	r->kr_len = len;
	r->kr_udata = udata;
}

int
kqt_submit(int dev, struct kqdafs_kaio_request *reqs,
    struct kqdafs_kaio_result *res, uint32_t n, uint32_t *submitted)
{
	struct kqdafs_kaio_submit s;

	memset(&s, 0, sizeof(s));
	s.ks_reqs = (uint64_t)(uintptr_t)reqs;
	s.ks_results = (uint64_t)(uintptr_t)res;
	s.ks_count = n;
	s.ks_submitted = UINT32_MAX;
	if (ioctl(dev, KQDAFS_IOC_KAIO_SUBMIT, &s) == -1)
		return (errno);
	if (submitted != NULL)
		*submitted = s.ks_submitted;
	return (0);
}

int
kqt_cancel(int dev, uint64_t id, int32_t *result)
{
	struct kqdafs_kaio_cancel c;

	memset(&c, 0, sizeof(c));
	c.kc_id = id;
	c.kc_result = -1;
	if (ioctl(dev, KQDAFS_IOC_KAIO_CANCEL, &c) == -1)
		return (errno);
	*result = c.kc_result;
	return (0);
}

int
kqt_collect(int kq, struct kevent *evs, int want, int ms)
{
	struct timespec ts;
	uint64_t end, now;
	int got, n;

	got = 0;
	end = kqt_now_us() + (uint64_t)ms * 1000;
	while (got < want) {
		now = kqt_now_us();
		if (now >= end)
			break;
		ts.tv_sec = (end - now) / 1000000;
		ts.tv_nsec = ((end - now) % 1000000) * 1000;
		n = kevent(kq, NULL, 0, evs + got, want - got, &ts);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			tap_diag("kevent: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		got += n;
	}
	return (got);
}

int
kqt_quiet(int kq, int ms)
{
	struct kevent ev[16];
	int i, n;

	n = kqt_collect(kq, ev, 16, ms);
	for (i = 0; i < n; i++)
		tap_diag("unexpected event: ident %ju filter %d flags %#x "
		    "fflags %#x data %jd udata %p", (uintmax_t)ev[i].ident,
		    ev[i].filter, ev[i].flags, ev[i].fflags,
		    (intmax_t)ev[i].data, ev[i].udata);
	return (n);
}

/*
 * The checks every completion event gets: filter, ident, udata and
 * fflags.  1 when all hold; diagnoses each that does not.
 */
static int
ev_check_common(const struct kevent *ev, short filt, uint64_t id,
    uint64_t udata, u_int fflags)
{
	int good = 1;

	if (ev->filter != filt) {
		tap_diag("event filter %d, expected %d", ev->filter, filt);
		good = 0;
	}
	if ((uint64_t)ev->ident != id) {
		tap_diag("event ident %ju, expected id %ju",
		    (uintmax_t)ev->ident, (uintmax_t)id);
		good = 0;
	}
	if ((uint64_t)(uintptr_t)ev->udata != udata) {
		tap_diag("event udata %p, expected %#jx", ev->udata,
		    (uintmax_t)udata);
		good = 0;
	}
	if (ev->fflags != fflags) {
		tap_diag("event fflags %#x, expected %#x", ev->fflags, fflags);
		good = 0;
	}
	return (good);
}

int
kqt_ev_check(const struct kqt *k, const struct kevent *ev, uint32_t op,
    uint64_t id, uint64_t udata)
{
	int good;

	good = ev_check_common(ev, k->filt, id, udata,
	    (u_int)KQDAFS_KAIO_FFLAGS(op));
	if ((ev->flags & EV_ERROR) != 0) {
		tap_diag("event has EV_ERROR (flags %#x, data %jd)",
		    ev->flags, (intmax_t)ev->data);
		good = 0;
	}
	return (good);
}

int
kqt_one(struct kqt *k, struct kqdafs_kaio_request *r, struct kevent *ev)
{
	struct kqdafs_kaio_result res;
	uint32_t sub;
	int e;

	memset(&res, 0xa5, sizeof(res));
	memset(ev, 0, sizeof(*ev));
	if ((e = kqt_submit(k->dev, r, &res, 1, &sub)) != 0) {
		tap_ok(0, "submit ioctl of one request succeeds");
		tap_diag("KQDAFS_IOC_KAIO_SUBMIT: %s", strerror(e));
		return (-1);
	}
	if (res.kres_error != 0) {
		if (res.kres_id != 0 || sub != 0) {
			tap_ok(0, "refused request has id 0 and submitted 0");
			tap_diag("error %d id %ju submitted %u",
			    res.kres_error, (uintmax_t)res.kres_id, sub);
			return (-1);
		}
		return (res.kres_error);
	}
	if (res.kres_id == 0 || sub != 1) {
		tap_ok(0, "accepted request has an id and submitted 1");
		tap_diag("id %ju submitted %u", (uintmax_t)res.kres_id, sub);
		return (-1);
	}
	if (kqt_collect(r->kr_kq, ev, 1, KQT_EVENT_TIMEOUT_MS) != 1) {
		tap_ok(0, "event of request %ju arrives",
		    (uintmax_t)res.kres_id);
		return (-1);
	}
	if (!kqt_ev_check(k, ev, r->kr_op, res.kres_id, r->kr_udata)) {
		tap_ok(0, "event of request %ju is well-formed",
		    (uintmax_t)res.kres_id);
		return (-1);
	}
	return (0);
}

void
kqt_require_kaio(struct kqt *k, int fd)
{
	struct kqdafs_kaio_request r;
	struct kqdafs_kaio_result res;
	struct kevent ev;
	uint32_t sub;
	int e;

	kqt_req(&r, KQDAFS_KAIO_READ, fd, k->kq, 0, NULL, 0, 1);
	e = kqt_submit(k->dev, &r, &res, 1, &sub);
	if (e == EOPNOTSUPP || e == ENOTTY)
		tap_bail("KQDAFS_IOC_KAIO_SUBMIT answers %s: KAIO is not "
		    "implemented by this module", kqt_errname(e));
	if (e != 0)
		tap_bail("probe submit failed: %s", strerror(e));
	if (res.kres_error != 0)
		tap_bail("probe (0-byte read) refused: %s",
		    kqt_errname(res.kres_error));
	if (kqt_collect(k->kq, &ev, 1, KQT_EVENT_TIMEOUT_MS) != 1)
		tap_bail("probe (0-byte read) delivered no event");
}

/* ---- sysctl ---- */

int
kqt_sysctl_get(const char *name, int64_t *v)
{
	union {
		int32_t		i32;
		int64_t		i64;
	} u;
	size_t len;

	len = sizeof(u);
	memset(&u, 0, sizeof(u));
	if (sysctlbyname(name, &u, &len, NULL, 0) == -1)
		return (errno);
	if (len == sizeof(int32_t))
		*v = u.i32;
	else if (len == sizeof(int64_t))
		*v = u.i64;
	else
		return (EINVAL);
	return (0);
}

int
kqt_sysctl_set(const char *name, int64_t v)
{
	int64_t old;
	int32_t v32;
	size_t len;

	len = sizeof(old);
	if (sysctlbyname(name, &old, &len, NULL, 0) == -1)
		return (errno);
	if (len == sizeof(int32_t)) {
		v32 = (int32_t)v;
		if (sysctlbyname(name, NULL, NULL, &v32, sizeof(v32)) == -1)
			return (errno);
	} else if (sysctlbyname(name, NULL, NULL, &v, sizeof(v)) == -1)
		return (errno);
	return (0);
}

int64_t
kqt_inflight(void)
{
	int64_t v;

	if (kqt_sysctl_get(KQT_SYSCTL_INFLIGHT, &v) == 0 ||
	    kqt_sysctl_get(KQT_SYSCTL_INFLIGHT_OLD, &v) == 0)
		return (v);
	return (-1);
}

int
kqt_wait_inflight(int64_t want, int secs)
{
	uint64_t end;

	end = kqt_now_us() + (uint64_t)secs * 1000000;
	for (;;) {
		if (kqt_inflight() == want)
			return (1);
		if (kqt_now_us() >= end)
			return (0);
		usleep(20000);
	}
}

/* ---- stress parents ---- */

/*
 * Count child pid's end.  A SIGKILL counts as killed only where we sent
 * one (killable); elsewhere it is a failure like any other.
 */
static void
tally_status(struct kqt_tally *t, pid_t pid, int status, int killable)
{

	if (killable && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		t->killed++;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		t->clean++;
	else {
		t->failed++;
		tap_diag("child pid %d %sstatus %#x", (int)pid,
		    killable ? "" : "ended early, ", status);
	}
}

/* Fork child number t->spawned, running for secs + 30 s at most. */
static pid_t
spawn(void (*child)(int, int), struct kqt_tally *t, int secs)
{
	pid_t pid;

	if ((pid = fork()) == 0) {
		child(t->spawned, secs + 30);
		_exit(1);		/* not reached */
	}
	t->spawned++;
	return (pid);
}

volatile sig_atomic_t kqt_child_stop;
int kqt_child_idx, kqt_child_fails;

static void
kqt_child_onterm(int sig)
{

	(void)sig;
	kqt_child_stop = 1;
}

void
kqt_child_init(int idx)
{

	kqt_child_idx = idx;
	kqt_srand(((uint64_t)getpid() << 20) ^ kqt_now_us());
	signal(SIGTERM, kqt_child_onterm);
}

void
kqt_stress_run(void (*child)(int idx, int secs), int nprocs, int secs,
    int kill9, struct kqt_tally *t)
{
	pid_t *pids;
	uint64_t end;
	int i, status;

	memset(t, 0, sizeof(*t));
	if ((pids = calloc((size_t)nprocs, sizeof(*pids))) == NULL)
		tap_bail("calloc");
	for (i = 0; i < nprocs; i++)
		pids[i] = spawn(child, t, secs);
	end = kqt_now_us() + (uint64_t)secs * 1000000;
	while (kqt_now_us() < end) {
		usleep(50000 + (useconds_t)(kqt_rand() % 250000));
		/* Reap children that ended on their own (failures). */
		for (i = 0; i < nprocs; i++) {
			if (pids[i] <= 0 ||
			    waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			tally_status(t, pids[i], status, 0);
			pids[i] = spawn(child, t, secs);
		}
		if (kill9 && kqt_rand() % 2 == 0) {
			i = (int)(kqt_rand() % (uint64_t)nprocs);
			if (pids[i] <= 0)
				continue;
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &status, 0);
			tally_status(t, pids[i], status, 1);
			pids[i] = spawn(child, t, secs);
		}
	}
	/* Half drain and check, half die with requests in flight. */
	for (i = 0; i < nprocs; i++) {
		if (kill9 && i % 2 == 1)
			kill(pids[i], SIGKILL);
		else {
			kill(pids[i], SIGTERM);
			t->termed++;
		}
	}
	for (i = 0; i < nprocs; i++) {
		waitpid(pids[i], &status, 0);
		tally_status(t, pids[i], status, 1);
	}
	free(pids);
	tap_diag("%d children: %d clean, %d killed -9, %d failed", t->spawned,
	    t->clean, t->killed, t->failed);
}

/* ---- data ---- */

uint8_t
kqt_pat(uint64_t off)
{

	/* Every byte depends on its whole offset, so a misplaced read shows. */
	return ((uint8_t)(((off + 1) * 0x9e3779b97f4a7c15ULL) >> 56));
}

void
kqt_fill(uint8_t *buf, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = kqt_pat(off + i);
}

int64_t
kqt_check(const uint8_t *buf, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != kqt_pat(off + i))
			return ((int64_t)i);
	return (-1);
}

int
kqt_make_file(const char *path, off_t size)
{
	uint8_t *buf;
	size_t chunk, n;
	off_t off;
	int e, fd;

	chunk = 1 << 20;
	if ((buf = malloc(chunk)) == NULL)
		return (ENOMEM);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		e = errno;
		free(buf);
		return (e);
	}
	e = 0;
	for (off = 0; off < size; off += (off_t)n) {
		n = (size - off) < (off_t)chunk ? (size_t)(size - off) : chunk;
		kqt_fill(buf, (uint64_t)off, n);
		if (pwrite(fd, buf, n, off) != (ssize_t)n) {
			e = errno != 0 ? errno : EIO;
			break;
		}
	}
	if (e == 0 && fsync(fd) == -1)
		e = errno;
	close(fd);
	free(buf);
	return (e);
}

const char *
kqt_errname(int e)
{
	static char other[32];

	switch (e) {
	case 0: return ("0");
	case EINVAL: return ("EINVAL");
	case EBADF: return ("EBADF");
	case EFAULT: return ("EFAULT");
	case ENOTCAPABLE: return ("ENOTCAPABLE");
	case ESPIPE: return ("ESPIPE");
	case EOPNOTSUPP: return ("EOPNOTSUPP");
	case EAGAIN: return ("EAGAIN");
	case ECANCELED: return ("ECANCELED");
	case EALREADY: return ("EALREADY");
	case ENOENT: return ("ENOENT");
	case ENOTTY: return ("ENOTTY");
	case EIO: return ("EIO");
	case ENOMEM: return ("ENOMEM");
	case EPERM: return ("EPERM");
	case EBUSY: return ("EBUSY");
	case EACCES: return ("EACCES");
	case ENOSPC: return ("ENOSPC");
	case ENOTCONN: return ("ENOTCONN");
	case EMSGSIZE: return ("EMSGSIZE");
	case ECONNRESET: return ("ECONNRESET");
	default:
		snprintf(other, sizeof(other), "errno %d", e);
		return (other);
	}
}

static uint64_t kqt_seed = 0x2545f4914f6cdd1dULL;

void
kqt_srand(uint64_t seed)
{

	kqt_seed = seed != 0 ? seed : 1;
}

uint64_t
kqt_rand(void)
{

	/* xorshift64* */
	kqt_seed ^= kqt_seed >> 12;
	kqt_seed ^= kqt_seed << 25;
	kqt_seed ^= kqt_seed >> 27;
	return (kqt_seed * 0x2545f4914f6cdd1dULL);
}

uint64_t
kqt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* ---- kernel consumer test module ---- */

int
kqt_ctest(struct kqdafs_ctest *ct)
{
	size_t len;

	len = sizeof(*ct);
	if (sysctlbyname(KQDAFS_CTEST_SYSCTL, ct, &len, ct, sizeof(*ct)) == -1)
		return (errno);
	return (len == sizeof(*ct) ? 0 : EINVAL);
}

void
kqt_require_ctest(void)
{
	struct kqdafs_ctest probe;

	memset(&probe, 0, sizeof(probe));
	if (kqt_ctest(&probe) == ENOENT)
		tap_bail("%s missing: kqdafs_consumer_test.ko not loaded",
		    KQDAFS_CTEST_SYSCTL);
}

void
kqt_ctest_init(struct kqdafs_ctest *ct, int fd, int mode, int op,
    uint32_t count, uint32_t len)
{

	memset(ct, 0, sizeof(*ct));
	ct->ct_fd = fd;
	ct->ct_mode = mode;
	ct->ct_op = op;
	ct->ct_count = count;
	ct->ct_len = len;
}

int
kqt_ctest_run(struct kqdafs_ctest *ct, const char *what)
{
	int e;

	if ((e = kqt_ctest(ct)) != 0) {
		tap_ok(0, "%s: sysctl %s: %s", what, KQDAFS_CTEST_SYSCTL,
		    strerror(e));
		return (-1);
	}
	return (0);
}

const char *
kqt_ctest_mode(int mode)
{
	static const char *const names[] = { "?", "direct", "delayed",
	    "poll" };

	return (mode >= 1 && mode <= 3 ? names[mode] : names[0]);
}

/* ---- RDMA ---- */

int
kqt_reg_mr(int dev, const void *addr, uint64_t len, uint32_t access,
    uint32_t *key)
{
	struct kqdafs_rdma_reg_mr m;

	memset(&m, 0, sizeof(m));
	m.krm_addr = (uint64_t)(uintptr_t)addr;
	m.krm_len = len;
	m.krm_access = access;
	if (ioctl(dev, KQDAFS_IOC_RDMA_REG_MR, &m) == -1)
		return (errno);
	if (key != NULL)
		*key = m.krm_key;
	return (0);
}

int
kqt_dereg_mr(int dev, uint32_t key)
{
	struct kqdafs_rdma_dereg_mr d;

	memset(&d, 0, sizeof(d));
	d.kdm_key = key;
	if (ioctl(dev, KQDAFS_IOC_RDMA_DEREG_MR, &d) == -1)
		return (errno);
	return (0);
}

int
kqt_ep_pair(int dev, uint32_t ep[2])
{
	struct kqdafs_rdma_ep_pair p;

	memset(&p, 0, sizeof(p));
	if (ioctl(dev, KQDAFS_IOC_RDMA_EP_PAIR, &p) == -1)
		return (errno);
	ep[0] = p.kep_ep[0];
	ep[1] = p.kep_ep[1];
	return (0);
}

int
kqt_ep_close(int dev, uint32_t ep)
{
	struct kqdafs_rdma_ep_close c;

	memset(&c, 0, sizeof(c));
	c.kec_ep = ep;
	if (ioctl(dev, KQDAFS_IOC_RDMA_EP_CLOSE, &c) == -1)
		return (errno);
	return (0);
}

void
kqt_wr(struct kqdafs_rdma_request *r, uint32_t op, uint32_t ep, int kq,
    uint32_t lkey, uint64_t loff, uint32_t rkey, uint64_t roff, uint64_t len,
    uint64_t udata)
{

	memset(r, 0, sizeof(*r));
	r->rr_op = op;
	r->rr_ep = ep;
	r->rr_kq = kq;
	r->rr_local_key = lkey;
	r->rr_local_offset = loff;
	r->rr_remote_key = rkey;
	r->rr_remote_offset = roff;
	r->rr_len = len;
	r->rr_udata = udata;
}

int
kqt_post(int dev, struct kqdafs_rdma_request *reqs,
    struct kqdafs_rdma_result *res, uint32_t n, uint32_t *posted)
{
	struct kqdafs_rdma_post p;

	memset(&p, 0, sizeof(p));
	p.rp_reqs = (uint64_t)(uintptr_t)reqs;
	p.rp_results = (uint64_t)(uintptr_t)res;
	p.rp_count = n;
	p.rp_posted = UINT32_MAX;
	if (ioctl(dev, KQDAFS_IOC_RDMA_POST, &p) == -1)
		return (errno);
	if (posted != NULL)
		*posted = p.rp_posted;
	return (0);
}

int
kqt_post1(int dev, struct kqdafs_rdma_request *r, uint64_t *idp)
{
	struct kqdafs_rdma_result res;
	uint32_t posted;
	int e;

	memset(&res, 0xa5, sizeof(res));
	if ((e = kqt_post(dev, r, &res, 1, &posted)) != 0) {
		tap_ok(0, "post ioctl of one work request succeeds");
		tap_diag("KQDAFS_IOC_RDMA_POST: %s", kqt_errname(e));
		return (-1);
	}
	if (res.rres_error != 0) {
		if (res.rres_id != 0 || posted != 0) {
			tap_ok(0, "refused work request has id 0, posted 0");
			tap_diag("error %d id %ju posted %u", res.rres_error,
			    (uintmax_t)res.rres_id, posted);
			return (-1);
		}
		return (res.rres_error);
	}
	if (res.rres_id == 0 || posted != 1) {
		tap_ok(0, "accepted work request has an id and posted 1");
		tap_diag("id %ju posted %u", (uintmax_t)res.rres_id, posted);
		return (-1);
	}
	if (idp != NULL)
		*idp = res.rres_id;
	return (0);
}

int
kqt_cancel_settled(int dev, uint64_t id, int32_t *result)
{
	uint64_t end;
	int e;

	end = kqt_now_us() + 2000000;
	for (;;) {
		if ((e = kqt_cancel(dev, id, result)) != 0)
			return (e);
		if (*result != EALREADY || kqt_now_us() >= end)
			return (0);
		usleep(1000);
	}
}

int
kqt_rdma_ev_check(const struct kqt *k, const struct kevent *ev, uint32_t op,
    uint64_t id, uint64_t udata, int64_t data)
{
	int good;

	if (ev == NULL) {
		tap_diag("no event for id %ju", (uintmax_t)id);
		return (0);
	}
	good = ev_check_common(ev, k->info.kqi_filter_rdma, id, udata,
	    (u_int)KQDAFS_RDMA_FFLAGS(op));
	if ((ev->flags & EV_ERROR) != 0) {
		tap_diag("event has EV_ERROR (flags %#x)", ev->flags);
		good = 0;
	}
	if (ev->data != data) {
		tap_diag("event of id %ju: data %jd, expected %jd",
		    (uintmax_t)id, (intmax_t)ev->data, (intmax_t)data);
		good = 0;
	}
	return (good);
}

const struct kevent *
kqt_find_ev(const struct kevent *evs, int n, uint64_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if ((uint64_t)evs[i].ident == id)
			return (&evs[i]);
	return (NULL);
}

void *
kqt_pages(size_t len)
{
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANON | MAP_PRIVATE,
	    -1, 0);
	if (p == MAP_FAILED)
		tap_bail("mmap %zu bytes: %s", len, strerror(errno));
	return (p);
}

int64_t
kqt_counter(const char *name)
{
	int64_t v;
	int e;

	if ((e = kqt_sysctl_get(name, &v)) != 0) {
		tap_diag("sysctl %s: %s", name, kqt_errname(e));
		return (-1);
	}
	return (v);
}

int
kqt_wait_counter(const char *name, int64_t want, int secs)
{
	uint64_t end;
	int64_t v;

	end = kqt_now_us() + (uint64_t)secs * 1000000;
	for (;;) {
		if (kqt_sysctl_get(name, &v) == 0 && v == want)
			return (1);
		if (kqt_now_us() >= end)
			return (0);
		usleep(20000);
	}
}

void
kqt_require_rdma(struct kqt *k)
{
	uint32_t key;
	void *p;
	int e;

	p = kqt_pages(4096);
	e = kqt_reg_mr(k->dev, p, 4096, KQDAFS_MR_LOCAL_WRITE, &key);
	if (e == EOPNOTSUPP || e == ENOTTY)
		tap_bail("KQDAFS_IOC_RDMA_REG_MR answers %s: RDMA is not "
		    "implemented by this module", kqt_errname(e));
	if (e != 0)
		tap_bail("probe registration (4 KiB) failed: %s",
		    kqt_errname(e));
	if ((e = kqt_dereg_mr(k->dev, key)) != 0)
		tap_bail("probe deregistration failed: %s", kqt_errname(e));
	munmap(p, 4096);
}
