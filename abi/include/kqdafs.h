/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs.h: the /dev/kqdafs ioctl ABI and kevent encoding for C programs.
 *
 * This header mirrors the Rust crate abi/ (kqdafs-abi); the test
 * abi/tests/c_header.rs compiles it against the FreeBSD headers and checks
 * every size, offset, ioctl number and constant against the Rust side.
 * See kqdafs(4).
 */
#ifndef _KQDAFS_H_
#define	_KQDAFS_H_

#include <sys/types.h>
#include <sys/ioccom.h>

#define	KQDAFS_ABI_VERSION	1
#define	KQDAFS_DEVICE		"/dev/kqdafs"
#define	KQDAFS_SYSCTL_ROOT	"kern.kqdafs"

/* Filter slots (see kqdafs(4), FILTER NUMBERS). */
#define	KQDAFS_SHARED_SLOT		(-12)
#define	KQDAFS_EVFILT_KAIO_DEDICATED	(-16)
#define	KQDAFS_EVFILT_RDMA_DEDICATED	(-17)

/* Slot modes, as in struct kqdafs_info's kqi_slot_mode. */
#define	KQDAFS_SLOT_SHARED	1
#define	KQDAFS_SLOT_DEDICATED	2

/* Kind bits in a kqdafs event's fflags; the low 24 bits are per kind. */
#define	KQDAFS_EV_KAIO		0x01000000
#define	KQDAFS_EV_RDMA		0x02000000
#define	KQDAFS_EV_OPMASK	0x00ffffff

struct kqdafs_info {
	uint32_t	kqi_abi_version;	/* KQDAFS_ABI_VERSION */
	uint32_t	kqi_module_version;	/* MODULE_VERSION */
	int16_t		kqi_filter_kaio;	/* filter of KAIO events */
	int16_t		kqi_filter_rdma;	/* filter of RDMA events */
	uint32_t	kqi_slot_mode;		/* KQDAFS_SLOT_* */
	uint32_t	kqi_max_batch;		/* requests per submit call */
	uint32_t	kqi_max_requests_per_proc;
	uint64_t	kqi_max_pinned_per_proc; /* bytes */
	uint64_t	kqi_reserved[4];	/* zero */
};

/*
 * KAIO: asynchronous file I/O (see kqdafs(4), IOCTLS).
 */
#define	KQDAFS_KAIO_READ	1
#define	KQDAFS_KAIO_WRITE	2
#define	KQDAFS_KAIO_FSYNC	3

/* The fflags of the event of a request of operation op. */
#define	KQDAFS_KAIO_FFLAGS(op)	(KQDAFS_EV_KAIO | (op))

#define	KQDAFS_KAIO_MAX_BATCH	256		/* requests per submit call */
#define	KQDAFS_KAIO_MAX_LEN	(16 * 1024 * 1024) /* bytes per READ/WRITE */
#define	KQDAFS_DEFAULT_MAX_REQUESTS_PER_PROC	4096
#define	KQDAFS_DEFAULT_MAX_PINNED_PER_PROC	(64 * 1024 * 1024)

struct kqdafs_kaio_request {
	uint32_t	kr_op;			/* KQDAFS_KAIO_* */
	uint32_t	kr_flags;		/* zero */
	int32_t		kr_fd;			/* file */
	int32_t		kr_kq;			/* kqueue to notify */
	int64_t		kr_offset;		/* file offset; 0 for FSYNC */
	uint64_t	kr_buf;			/* buffer address; 0 for FSYNC */
	uint64_t	kr_len;			/* bytes; 0 for FSYNC */
	uint64_t	kr_udata;		/* echoed in the event's udata */
	uint64_t	kr_reserved[2];		/* zero */
};

struct kqdafs_kaio_result {
	uint64_t	kres_id;		/* event ident; 0 if refused */
	int32_t		kres_error;		/* 0 or errno of this request */
	uint32_t	kres_pad;
};

struct kqdafs_kaio_submit {
	uint64_t	ks_reqs;		/* struct kqdafs_kaio_request[] */
	uint64_t	ks_results;		/* struct kqdafs_kaio_result[] */
	uint32_t	ks_count;		/* 1 to KQDAFS_KAIO_MAX_BATCH */
	uint32_t	ks_flags;		/* zero */
	uint32_t	ks_submitted;		/* out: requests accepted */
	uint32_t	ks_pad;			/* zero */
};

struct kqdafs_kaio_cancel {
	uint64_t	kc_id;			/* request id */
	int32_t		kc_result;		/* out: 0, EALREADY or ENOENT */
	uint32_t	kc_pad;			/* zero */
};

/*
 * RDMA: memory-to-memory transfers (see kqdafs(4), RDMA).
 */
#define	KQDAFS_RDMA_WRITE	1		/* local -> remote MR */
#define	KQDAFS_RDMA_READ	2		/* remote MR -> local */
#define	KQDAFS_RDMA_SEND	3		/* local -> peer's oldest RECV */
#define	KQDAFS_RDMA_RECV	4		/* receive buffer for a SEND */

/* The fflags of the event of a work request of operation op. */
#define	KQDAFS_RDMA_FFLAGS(op)	(KQDAFS_EV_RDMA | (op))

/* Memory region rights (krm_access); local reads are always allowed. */
#define	KQDAFS_MR_LOCAL_WRITE	0x1
#define	KQDAFS_MR_REMOTE_READ	0x2
#define	KQDAFS_MR_REMOTE_WRITE	0x4

#define	KQDAFS_RDMA_MAX_LEN	(16 * 1024 * 1024) /* bytes per request */
#define	KQDAFS_RDMA_MAX_MR_LEN	(1024 * 1024 * 1024) /* bytes per region */
#define	KQDAFS_RDMA_MAX_MRS	1024		/* regions per descriptor */
#define	KQDAFS_RDMA_MAX_ENDPOINTS 1024		/* endpoints per descriptor */
#define	KQDAFS_RDMA_MAX_BATCH	256		/* requests per post call */

struct kqdafs_rdma_reg_mr {
	uint64_t	krm_addr;		/* region start */
	uint64_t	krm_len;		/* bytes */
	uint32_t	krm_access;		/* KQDAFS_MR_* */
	uint32_t	krm_key;		/* out: key (0 on input) */
	uint64_t	krm_reserved;		/* zero */
};

struct kqdafs_rdma_dereg_mr {
	uint32_t	kdm_key;		/* region key */
	uint32_t	kdm_pad;		/* zero */
};

struct kqdafs_rdma_ep_pair {
	uint32_t	kep_ep[2];		/* out: connected endpoints */
	uint32_t	kep_flags;		/* zero */
	uint32_t	kep_pad;		/* zero */
};

struct kqdafs_rdma_ep_close {
	uint32_t	kec_ep;			/* endpoint */
	uint32_t	kec_pad;		/* zero */
};

struct kqdafs_rdma_request {
	uint32_t	rr_op;			/* KQDAFS_RDMA_* */
	uint32_t	rr_flags;		/* zero */
	uint32_t	rr_ep;			/* endpoint posted on */
	int32_t		rr_kq;			/* kqueue to notify */
	uint32_t	rr_local_key;		/* local region */
	uint32_t	rr_remote_key;		/* WRITE/READ; 0 for SEND/RECV */
	uint64_t	rr_local_offset;	/* in the local region */
	uint64_t	rr_remote_offset;	/* WRITE/READ; 0 for SEND/RECV */
	uint64_t	rr_len;			/* bytes (RECV: buffer size) */
	uint64_t	rr_udata;		/* echoed in the event's udata */
	uint64_t	rr_reserved[2];		/* zero */
};

struct kqdafs_rdma_result {
	uint64_t	rres_id;		/* event ident; 0 if refused */
	int32_t		rres_error;		/* 0 or errno of this request */
	uint32_t	rres_pad;
};

struct kqdafs_rdma_post {
	uint64_t	rp_reqs;		/* struct kqdafs_rdma_request[] */
	uint64_t	rp_results;		/* struct kqdafs_rdma_result[] */
	uint32_t	rp_count;		/* 1 to KQDAFS_RDMA_MAX_BATCH */
	uint32_t	rp_flags;		/* zero */
	uint32_t	rp_posted;		/* out: requests accepted */
	uint32_t	rp_pad;			/* zero */
};

#define	KQDAFS_IOC_INFO		_IOR('Q', 1, struct kqdafs_info)
#define	KQDAFS_IOC_KAIO_SUBMIT	_IOWR('Q', 2, struct kqdafs_kaio_submit)
#define	KQDAFS_IOC_KAIO_CANCEL	_IOWR('Q', 3, struct kqdafs_kaio_cancel)
/* Cancels any request of the descriptor, KAIO or RDMA. */
#define	KQDAFS_IOC_CANCEL	KQDAFS_IOC_KAIO_CANCEL
#define	KQDAFS_IOC_RDMA_REG_MR	_IOWR('Q', 4, struct kqdafs_rdma_reg_mr)
#define	KQDAFS_IOC_RDMA_DEREG_MR _IOW('Q', 5, struct kqdafs_rdma_dereg_mr)
#define	KQDAFS_IOC_RDMA_EP_PAIR	_IOWR('Q', 6, struct kqdafs_rdma_ep_pair)
#define	KQDAFS_IOC_RDMA_EP_CLOSE _IOW('Q', 7, struct kqdafs_rdma_ep_close)
#define	KQDAFS_IOC_RDMA_POST	_IOWR('Q', 8, struct kqdafs_rdma_post)

#endif /* !_KQDAFS_H_ */
