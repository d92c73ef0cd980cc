/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue for the RDMA loopback provider: copies between held page
 * arrays through the direct map.  The Rust side (src/kpi/pages.rs) checks
 * every range before calling; the glue checks again and refuses.
 */
#ifndef _KQDAFS_KPI_RDMA_H_
#define	_KQDAFS_KPI_RDMA_H_

struct vm_page;

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

#endif /* !_KQDAFS_KPI_RDMA_H_ */
