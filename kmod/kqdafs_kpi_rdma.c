/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue for the RDMA loopback provider; the contract is
 * kqdafs_kpi_rdma.h.
 *
 * Sources read for this file (freebsd-src): sys/amd64/include/vmparam.h
 * (PHYS_TO_DMAP), sys/vm/vm_page.h (VM_PAGE_TO_PHYS), sys/vm/vm_fault.c
 * (vm_fault_quick_hold_pages: held pages are wired and, when held for
 * writing, dirtied), sys/amd64/amd64/support.S (memmove).
 */
#include "kqdafs_glue.h"

#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/pmap.h>
#include <vm/vm_page.h>

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
