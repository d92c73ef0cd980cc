/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of the virtual memory the module touches: user address
 * spaces, copyin/copyout, held pages, the direct map.  Sources read:
 * sys/vm/vm_fault.c (vm_fault_quick_hold_pages: an invalid range is -1;
 * more pages than max_count panics "vm_fault_quick_hold_pages: count >
 * max_count"; each page is held (wired) or, on a fault, everything held
 * so far is released and -1 returned), sys/vm/vm_page.c
 * (vm_page_unhold_pages → vm_page_unwire: a page whose wire count is
 * zero panics), sys/vm/vm_map.c (vm_map_min_KBI, vm_map_max_KBI),
 * sys/amd64/amd64/pmap.c (pmap_kextract: direct-map addresses translated
 * arithmetically, others by walking the page table with no validity
 * check), sys/amd64/include/vmparam.h (PHYS_TO_DMAP, kva_layout,
 * dmaplimit), sys/vm/vm_page.h (PHYS_TO_VM_PAGE: amd64 is
 * VM_PHYSSEG_DENSE, so every physical address has a page structure),
 * sys/amd64/amd64/support.S (copyin/copyout: EFAULT on a bad user
 * address).
 *
 * The sim's physical memory is host memory and its direct map is the
 * identity (dmap_low 0): a page's physical address is the host address
 * of its backing.  Simulated user addresses lie in [KSIM_UVA_MIN,
 * KSIM_UVA_MAX), which the host does not map, so module code that
 * dereferences a user address faults.  Device mappings (KSIM_MAP_DEVICE)
 * are backed by inaccessible host memory and offered as fictitious pages
 * with an uncacheable memory attribute, as OBJT_DEVICE/OBJT_MGTDEVICE
 * mappings (DRM buffers, framebuffers, /dev/mem) are.
 */
#include "ksim.h"

#include <sys/malloc.h>
#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/pmap.h>
#include <vm/vm_extern.h>
#include <vm/vm_map.h>
#include <vm/vm_page.h>
#include <vm/vm_phys.h>

#include "ksim_world.h"

int	mprotect(void *addr, size_t len, int prot);	/* host */

struct kva_layout_s kva_layout = {
	.dmap_low = 0,
	.dmap_high = 0x800000000000UL,
	.km_low = 0xfffffe0000000000UL,
	.km_high = 0xffffffffffffffffUL,
};
vm_paddr_t dmaplimit = 0x800000000000UL;


/* The page structures (vm_page_array) by physical address. */
#define	KSIM_PAGES	(1 << 18)

/*
 * The system-wide count of user-wired pages (vm_meter.c,
 * vm.stats.vm.v_user_wire_count) and its limit (vm_pageout.c,
 * vm.max_user_wired), which vm_pageout_init sets, if not tuned, to a third
 * of the free pages at boot: here a third of the modelled page frames.
 * vm_map_wire(VM_MAP_WIRE_USER) charges the first against the second
 * (vm_map_wire_user_count_add, vm_map.c).
 */
u_long vm_user_wire_count;
u_long vm_page_max_user_wired = KSIM_PAGES / 3;

u_long
ksim_vm_user_wired(void)
{

	return (vm_user_wire_count);
}

/* sysctl vm.max_user_wired=n (0: the boot default). */
void
ksim_vm_set_max_user_wired(u_long n)
{

	vm_page_max_user_wired = n != 0 ? n : KSIM_PAGES / 3;
}

static struct vm_page *ksim_pages[KSIM_PAGES];
static vm_paddr_t ksim_page_pa[KSIM_PAGES];

static struct vm_page *
ksim_page_for(vm_paddr_t pa, int fictitious)
{
	size_t h, i;
	struct vm_page *m;

	pa = trunc_page(pa);
	h = (size_t)(pa >> PAGE_SHIFT) * 0x9e3779b97f4a7c15ULL >> 46;
	for (i = 0; i < KSIM_PAGES; i++, h = (h + 1) & (KSIM_PAGES - 1)) {
		if (ksim_pages[h] == NULL) {
			m = ksim_zalloc(sizeof(*m));
			m->phys_addr = pa;
			if (fictitious) {
				m->flags = PG_FICTITIOUS;
				m->oflags = VPO_UNMANAGED;
				m->md.pat_mode = VM_MEMATTR_UNCACHEABLE;
			} else
				m->md.pat_mode = VM_MEMATTR_DEFAULT;
			ksim_pages[h] = m;
			ksim_page_pa[h] = pa;
			return (m);
		}
		if (ksim_page_pa[h] == pa)
			return (ksim_pages[h]);
	}
	sim_fail("sim", "page table full");
}

/* Pages held now (held pages must all be released by the end). */
long
ksim_pages_held(void)
{
	long n = 0;
	size_t i;

	for (i = 0; i < KSIM_PAGES; i++)
		if (ksim_pages[i] != NULL)
			n += ksim_pages[i]->ref_count;
	return (n);
}

/* Host memory behind every device mapping (for the fault report). */
static struct {
	const char	*lo, *hi;
} ksim_devback[64];
static int ksim_ndevback;

/*
 * A new mapping of `len` (page-rounded) bytes in `kp`, placed 16 pages
 * after the last one (a guard gap, so an overrun faults).
 */
static struct ksim_umap *
ksim_umap_new(struct ksim_proc *kp, size_t len)
{
	struct ksim_umap *um;
	vm_offset_t start;

	if (kp->kp_nmap == KSIM_NMAP)
		sim_fail("sim", "too many user mappings");
	start = kp->kp_nmap == 0 ? kp->kp_vmin + 16 * PAGE_SIZE :
	    kp->kp_map[kp->kp_nmap - 1].um_end + 16 * PAGE_SIZE;
	um = &kp->kp_map[kp->kp_nmap++];
	um->um_start = start;
	um->um_end = start + len;
	return (um);
}

/* mmap(2) of anonymous or device memory in the current process. */
vm_offset_t
ksim_umap(size_t len, int prot, int kind)
{
	struct ksim_proc *kp = ksim_curproc();
	struct ksim_umap *um;

	len = round_page(len);
	um = ksim_umap_new(kp, len);
	um->um_prot = prot;
	um->um_kind = kind;
	um->um_adopted = 0;
	um->um_backing = sim_host_alloc(len, PAGE_SIZE);
	if (kind == KSIM_MAP_DEVICE) {
		if (mprotect(um->um_backing, len, 0) != 0)
			sim_fail("sim", "mprotect of device backing failed");
		if (ksim_ndevback < (int)nitems(ksim_devback)) {
			ksim_devback[ksim_ndevback].lo = um->um_backing;
			ksim_devback[ksim_ndevback].hi = um->um_backing + len;
			ksim_ndevback++;
		}
	}
	return (um->um_start);
}

/*
 * The host memory [host, host + len) as user memory of the current
 * process: what the userland crate (kqdafs-user), running in a simulated
 * process, has in its address space.  Its buffers live in host memory;
 * this maps the pages holding them, like mmap(2) of anonymous memory
 * (KSIM_MAP_ANON, read/write), at a simulated user address, so the module
 * reaches them only as user memory (copyin/copyout, held pages), never by
 * dereferencing the address the program passed.  An adopted mapping that
 * already covers the range is reused (a buffer is submitted many times).
 * Returns the user address of `host`.
 */
vm_offset_t
ksim_uadopt(void *host, size_t len)
{
	struct ksim_proc *kp = ksim_curproc();
	struct ksim_umap *um;
	char *lo, *hi;
	int i;

	lo = (char *)trunc_page((uintptr_t)host);
	hi = (char *)round_page((uintptr_t)host + MAX(len, 1));
	for (i = 0; i < kp->kp_nmap; i++) {
		um = &kp->kp_map[i];
		if (um->um_adopted && um->um_prot != 0 &&
		    um->um_backing <= lo &&
		    um->um_backing + (um->um_end - um->um_start) >= hi)
			return (um->um_start + ((char *)host - um->um_backing));
	}
	um = ksim_umap_new(kp, hi - lo);
	um->um_prot = VM_PROT_READ | VM_PROT_WRITE;
	um->um_kind = KSIM_MAP_ANON;
	um->um_adopted = 1;
	um->um_backing = lo;
	sim_ram_adopt(lo, hi - lo);
	return (um->um_start + ((char *)host - lo));
}

/* munmap(2): the range is gone; held pages keep their backing. */
void
ksim_uunmap(vm_offset_t start)
{
	struct ksim_proc *kp = ksim_curproc();
	int i;

	for (i = 0; i < kp->kp_nmap; i++)
		if (kp->kp_map[i].um_start == start)
			kp->kp_map[i].um_prot = 0;
}

const struct ksim_umap *
ksim_umap_find(struct ksim_proc *kp, vm_offset_t va)
{
	int i;

	for (i = 0; i < kp->kp_nmap; i++)
		if (va >= kp->kp_map[i].um_start &&
		    va < kp->kp_map[i].um_end && kp->kp_map[i].um_prot != 0)
			return (&kp->kp_map[i]);
	return (NULL);
}

/* Host address of user address va in the current process, or NULL. */
void *
ksim_uva_host(vm_offset_t va, size_t len, int prot)
{
	const struct ksim_umap *um;

	um = ksim_umap_find(ksim_curproc(), va);
	if (um == NULL || (um->um_prot & prot) != prot ||
	    um->um_kind != KSIM_MAP_ANON || len > um->um_end - va)
		return (NULL);
	return (um->um_backing + (va - um->um_start));
}

/* copyin/copyout with fault handling, chunk by mapping. */
static int
ksim_ucopy(vm_offset_t uva, char *kaddr, size_t len, int out)
{
	const struct ksim_umap *um;
	size_t n;
	char *h;

	while (len > 0) {
		um = ksim_umap_find(ksim_curproc(), uva);
		if (um == NULL || um->um_kind != KSIM_MAP_ANON ||
		    (um->um_prot & (out ? VM_PROT_WRITE : VM_PROT_READ)) == 0)
			return (EFAULT);
		n = MIN(len, um->um_end - uva);
		h = um->um_backing + (uva - um->um_start);
		if (out)
			memcpy(h, kaddr, n);
		else
			memcpy(kaddr, h, n);
		uva += n;
		kaddr += n;
		len -= n;
	}
	return (0);
}

int
ksim_copyin_user(const void *uaddr, void *kaddr, size_t len)
{

	return (ksim_ucopy((vm_offset_t)uaddr, kaddr, len, 0));
}

int
ksim_copyout_user(const void *kaddr, void *uaddr, size_t len)
{

	return (ksim_ucopy((vm_offset_t)uaddr, __DECONST(char *, kaddr), len,
	    1));
}

/*
 * copyin/copyout (support.S): may fault in pages, so they may sleep; a
 * user thread's address space only (a kernel thread has none).
 */
int
copyin(const void *udaddr, void *kaddr, size_t len)
{

	sim_yield();
	sim_check_may_sleep("copyin", NULL);
	if ((curthread->td_pflags & TDP_KTHREAD) != 0)
		ksim_failf("vm", "copyin from a kernel thread (no user "
		    "address space)");
	sim_module_access(kaddr, len, 1);
	return (ksim_copyin_user(udaddr, kaddr, len));
}

int
copyout(const void *kaddr, void *udaddr, size_t len)
{

	sim_yield();
	sim_check_may_sleep("copyout", NULL);
	if ((curthread->td_pflags & TDP_KTHREAD) != 0)
		ksim_failf("vm", "copyout from a kernel thread (no user "
		    "address space)");
	sim_module_access(kaddr, len, 0);
	return (ksim_copyout_user(kaddr, udaddr, len));
}

static struct ksim_proc *
ksim_map_proc(vm_map_t map)
{

	return (__containerof(__containerof(map, struct vmspace, vm_map),
	    struct ksim_proc, kp_vm));
}

vm_offset_t
vm_map_min_KBI(const struct vm_map *map)
{

	sim_yield();
	return (ksim_map_proc(__DECONST(vm_map_t, map))->kp_vmin);
}

vm_offset_t
vm_map_max_KBI(const struct vm_map *map)
{

	sim_yield();
	return (ksim_map_proc(__DECONST(vm_map_t, map))->kp_vmax);
}

/* vm_page_unwire of a held page (vm_page.c). */
static void
ksim_page_unhold(vm_page_t m)
{

	if (m->ref_count == 0)
		ksim_failf("vm", "vm_page_unwire: page %p's wire count is zero "
		    "(unhold of a page not held)", m);
	m->ref_count--;
}

/* vm_fault_quick_hold_pages (vm_fault.c). */
int
vm_fault_quick_hold_pages(vm_map_t map, vm_offset_t addr, vm_size_t len,
    vm_prot_t prot, vm_page_t *ma, int max_count)
{
	struct ksim_proc *kp = ksim_map_proc(map);
	const struct ksim_umap *um;
	vm_offset_t end, va;
	vm_page_t m;
	int count, i;

	sim_yield();
	sim_check_may_sleep("vm_fault_quick_hold_pages", NULL);
	if (len == 0)
		return (0);
	end = round_page(addr + len);
	addr = trunc_page(addr);
	if (end < addr || addr < kp->kp_vmin || end > kp->kp_vmax)
		return (-1);
	if (atop(end - addr) > (vm_offset_t)max_count)
		panic("vm_fault_quick_hold_pages: count > max_count");
	count = (int)atop(end - addr);
	for (i = 0, va = addr; va < end; i++, va += PAGE_SIZE) {
		um = ksim_umap_find(kp, va);
		if (um == NULL || (um->um_prot & prot) != prot) {
			while (i-- > 0)
				ksim_page_unhold(ma[i]);
			return (-1);
		}
		m = ksim_page_for((vm_paddr_t)(uintptr_t)(um->um_backing +
		    (va - um->um_start)), um->um_kind == KSIM_MAP_DEVICE);
		m->ref_count++;
		ma[i] = m;
	}
	return (count);
}

/* vm_page_unhold_pages (vm_page.c). */
void
vm_page_unhold_pages(vm_page_t *ma, int count)
{

	sim_yield();
	for (; count != 0; count--)
		ksim_page_unhold(*ma++);
}

/*
 * pmap_kextract (amd64 pmap.c): a direct-map address is translated
 * arithmetically; any other is looked up through the recursive page-table
 * map (vtopde/vtopte) without checking PG_V: for a kernel address with no
 * mapping it reads a page table that may not exist (a fault) or returns a
 * frame that is not the caller's.  The sim's kernel map has no mappings
 * of its own, so any such call is that case.
 */
vm_paddr_t
pmap_kextract(vm_offset_t va)
{

	sim_yield();
	if (va >= kva_layout.dmap_low && va < kva_layout.dmap_high)
		return (DMAP_TO_PHYS(va));
	ksim_failf("vm", "pmap_kextract(%#lx): an unmapped kernel address; "
	    "amd64 pmap_kextract reads its page tables without checking "
	    "PG_V (a fault or a wrong frame)", (unsigned long)va);
}

/*
 * kva_alloc/kva_free (vm_kern.c): kernel address space with nothing mapped
 * (vmem_alloc of kernel_arena, M_NOWAIT: 0 if there is none).  The sim
 * hands out addresses of its kernel map, which maps nothing.
 */
vm_offset_t
kva_alloc(vm_size_t size)
{
	static vm_offset_t next;

	sim_yield();
	if (next == 0)
		next = kva_layout.km_low + (1UL << 30);
	next += round_page(size) + PAGE_SIZE;
	return (next - round_page(size));
}

void
kva_free(vm_offset_t addr, vm_size_t size)
{

	sim_yield();
	if (addr < kva_layout.km_low || addr >= kva_layout.km_high)
		ksim_failf("vm", "kva_free of %#lx: not kernel address space",
		    (unsigned long)addr);
}

/* kernel_pmap (amd64 pmap.c kernel_pmap_store). */
struct pmap kernel_pmap_store;

/*
 * pmap_extract (amd64 pmap.c): walks the pmap with pmap_pde/pmap_pde_to_pte,
 * each checking PG_V; an address with no valid mapping answers 0.  The
 * kernel pmap maps the direct map; the sim's kernel map has nothing else.
 */
vm_paddr_t
pmap_extract(pmap_t pmap, vm_offset_t va)
{

	sim_yield();
	if (pmap != kernel_pmap)
		ksim_failf("vm", "pmap_extract of a user pmap is not modelled");
	if (va >= kva_layout.dmap_low && va < kva_layout.dmap_high)
		return (DMAP_TO_PHYS(va));
	return (0);
}

int	sim_is_ram(uint64_t pa);

/*
 * vm_phys_paddr_to_vm_page (vm_phys.c): the page of a physical address in
 * one of the physical segments (RAM), NULL otherwise.  The sim's RAM is
 * the host memory it allocated (kernel malloc, user memory, buffers).
 */
vm_page_t
vm_phys_paddr_to_vm_page(vm_paddr_t pa)
{

	sim_yield();
	if (!sim_is_ram(pa))
		return (NULL);
	return (ksim_page_for(pa, 0));
}

/* PHYS_TO_VM_PAGE (vm_page.c, VM_PHYSSEG_DENSE): never NULL. */
vm_page_t
PHYS_TO_VM_PAGE(vm_paddr_t pa)
{

	sim_yield();
	return (ksim_page_for(pa, 0));
}

/* Whether host address p lies in the backing of a device mapping. */
int
ksim_is_device_backing(const void *p)
{
	const char *c = p;
	int i;

	for (i = 0; i < ksim_ndevback; i++)
		if (c >= ksim_devback[i].lo && c < ksim_devback[i].hi)
			return (1);
	return (0);
}

vm_page_t
ksim_page_for_host(void *p)
{

	return (ksim_page_for((vm_paddr_t)(uintptr_t)p, 0));
}
