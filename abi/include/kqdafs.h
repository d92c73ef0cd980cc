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

#define	KQDAFS_IOC_INFO		_IOR('Q', 1, struct kqdafs_info)

#endif /* !_KQDAFS_H_ */
