/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue for the RDMA loopback provider: copies between held page
 * arrays through the direct map.  The Rust side (src/kpi/pages.rs) checks
 * every range before calling; the glue checks again and refuses.
 */
#ifndef _KQDAFS_KPI_RDMA_H_
#define	_KQDAFS_KPI_RDMA_H_

#include <sys/types.h>

struct vm_page;
struct thread;

/*
 * Copy len bytes from the held pages src[0..snpages), starting spos bytes
 * into src[0], to the held pages dst[0..dnpages), starting dpos bytes into
 * dst[0] (spos and dpos include the offset of the buffer in its first
 * page).  Both page arrays stay held by the caller for the duration.
 * The copy runs from the start, chunk by chunk (at both sides' page
 * ends), or, if backward is nonzero, from the end: as memmove(3), the
 * caller asks for backward when src and dst are one page array and the
 * destination range starts inside the source range (dpos > spos), and the
 * destination then gets exactly the source's bytes.  Other overlapping
 * ranges (two regions over the same memory) leave unspecified bytes in
 * the destination, as with RDMA verbs, but never fault.
 * Returns 0, or EINVAL (nothing copied) if a range leaves its pages.
 * Any context: never sleeps, takes no lock.
 */
int	kqdafs_pages_copy(struct vm_page **src, int snpages, size_t spos,
	    struct vm_page **dst, int dnpages, size_t dpos, size_t len,
	    int backward);

/*
 * A user memory region's wiring is charged as mlock(2) charges its own
 * (kern_mlock(), sys/vm/vm_mmap.c; review item 7).
 *
 * kqdafs_memlock_check: whether td's credential may wire user memory at
 * all (priv_check(PRIV_VM_MLOCK): root, or security.bsd.unprivileged_mlock,
 * within a jail allowed to mlock): 0 or EPERM.  Then *limit gets td's
 * RLIMIT_MEMLOCK (rlim_cur; RLIM_INFINITY stays as it is) and *wired the
 * bytes its process's own map has wired (mlock(2), mlockall(2)), which
 * kern_mlock() counts against the same limit.  Process context.
 */
int	kqdafs_memlock_check(struct thread *td, uint64_t *limit,
	    uint64_t *wired);

/*
 * Charge npages against the system-wide limit of user-wired pages
 * (vm.max_user_wired), in the counter mlock(2) charges
 * (vm.stats.vm.v_user_wire_count): 0, or ENOMEM if the limit would be
 * passed (nothing charged).  Any context; never sleeps.
 */
int	kqdafs_user_wire_add(u_long npages);

/* Give back npages charged by kqdafs_user_wire_add().  Any context. */
void	kqdafs_user_wire_sub(u_long npages);

#endif /* !_KQDAFS_KPI_RDMA_H_ */
