/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue for the RDMA loopback provider; the contract is
 * kqdafs_kpi_rdma.h.
 *
 * Sources read for this file (freebsd-src): sys/amd64/include/vmparam.h
 * (PHYS_TO_DMAP), sys/vm/vm_page.h (VM_PAGE_TO_PHYS), sys/vm/vm_fault.c
 * (vm_fault_quick_hold_pages: held pages are wired and, when held for
 * writing, dirtied), sys/amd64/amd64/support.S (memmove); for the
 * wiring charge: sys/vm/vm_mmap.c (kern_mlock: priv_check_cred
 * PRIV_VM_MLOCK, ptoa(npages + pmap_wired_count()) against RLIMIT_MEMLOCK,
 * ENOMEM), sys/vm/vm_map.c (vm_map_wire_user_count_add/_sub: the
 * vm_user_wire_count fcmpset loop against vm_page_max_user_wired, an
 * atomic subtract), sys/vm/vm_pageout.c (vm_page_max_user_wired,
 * vm.max_user_wired), sys/vm/vm_meter.c (vm_user_wire_count),
 * sys/kern/kern_priv.c (priv_check_cred: unprivileged_mlock),
 * sys/sys/resourcevar.h (lim_cur of a constant limit reads td_limit).
 */
#include "kqdafs_glue.h"

#include <sys/param.h>
#include <sys/proc.h>
#include <sys/priv.h>
#include <sys/resource.h>
#include <sys/resourcevar.h>
#include <sys/vmmeter.h>
#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/pmap.h>
#include <vm/vm_map.h>
#include <vm/vm_page.h>
#include <vm/vm_pageout.h>

#include "kqdafs_kpi_rdma.h"

/* Whether [pos, pos + len) lies inside npages pages. */
static int
kqdafs_rdma_in_pages(int npages, size_t pos, size_t len)
{

	if (npages <= 0)
		return (len == 0 && pos == 0);
	return (pos <= (size_t)npages * PAGE_SIZE &&
	    len <= (size_t)npages * PAGE_SIZE - pos);
}

/* Kernel address of byte `pos` of the held page array ma (direct map). */
static __inline char *
kqdafs_rdma_kva(struct vm_page **ma, size_t pos)
{

	/*
	 * As kqdafs_page_kva() in kqdafs_kpi_io.c: amd64 maps all of physical
	 * memory (PHYS_TO_DMAP); a held page cannot be freed or moved.
	 */
	return ((char *)PHYS_TO_DMAP(VM_PAGE_TO_PHYS(ma[pos >> PAGE_SHIFT])) +
	    (pos & PAGE_MASK));
}

int
kqdafs_pages_copy(struct vm_page **src, int snpages, size_t spos,
    struct vm_page **dst, int dnpages, size_t dpos, size_t len, int backward)
{
	size_t chunk;

	if (len == 0)
		return (0);
	if (src == NULL || dst == NULL ||
	    !kqdafs_rdma_in_pages(snpages, spos, len) ||
	    !kqdafs_rdma_in_pages(dnpages, dpos, len))
		return (EINVAL);
	if (backward) {
		/*
		 * From the end, chunk by chunk: a destination that starts
		 * inside the source (one page array) is written only where
		 * the source was read already.
		 */
		spos += len;
		dpos += len;
		while (len > 0) {
			/* Back to the nearer of the two page starts. */
			chunk = MIN(len, ((spos - 1) & PAGE_MASK) + 1);
			chunk = MIN(chunk, ((dpos - 1) & PAGE_MASK) + 1);
			spos -= chunk;
			dpos -= chunk;
			len -= chunk;
			memmove(kqdafs_rdma_kva(dst, dpos),
			    kqdafs_rdma_kva(src, spos), chunk);
		}
		return (0);
	}
	while (len > 0) {
		/* Up to the nearer of the two page ends. */
		chunk = MIN(len, PAGE_SIZE - (spos & PAGE_MASK));
		chunk = MIN(chunk, PAGE_SIZE - (dpos & PAGE_MASK));
		/* memmove: the two pages may be one page (see the header). */
		memmove(kqdafs_rdma_kva(dst, dpos), kqdafs_rdma_kva(src, spos),
		    chunk);
		spos += chunk;
		dpos += chunk;
		len -= chunk;
	}
	return (0);
}

int
kqdafs_memlock_check(struct thread *td, uint64_t *limit, uint64_t *wired)
{
	int error;

	error = priv_check(td, PRIV_VM_MLOCK);
	if (error != 0)
		return (error);
	*limit = lim_cur(td, RLIMIT_MEMLOCK);
	*wired = ptoa(pmap_wired_count(vmspace_pmap(td->td_proc->p_vmspace)));
	return (0);
}

int
kqdafs_user_wire_add(u_long npages)
{
	u_long wired;

	/*
	 * Others change the count with atomics at any time: read it with
	 * atomic_load_long (atomic(9)), not a plain load, which is a data
	 * race the compiler may tear or repeat (the free-running simulation
	 * under ThreadSanitizer reported it; a failed fcmpset reloads it).
	 */
	wired = atomic_load_long(&vm_user_wire_count);
	do {
		if (npages > vm_page_max_user_wired ||
		    wired > vm_page_max_user_wired - npages)
			return (ENOMEM);
	} while (!atomic_fcmpset_long(&vm_user_wire_count, &wired,
	    wired + npages));
	return (0);
}

void
kqdafs_user_wire_sub(u_long npages)
{

	atomic_subtract_long(&vm_user_wire_count, npages);
}
