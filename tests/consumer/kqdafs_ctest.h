/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The interface of the kqdafs_consumer_test module (a test-only kernel
 * consumer of kqdafs_kapi(9)): sysctl debug.kqdafs_ctest.run takes one
 * struct kqdafs_ctest (new value), runs it, and returns it filled in (old
 * value).  Shared by the module and the in-guest tests
 * (tests/guest/upcall_*.c).
 */
#ifndef _KQDAFS_CTEST_H_
#define	_KQDAFS_CTEST_H_

#include <sys/types.h>

#define	KQDAFS_CTEST_SYSCTL	"debug.kqdafs_ctest.run"

/* ct_op */
#define	KQDAFS_CTEST_READ	1	/* read, check the pattern */
#define	KQDAFS_CTEST_WRITE	2	/* write the pattern */
#define	KQDAFS_CTEST_FSYNC	3	/* fsync, ct_count times */
#define	KQDAFS_CTEST_CANCEL	4	/* read, then cancel every request */
#define	KQDAFS_CTEST_DEPTH	5	/* read ct_count without reaping (EAGAIN) */
#define	KQDAFS_CTEST_DESTROY	6	/* read, destroy with requests in flight */
#define	KQDAFS_CTEST_RDMA	7	/* RDMA over kernel regions (below) */
#define	KQDAFS_CTEST_RDMA_DESTROY 8	/* RDMA: destroy with RECVs waiting */
#define	KQDAFS_CTEST_NIC	9	/* RDMA over a fake NIC provider */
#define	KQDAFS_CTEST_DESTROY_OTHER 10	/* read; a delayed upcall destroys */
					/* another consumer (holding one read) */

/*
 * KQDAFS_CTEST_RDMA with ct_count N, ct_len L (>= 2; N * L at most
 * KQDAFS_CTEST_RDMA_MAX_BYTES), regions starting ct_misalign bytes into
 * their page: two regions A (pattern, REMOTE_READ) and B (LOCAL_WRITE |
 * REMOTE_WRITE) of N * L bytes, one loopback pair; N RECV into B + N SEND
 * from A, N WRITE A -> B, N READ A -> B, B checked against A after each
 * phase (ct_mismatch); then: a waiting RECV cancelled; a RECV on a third
 * region C makes its deregistration EBUSY, is cancelled, and C then
 * deregisters; a SEND longer than its RECV (-EMSGSIZE, both); the
 * synchronous errno checks (ct_checks, ct_checks_bad); a waiting RECV
 * reset by closing the peer endpoint (-ECONNRESET), later posts ENOTCONN
 * / ENOENT; A and B deregistered.  Expected: 4N + 5 posted, 4 N L bytes,
 * 2 cancelled, 2 EMSGSIZE, 1 ECONNRESET, every completion's kc_fflags
 * KQDAFS_EV_RDMA | op (else ct_bad).
 *
 * KQDAFS_CTEST_RDMA_DESTROY: depth N, region B, a pair, N RECVs of L
 * bytes (one more answers EAGAIN: ct_eagain), then destroy at once.
 */
#define	KQDAFS_CTEST_RDMA_MAX_BYTES (16 * 1024 * 1024)

/*
 * KQDAFS_CTEST_NIC (same ct_count N, ct_len L): the module registers a
 * fake NIC provider "ctest_nic" (kqdafs_rdma_provider(9)) whose callout
 * carries the transfers between its connections 1 and 2 and a window of
 * its own memory (key 7) standing for the peer's region, moving the bytes
 * between the page spans itself; key 0xbad fails with EIO.  Checks
 * registration (EEXIST, EINVAL), binding (ENOENT, the driver's
 * ECONNREFUSED), EBUSY deregistration with endpoints bound and with a
 * transfer outstanding, EALREADY cancel of a posted transfer; N SEND/RECV
 * 1 -> 2, N WRITE into the window, N READ back, all compared; one EIO;
 * an EMSGSIZE pair; a RECV reset by closing its endpoint; a RECV waiting
 * at destroy (its -ECONNRESET delivered before destroy returns, except
 * for a polling consumer); then deregistration succeeds.  Expected: 4N +
 * 5 posted, 4 N L bytes, 1 failed (EIO), 2 EMSGSIZE, 2 (poll: 1)
 * ECONNRESET, 1 EALREADY.
 */
#define	KQDAFS_CTEST_NIC_NAME	"ctest_nic"

#define	KQDAFS_CTEST_MAX_COUNT	1024
#define	KQDAFS_CTEST_MAX_LEN	(1024 * 1024)

/*
 * The byte at file offset off of a pattern file: the pattern of the
 * guest tests (kqt_pat() in tests/guest/lib/kqt.c, the files
 * "kaio_cache create" writes), checked after a READ and written by a
 * WRITE.
 */
static __inline uint8_t
kqdafs_ctest_byte(uint64_t off)
{

	return ((uint8_t)(((off + 1) * 0x9e3779b97f4a7c15ULL) >> 56));
}

struct kqdafs_ctest {
	/* In. */
	int32_t		ct_fd;		/* a file of the calling process */
	int32_t		ct_mode;	/* KQDAFS_DELIVER_* */
	int32_t		ct_op;		/* KQDAFS_CTEST_* */
	uint32_t	ct_count;	/* requests */
	uint32_t	ct_len;		/* bytes per request */
	uint32_t	ct_depth;	/* ca_depth (0: default) */
	uint32_t	ct_batch;	/* ca_batch (0: default) */
	uint32_t	ct_misalign;	/* buffer starts this far into its page */
	int64_t		ct_offset;	/* request i at ct_offset + i * ct_len */
	/* Out. */
	int32_t		ct_error;	/* the run's own errno (create, ...) */
	int32_t		ct_first_error;	/* first submit errno or -kc_data */
	uint32_t	ct_submitted;
	uint32_t	ct_completed;	/* completions delivered */
	uint32_t	ct_eagain;	/* submits refused with EAGAIN */
	uint32_t	ct_cancelled;	/* completions carrying -ECANCELED */
	uint32_t	ct_failed;	/* other negative completions */
	uint32_t	ct_cancel_ok;	/* kqdafs_cancel answers */
	uint32_t	ct_cancel_already;
	uint32_t	ct_cancel_noent;
	uint32_t	ct_upcalls;	/* upcall calls */
	uint32_t	ct_max_batch;	/* most completions in one upcall */
	uint32_t	ct_bad;		/* unknown or repeated cookies */
	uint32_t	ct_timeout;	/* 1: gave up waiting */
	uint64_t	ct_bytes;	/* sum of positive kc_data */
	uint64_t	ct_mismatch;	/* READ: bytes differing from the pattern */
	uint64_t	ct_checksum;	/* READ: sum of the bytes read */
	/* Out, RDMA. */
	uint32_t	ct_reset;	/* completions carrying -ECONNRESET */
	uint32_t	ct_msgsize;	/* completions carrying -EMSGSIZE */
	uint32_t	ct_checks;	/* synchronous errno checks made */
	uint32_t	ct_checks_bad;	/* ... that answered wrong */
	int32_t		ct_check_first;	/* first wrong: check * 1000 + errno */
	uint32_t	ct_pad;
};

#endif /* !_KQDAFS_CTEST_H_ */
