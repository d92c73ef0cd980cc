/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqt.h: shared helpers of the in-guest KAIO test programs (tests/guest/):
 * TAP output, /dev/kqdafs and kqueue set-up, request building, event
 * harvesting, sysctl access and the pattern files the read tests check.
 *
 * Written against abi/include/kqdafs.h only.  The names of counters that
 * are still being finalized are the KQT_SYSCTL_* constants below: a rename
 * in the module is a one-line change here (and in vm-tests/guest/lib.sh).
 */
#ifndef _KQT_H_
#define	_KQT_H_

#include <sys/types.h>
#include <sys/event.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "kqdafs.h"

/* Counters and tunables (kern.kqdafs.*). */
#define	KQT_SYSCTL_HITS		"kern.kqdafs.kaio_bufcache_hits"
#define	KQT_SYSCTL_MISSES	"kern.kqdafs.kaio_bufcache_misses"
#define	KQT_SYSCTL_REQ_BUFCACHE	"kern.kqdafs.kaio_requests_bufcache"
#define	KQT_SYSCTL_REQ_WORKER	"kern.kqdafs.kaio_requests_worker"
#define	KQT_SYSCTL_INFLIGHT	"kern.kqdafs.requests_inflight"
#define	KQT_SYSCTL_INFLIGHT_OLD	"kern.kqdafs.requests_inflight"
#define	KQT_SYSCTL_MAX_REQS	"kern.kqdafs.max_requests_per_proc"
#define	KQT_SYSCTL_MAX_PINNED	"kern.kqdafs.max_pinned_per_proc"

/* How long to wait for events that must arrive (milliseconds). */
#define	KQT_EVENT_TIMEOUT_MS	20000
/* How long to watch for events that must not arrive. */
#define	KQT_QUIET_MS		300

/* ---- TAP ---- */
void	tap_init(const char *prog);
int	tap_ok(int cond, const char *fmt, ...) __printflike(2, 3);
void	tap_skip(const char *why, const char *fmt, ...) __printflike(2, 3);
void	tap_diag(const char *fmt, ...) __printflike(1, 2);
void	tap_bail(const char *fmt, ...) __printflike(1, 2) __dead2;
int	tap_done(void);
int	tap_failures(void);

/* ---- device ---- */
struct kqt {
	int			dev;	/* /dev/kqdafs */
	int			kq;	/* a kqueue */
	short			filt;	/* kqi_filter_kaio */
	struct kqdafs_info	info;
};

int	kqt_open(struct kqt *k);	/* 0 or errno; kq is a new kqueue */
void	kqt_open_or_bail(struct kqt *k);
/* path opened read-only, its size in *sizep; bails out on failure. */
int	kqt_open_file(const char *path, off_t *sizep);
void	kqt_limit_rights(int fd, const uint64_t *rights);	/* 0-terminated */
/*
 * The arguments "FILE [slow]" of program prog: FILE opened read-only (its
 * descriptor returned, its size in *sizep), *slowp set if "slow" was
 * given.  Bad usage prints it and exits 2; a file that cannot be opened
 * bails out.
 */
int	kqt_file_args(int argc, char **argv, const char *prog, int *slowp,
	    off_t *sizep);
void	kqt_close(struct kqt *k);

/* ---- requests ---- */
void	kqt_req(struct kqdafs_kaio_request *r, uint32_t op, int fd, int kq,
	    int64_t off, const void *buf, uint64_t len, uint64_t udata);
/* KQDAFS_IOC_KAIO_SUBMIT: 0, or the errno of the ioctl itself. */
int	kqt_submit(int dev, struct kqdafs_kaio_request *reqs,
	    struct kqdafs_kaio_result *res, uint32_t n, uint32_t *submitted);
/* KQDAFS_IOC_KAIO_CANCEL: 0 and *result, or the errno of the ioctl. */
int	kqt_cancel(int dev, uint64_t id, int32_t *result);
/*
 * Submit one request and, if accepted, wait for its event.  Returns the
 * per-request errno (0 = accepted); *ev gets the event.  An ioctl failure
 * or a missing/odd event fails a TAP check and returns -1.
 */
int	kqt_one(struct kqt *k, struct kqdafs_kaio_request *r,
	    struct kevent *ev);
/* Collect up to want events within ms; returns how many. */
int	kqt_collect(int kq, struct kevent *evs, int want, int ms);
/* Events arriving within ms (that must not); diagnoses each. */
int	kqt_quiet(int kq, int ms);
/* Is ev a well-formed KAIO completion for op / id / udata?  Diagnoses. */
int	kqt_ev_check(const struct kqt *k, const struct kevent *ev,
	    uint32_t op, uint64_t id, uint64_t udata);
/* Die with a Bail out! when the module says KAIO is not implemented. */
void	kqt_require_kaio(struct kqt *k, int fd);

/* ---- sysctl ---- */
int	kqt_sysctl_get(const char *name, int64_t *v);	/* 0 or errno */
int	kqt_sysctl_set(const char *name, int64_t v);	/* 0 or errno */
int64_t	kqt_inflight(void);		/* -1 when unreadable */
int	kqt_wait_inflight(int64_t want, int secs);	/* 1 when reached */

/* ---- kernel consumer test module (kqdafs_consumer_test.ko) ---- */
struct kqdafs_ctest;
/*
 * Run one test of debug.kqdafs_ctest.run: ct in, results back in ct.
 * 0, or the errno of sysctl(3) itself (ENOENT: module not loaded).
 */
int	kqt_ctest(struct kqdafs_ctest *ct);
/* Bail out unless the module is loaded (debug.kqdafs_ctest.run exists). */
void	kqt_require_ctest(void);
/* A zeroed ct with its file, delivery mode, op, count and length. */
void	kqt_ctest_init(struct kqdafs_ctest *ct, int fd, int mode, int op,
	    uint32_t count, uint32_t len);
/*
 * kqt_ctest(ct) for the test named what: 0, or -1 after failing a TAP
 * check when sysctl(3) itself fails.
 */
int	kqt_ctest_run(struct kqdafs_ctest *ct, const char *what);
/* "direct", "delayed" or "poll": delivery mode 1, 2 or 3. */
const char *kqt_ctest_mode(int mode);

/* ---- stress parents (kaio_stress, rdma_stress) ---- */
/* How the children of kqt_stress_run() ended. */
struct kqt_tally {
	int	spawned;	/* children forked */
	int	termed;		/* told to stop with SIGTERM */
	int	clean;		/* exited 0 */
	int	killed;		/* by our SIGKILL */
	int	failed;		/* anything else */
};
/*
 * Keep nprocs children running for secs seconds, child number n (counting
 * every child forked) running child(n, secs + 30), which must not return.
 * A child that ends on its own is a failure and is replaced; with kill9,
 * one is killed with SIGKILL at random moments and replaced.  At the end
 * the children are told to stop with SIGTERM (with kill9, every second
 * one is killed instead) and reaped; *t says how they all ended.
 */
void	kqt_stress_run(void (*child)(int idx, int secs), int nprocs, int secs,
	    int kill9, struct kqt_tally *t);

/*
 * Inside a child of kqt_stress_run(): kqt_child_init(idx) records its
 * index, seeds kqt_rand() for this process and makes SIGTERM set
 * kqt_child_stop.  CDIAG prints a diagnostic tagged with the child; CFAIL
 * also counts a failure in kqt_child_fails.
 */
extern volatile sig_atomic_t kqt_child_stop;
extern int kqt_child_idx, kqt_child_fails;
void	kqt_child_init(int idx);
#define	CDIAG(...) do {						\
	char m_[512];							\
	snprintf(m_, sizeof(m_), __VA_ARGS__);				\
	printf("# [child %d pid %d] %s\n", kqt_child_idx, (int)getpid(),	\
	    m_);							\
} while (0)
#define	CFAIL(...) do {						\
	CDIAG(__VA_ARGS__);						\
	kqt_child_fails++;						\
} while (0)

/* ---- data ---- */
uint8_t	kqt_pat(uint64_t off);
void	kqt_fill(uint8_t *buf, uint64_t off, size_t len);
/* Offset of the first byte not matching the pattern, or -1. */
int64_t	kqt_check(const uint8_t *buf, uint64_t off, size_t len);
int	kqt_make_file(const char *path, off_t size);	/* 0 or errno */
const char *kqt_errname(int e);
uint64_t kqt_rand(void);
void	kqt_srand(uint64_t seed);
uint64_t kqt_now_us(void);

/* ---- RDMA (tests/guest/rdma_*.c) ---- */

/* Counters of the RDMA path (kern.kqdafs.*). */
#define	KQT_SYSCTL_RDMA_POSTED	"kern.kqdafs.rdma_posted"
#define	KQT_SYSCTL_RDMA_REFUSED	"kern.kqdafs.rdma_refused"
#define	KQT_SYSCTL_RDMA_COMPLETED "kern.kqdafs.rdma_completed"
#define	KQT_SYSCTL_RDMA_BYTES	"kern.kqdafs.rdma_bytes"
#define	KQT_SYSCTL_RDMA_MRS	"kern.kqdafs.rdma_mrs"
#define	KQT_SYSCTL_RDMA_PINNED	"kern.kqdafs.rdma_pinned_bytes"
#define	KQT_SYSCTL_RDMA_EPS	"kern.kqdafs.rdma_endpoints"
#define	KQT_SYSCTL_KNOTES	"kern.kqdafs.knotes"
/* RDMA cancellations are counted with KAIO's (shared owner-table code). */
#define	KQT_SYSCTL_KAIO_CANCELLED "kern.kqdafs.kaio_cancelled"

#define	KQT_MR_ALL	(KQDAFS_MR_LOCAL_WRITE | KQDAFS_MR_REMOTE_READ | \
			    KQDAFS_MR_REMOTE_WRITE)

/* KQDAFS_IOC_RDMA_REG_MR: 0 and *key, or the errno of the ioctl. */
int	kqt_reg_mr(int dev, const void *addr, uint64_t len, uint32_t access,
	    uint32_t *key);
int	kqt_dereg_mr(int dev, uint32_t key);		/* 0 or errno */
int	kqt_ep_pair(int dev, uint32_t ep[2]);		/* 0 or errno */
int	kqt_ep_close(int dev, uint32_t ep);		/* 0 or errno */
void	kqt_wr(struct kqdafs_rdma_request *r, uint32_t op, uint32_t ep,
	    int kq, uint32_t lkey, uint64_t loff, uint32_t rkey, uint64_t roff,
	    uint64_t len, uint64_t udata);
/* KQDAFS_IOC_RDMA_POST: 0 and *posted, or the errno of the ioctl. */
int	kqt_post(int dev, struct kqdafs_rdma_request *reqs,
	    struct kqdafs_rdma_result *res, uint32_t n, uint32_t *posted);
/*
 * Post one work request: its per-request errno (0 = accepted, *idp set).
 * An ioctl failure or an inconsistent result fails a TAP check and
 * returns -1.
 */
int	kqt_post1(int dev, struct kqdafs_rdma_request *r, uint64_t *idp);
/*
 * KQDAFS_IOC_CANCEL of a request whose event was already read: the
 * completing thread lets go of the request a moment after it queued the
 * event, and until then the kernel answers EALREADY; retry (up to 2 s)
 * while it does.  0 and *result (ENOENT expected), or the ioctl's errno.
 */
int	kqt_cancel_settled(int dev, uint64_t id, int32_t *result);
/* Is ev the RDMA completion of op / id / udata with data?  Diagnoses. */
int	kqt_rdma_ev_check(const struct kqt *k, const struct kevent *ev,
	    uint32_t op, uint64_t id, uint64_t udata, int64_t data);
/* The event with ident id among evs[0..n), or NULL. */
const struct kevent *kqt_find_ev(const struct kevent *evs, int n,
	    uint64_t id);
/* len bytes of fresh zeroed anonymous pages (bails out on failure). */
void	*kqt_pages(size_t len);
/* A counter's value, -1 (diagnosed) when it cannot be read. */
int64_t	kqt_counter(const char *name);
/* Wait up to secs for counter name to equal want; 1 when it did. */
int	kqt_wait_counter(const char *name, int64_t want, int secs);
/* Die with a Bail out! when the module says RDMA is not implemented. */
void	kqt_require_rdma(struct kqt *k);

#endif /* !_KQT_H_ */
