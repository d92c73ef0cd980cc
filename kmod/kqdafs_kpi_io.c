/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue for KAIO file I/O; the contract is kqdafs_kpi_io.h.
 *
 * Every KPI call below names the FreeBSD function whose use it mirrors.
 * Sources read for this file (freebsd-src): sys/kern/kern_descrip.c
 * (_fget, fget_read, fget_write), sys/kern/sys_generic.c (kern_pread,
 * dofileread, dofilewrite), sys/kern/kern_event.c (kqfd_register),
 * sys/kern/vfs_syscalls.c (kern_fsync), sys/vm/vm_fault.c
 * (vm_fault_quick_hold_pages), sys/kern/vfs_bio.c (getblkx, breadn_flags,
 * breada, bufdone, vfs_vmio_iodone, vfs_busy_pages, bqrelse, brelse),
 * sys/ufs/ffs/ffs_vnops.c (ffs_read), sys/ufs/ffs/fs.h (blksize),
 * sys/ufs/ufs/ufs_bmap.c and ufs_vnops.c (ufs_strategy),
 * sys/ufs/ffs/ffs_vfsops.c (ffs_statfs), sys/kern/vfs_mount.c
 * (vfs_domount_first), sys/amd64/include/vmparam.h (PHYS_TO_DMAP).
 */
#include "kqdafs_glue.h"

#include <sys/bio.h>
#include <sys/buf.h>
#include <sys/capsicum.h>
#include <sys/file.h>
#include <sys/filedesc.h>
#include <sys/limits.h>
#include <sys/mount.h>
#include <sys/refcount.h>
#include <sys/resourcevar.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/ucred.h>
#include <sys/vnode.h>

#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/pmap.h>
#include <vm/vm_map.h>
#include <vm/vm_page.h>
#include <vm/vm_phys.h>
#include <vm/vm_extern.h>
#include <vm/vnode_pager.h>

#include <ufs/ufs/dinode.h>

#include "kqdafs_kpi_io.h"

#define	M_KQDAFS	kqdafs_malloc_type

/*
 * iovecs per fo_read()/fo_write() call in kqdafs_file_rw().  Far below
 * UIO_MAXIOV; 32 * 16 bytes of kernel stack.  Physically adjacent pages
 * share one iovec, so a call often moves more than 32 pages.
 */
#define	KQDAFS_RW_IOV	32

/* Kernel address of byte `off` of held page m, through the direct map. */
static __inline char *
kqdafs_page_kva(struct vm_page *m, size_t off)
{

	/*
	 * amd64 maps all of physical memory at kva_layout.dmap_low
	 * (PHYS_TO_DMAP in machine/vmparam.h).  The page is held (wired)
	 * by kqdafs_pages_hold(), so its physical address is stable and the
	 * page cannot be freed while we use this address, from any thread
	 * and without any vmspace.
	 */
	return ((char *)PHYS_TO_DMAP(VM_PAGE_TO_PHYS(m)) + off);
}

/*
 * Whether page m may be reached through the direct map: ordinary RAM with
 * the default (write-back) memory attribute.  vm_fault_quick_hold_pages()
 * also hands out the pages of device mappings (OBJT_DEVICE, OBJT_MGTDEVICE,
 * OBJT_SG: DRM buffers, framebuffers, /dev/mem).  Those are fictitious
 * pages (vm_page_initfake) whose physical address may lie beyond the
 * direct map, where PHYS_TO_DMAP's assertion is compiled out without
 * INVARIANTS and the copy would take a fatal page fault, and whose memory
 * must not be accessed through the direct map's write-back alias below
 * it (amd64 pmap.c keeps the direct map's attribute in step with
 * pmap_page_set_memattr only for managed RAM).  FreeBSD's own users map
 * such pages with pmap_map_io_transient() or pass them to the driver
 * (aio_qbio: bio_ma); a copy in b_iodone may do neither (it may sleep), so
 * such pages are refused at submit.
 */
static __inline bool
kqdafs_page_dmap_ok(struct vm_page *m)
{

	return ((m->flags & PG_FICTITIOUS) == 0 &&
	    PHYS_IN_DMAP(VM_PAGE_TO_PHYS(m)) &&
	    pmap_page_get_memattr(m) == VM_MEMATTR_DEFAULT);
}

/*
 * Copy n bytes from kernel memory src to the request buffer described by
 * the held pages ma, starting `pos` bytes into it (pos counts from the
 * start of ma[0], so it already includes the request's pgoff).
 */
static void
kqdafs_copy_to_pages(struct vm_page **ma, size_t pos, const char *src,
    size_t n)
{
	size_t chunk, po;

	while (n > 0) {
		po = pos & PAGE_MASK;
		chunk = MIN(n, PAGE_SIZE - po);
		memcpy(kqdafs_page_kva(ma[pos >> PAGE_SHIFT], po), src, chunk);
		pos += chunk;
		src += chunk;
		n -= chunk;
	}
}

/* ---- descriptors, credentials, held pages ---------------------------- */

int
kqdafs_file_get(struct thread *td, int fd, int op, struct file **fpp)
{
	struct file *fp;
	int error;

	*fpp = NULL;
	/*
	 * As kern_pread()/kern_pwrite()/kern_fsync() look the descriptor
	 * up: fget_read()/fget_write()/fget() (kern_descrip.c _fget) check
	 * the capability rights through fget_unlocked() (ENOTCAPABLE),
	 * reject badfileops and, for FREAD/FWRITE, a descriptor not open
	 * for that access (EBADF, as POSIX wants).  On success they return
	 * a referenced file.
	 */
	switch (op) {
	case KQDAFS_IO_READ:
		error = fget_read(td, fd, &cap_pread_rights, &fp);
		break;
	case KQDAFS_IO_WRITE:
		error = fget_write(td, fd, &cap_pwrite_rights, &fp);
		break;
	case KQDAFS_IO_FSYNC:
		error = fget(td, fd, &cap_fsync_rights, &fp);
		break;
	default:
		return (EINVAL);
	}
	if (error != 0)
		return (error);

	switch (fp->f_type) {
	case DTYPE_PIPE:
	case DTYPE_SOCKET:
	case DTYPE_FIFO:
		/* Not seekable: pread(2) answers ESPIPE (kern_pread). */
		error = ESPIPE;
		break;
	case DTYPE_VNODE:
		if (fp->f_ops == &path_fileops) {
			/* O_PATH descriptor: getvnode() answers EBADF. */
			error = EBADF;
		} else if (fp->f_vnode == NULL ||
		    fp->f_vnode->v_type != VREG) {
			/*
			 * v_type is fixed for the vnode's life (a reclaimed
			 * vnode becomes VBAD, which is refused here too).
			 */
			error = EINVAL;
		} else
			error = 0;
		break;
	default:
		error = EINVAL;
		break;
	}
	if (error != 0) {
		/* Process context: dropping the last reference may sleep. */
		fdrop(fp, td);
		return (error);
	}
	*fpp = fp;
	return (0);
}

void
kqdafs_file_drop(struct file *fp, struct thread *td)
{

	/* fdrop() may close the file (and sleep) if this is the last ref. */
	(void)fdrop(fp, td);
}

int
kqdafs_write_rlimit(struct thread *td, struct file *fp, off_t offset,
    size_t *lenp)
{
	struct uio auio;
	struct vattr va;
	struct vnode *vp;
	ssize_t adj;
	int error;

	vp = fp->f_vnode;
	if (fp->f_type != DTYPE_VNODE || vp == NULL)
		return (0);
	if (*lenp > (size_t)SSIZE_MAX)
		return (EINVAL);
	if ((fp->f_flag & O_APPEND) != 0) {
		/*
		 * vn_write() passes IO_APPEND; ffs_write() then writes at
		 * i_size, and checks the limit there.  The size as
		 * ufs_getattr() reports it, under the vnode lock.
		 *
		 * Without a limit (RLIM_INFINITY, every process's default)
		 * the size cannot change the answer: vn_rlimit_fsizex1()
		 * (vfs_vnops.c) then only clamps a write whose end passes
		 * RLIM_INFINITY, which the worker's own VOP_WRITE does as
		 * well, since the worker runs with the kernel's limits and
		 * proc0_init() (init_main.c) leaves RLIMIT_FSIZE at
		 * RLIM_INFINITY.  So the submitter does not take the vnode
		 * lock, which a writer holds for the length of its disk
		 * I/O, to read a size that cannot matter.  lim_cur() with a
		 * constant RLIMIT_FSIZE reads td_limit (sys/resourcevar.h).
		 */
		if (lim_cur(td, RLIMIT_FSIZE) == RLIM_INFINITY)
			return (0);
		vn_lock(vp, LK_SHARED | LK_RETRY);
		error = VOP_GETATTR(vp, &va, td->td_ucred);
		VOP_UNLOCK(vp);
		if (error != 0)
			return (error);
		offset = (off_t)va.va_size;
	}
	/*
	 * vn_rlimit_fsizex() (vfs_vnops.c) reads uio_offset and uio_resid
	 * and may lower uio_resid; with resid_adj it clamps a write that
	 * crosses the limit and answers EFBIG (sending SIGXFSZ to td's
	 * process) only for one at or past it; maxfsz 0: the file system's
	 * own maximum is its write's business.  td is the submitter, so
	 * lim_cur(td, RLIMIT_FSIZE) is its process's limit.
	 */
	memset(&auio, 0, sizeof(auio));
	auio.uio_offset = offset;
	auio.uio_resid = (ssize_t)*lenp;
	auio.uio_rw = UIO_WRITE;
	auio.uio_segflg = UIO_SYSSPACE;
	auio.uio_td = td;
	error = vn_rlimit_fsizex(vp, &auio, 0, &adj, td);
	if (error == 0)
		*lenp = (size_t)auio.uio_resid;
	return (error);
}

int
kqdafs_kqueue_check(struct thread *td, int kq)
{
	struct file *fp;
	cap_rights_t rights;
	int error;

	/* The same lookup kqfd_register() does (kern_event.c). */
	error = fget(td, kq, cap_rights_init_one(&rights, CAP_KQUEUE_CHANGE),
	    &fp);
	if (error != 0)
		return (error);
	/* kqueue_acquire() refuses anything but DTYPE_KQUEUE. */
	error = fp->f_type == DTYPE_KQUEUE ? 0 : EBADF;
	(void)fdrop(fp, td);
	return (error);
}

int
kqdafs_knote_register(struct thread *td, int kq, short filter,
    uint64_t ident, uint32_t fflags, void *sdata, uint64_t udata)
{
	struct kevent kev;

	/*
	 * As vfs_aio.c aio_aqueue() registers its EVFILT_AIO knote: a
	 * kernel-built kevent with EV_FLAG1, which no user kevent(2) can
	 * carry into f_attach (kqueue_register copies kev->data into
	 * kn_sdata and the flags into kn_flags before calling f_attach).
	 * ext[] must be zero: kqueue_register copies the whole kevent.
	 */
	memset(&kev, 0, sizeof(kev));
	kev.ident = (uintptr_t)ident;
	kev.filter = filter;
	kev.flags = EV_ADD | EV_ONESHOT | EV_FLAG1;
	kev.fflags = fflags;
	kev.data = (intptr_t)sdata;
	kev.udata = (void *)(uintptr_t)udata;
	/*
	 * FreeBSD 15 sys/event.h: kqfd_register(int fd, struct kevent *kev,
	 * struct thread *td, int mflag); mflag is the knote allocation's
	 * malloc flag.  Process context, so M_WAITOK.
	 */
	return (kqfd_register(kq, &kev, td, M_WAITOK));
}

struct ucred *
kqdafs_cred_hold(struct thread *td)
{

	return (crhold(td->td_ucred));
}

void
kqdafs_cred_free(struct ucred *cred)
{

	crfree(cred);
}

uint64_t
kqdafs_user_max_address(struct thread *td)
{

	/* vm_map_max() is vm_map_max_KBI() for modules (vm/vm_map.h). */
	return (vm_map_max(&td->td_proc->p_vmspace->vm_map));
}

int
kqdafs_pages_hold(struct thread *td, uint64_t addr, size_t len,
    int writable, struct vm_page **ma, int max)
{
	vm_map_t map;
	vm_offset_t end, start;
	vm_prot_t prot;
	int i, n;

	if (len == 0 || max <= 0 || ma == NULL)
		return (-1);
	map = &td->td_proc->p_vmspace->vm_map;
	/*
	 * vm_fault_quick_hold_pages() panics if the range needs more than
	 * max_count pages, and only newer versions reject a wrapping range:
	 * check both here so that no user input can reach the panic.
	 */
	if (addr + len < addr || addr < vm_map_min(map) ||
	    addr + len > vm_map_max(map))
		return (-1);
	start = trunc_page(addr);
	end = round_page(addr + len);
	if (atop(end - start) > (vm_offset_t)max)
		return (-1);
	/*
	 * A READ request stores into the user's buffer: ask for write
	 * access, as vmapbuf() and vfs_aio.c do for BIO_READ.  With
	 * VM_PROT_WRITE the pages are also marked dirty, so data stored
	 * through the direct map is not lost.
	 */
	prot = VM_PROT_READ;
	if (writable)
		prot |= VM_PROT_WRITE;
	/* The page count, or -1 with nothing held. */
	n = vm_fault_quick_hold_pages(map, addr, len, prot, ma, max);
	for (i = 0; i < n; i++) {
		if (!kqdafs_page_dmap_ok(ma[i])) {
			/* Device memory: let go of everything, EFAULT. */
			vm_page_unhold_pages(ma, n);
			return (-1);
		}
	}
	return (n);
}

void
kqdafs_pages_release(struct vm_page **ma, int count)
{

	vm_page_unhold_pages(ma, count);
}

/* ---- kernel consumers (kqdafs_kapi.h) ---------------------------------- */

/*
 * Whether va lies in the part of the kernel address space that
 * pmap_kextract() translates through the kernel page tables or the
 * direct map (amd64 pmap.c: DMAP addresses are translated arithmetically,
 * anything else by walking kernel_pmap; a user address must not get
 * there).
 */
static __inline bool
kqdafs_kva_ok(vm_offset_t va)
{

	return (VIRT_IN_DMAP(va) ||
	    (va >= VM_MIN_KERNEL_ADDRESS && va < VM_MAX_KERNEL_ADDRESS));
}

int
kqdafs_kva_pages(uint64_t va, size_t len, struct vm_page **ma, int max)
{
	vm_offset_t end, start, p;
	vm_paddr_t pa;
	vm_page_t m;
	int n;

	if (len == 0 || max <= 0 || ma == NULL || va + len < va)
		return (-1);
	start = trunc_page(va);
	end = round_page(va + len);
	if (end < start || atop(end - start) > (vm_offset_t)max ||
	    !kqdafs_kva_ok(start) || !kqdafs_kva_ok(end - 1))
		return (-1);
	/*
	 * malloc(9) memory is wired: UMA's small zones hand out direct-map
	 * addresses of pages they allocated (uma_small_alloc), and larger
	 * allocations come from kmem_malloc(), which backs kernel_object
	 * pages and enters them with pmap_enter(..., PMAP_ENTER_WIRED).
	 * Either way each page has a struct vm_page that stays put while the
	 * memory stays allocated; nothing is held here.
	 *
	 * An address the caller got wrong must be refused, not translated:
	 * pmap_kextract() checks no PG_V bit (amd64 pmap.c reads the page
	 * tables through the recursive map), and PHYS_TO_VM_PAGE() never
	 * answers NULL on amd64 (VM_PHYSSEG_DENSE).  So: the direct map by
	 * arithmetic, anything else through pmap_extract(kernel_pmap), which
	 * answers 0 for an invalid mapping; vm_phys_paddr_to_vm_page(), NULL
	 * outside the physical segments (RAM); and no fictitious page (device
	 * memory, kqdafs_page_dmap_ok).
	 */
	n = 0;
	for (p = start; p < end; p += PAGE_SIZE) {
		pa = VIRT_IN_DMAP(p) ? DMAP_TO_PHYS(p) :
		    pmap_extract(kernel_pmap, p);
		if (pa == 0)
			return (-1);
		m = vm_phys_paddr_to_vm_page(pa);
		if (m == NULL || !kqdafs_page_dmap_ok(m))
			return (-1);
		ma[n++] = m;
	}
	return (n);
}

int
kqdafs_file_hold(struct file *fp, int op)
{

	if (fp == NULL)
		return (EINVAL);
	/* The checks of fget_read()/fget_write() and kqdafs_file_get(). */
	switch (op) {
	case KQDAFS_IO_READ:
		if ((fp->f_flag & FREAD) == 0)
			return (EBADF);
		break;
	case KQDAFS_IO_WRITE:
		if ((fp->f_flag & FWRITE) == 0)
			return (EBADF);
		break;
	case KQDAFS_IO_FSYNC:
		break;
	default:
		return (EINVAL);
	}
	switch (fp->f_type) {
	case DTYPE_PIPE:
	case DTYPE_SOCKET:
	case DTYPE_FIFO:
		return (ESPIPE);
	case DTYPE_VNODE:
		if (fp->f_ops == &path_fileops)
			return (EBADF);
		if (fp->f_vnode == NULL || fp->f_vnode->v_type != VREG)
			return (EINVAL);
		break;
	default:
		return (EINVAL);
	}
	/* fhold() refuses (false) when the count would overflow. */
	if (!fhold(fp))
		return (EINVAL);
	return (0);
}

struct ucred *
kqdafs_cred_ref(struct ucred *cred)
{

	return (crhold(cred));
}

/* ---- worker path ------------------------------------------------------ */

/*
 * Check that [pgoff, pgoff + len) lies inside npages pages.
 */
static int
kqdafs_range_check(int npages, size_t pgoff, size_t len)
{

	if (npages <= 0 || pgoff >= PAGE_SIZE)
		return (EINVAL);
	if (len > (size_t)npages * PAGE_SIZE - pgoff)
		return (EINVAL);
	return (0);
}

int
kqdafs_file_rw(struct file *fp, struct ucred *cred, struct thread *td,
    int op, off_t offset, struct vm_page **ma, int npages, size_t pgoff,
    size_t len, size_t *moved)
{
	struct iovec iov[KQDAFS_RW_IOV];
	struct uio auio;
	struct ucred *savedcred;
	size_t done, pos, seg, want;
	char *kva;
	int error, n;

	*moved = 0;
	if (op != KQDAFS_IO_READ && op != KQDAFS_IO_WRITE)
		return (EINVAL);
	error = kqdafs_range_check(npages, pgoff, len);
	if (error != 0)
		return (error);
	/* kern_pread()/kern_pwrite(): a negative offset is EINVAL. */
	if (offset < 0 || (uint64_t)len > (uint64_t)(OFF_MAX - offset))
		return (EINVAL);
	/*
	 * Run the I/O as the submitter, as vfs_aio.c aio_process_rw() does:
	 * the worker is a kernel thread whose td_ucred is the kernel's, and
	 * MAC, racct and the file system's own checks read td_ucred.
	 */
	savedcred = td->td_ucred;
	td->td_ucred = cred;

	done = 0;
	error = 0;
	while (done < len) {
		/*
		 * Build at most KQDAFS_RW_IOV iovecs over the direct map of
		 * the held pages, joining physically adjacent pages (their
		 * direct-map addresses are adjacent too).
		 */
		n = 0;
		want = 0;
		pos = pgoff + done;
		while (done + want < len) {
			seg = MIN(len - done - want,
			    PAGE_SIZE - (pos & PAGE_MASK));
			kva = kqdafs_page_kva(ma[pos >> PAGE_SHIFT],
			    pos & PAGE_MASK);
			if (n > 0 && (char *)iov[n - 1].iov_base +
			    iov[n - 1].iov_len == kva)
				iov[n - 1].iov_len += seg;
			else if (n < KQDAFS_RW_IOV) {
				iov[n].iov_base = kva;
				iov[n].iov_len = seg;
				n++;
			} else
				break;
			want += seg;
			pos += seg;
		}

		/*
		 * As dofileread()/dofilewrite() do, with a kernel buffer:
		 * UIO_SYSSPACE, so vn_io_fault() does no user-fault
		 * prefaulting and the worker needs no vmspace; FOF_OFFSET,
		 * so uio_offset is used and f_offset is neither read nor
		 * updated (pread/pwrite semantics).
		 */
		auio.uio_iov = iov;
		auio.uio_iovcnt = n;
		auio.uio_offset = offset + (off_t)done;
		auio.uio_resid = (ssize_t)want;
		auio.uio_segflg = UIO_SYSSPACE;
		auio.uio_td = td;
		if (op == KQDAFS_IO_READ) {
			auio.uio_rw = UIO_READ;
			error = fo_read(fp, &auio, cred, FOF_OFFSET, td);
		} else {
			auio.uio_rw = UIO_WRITE;
			/*
			 * dofilewrite(): throttle dirty buffer producers
			 * before the vnode is locked (vfs_bio.c bwillwrite).
			 * kqdafs_file_get() admitted only DTYPE_VNODE/VREG.
			 */
			if (fp->f_type == DTYPE_VNODE)
				bwillwrite();
			error = fo_write(fp, &auio, cred, FOF_OFFSET, td);
		}
		done += want - (size_t)auio.uio_resid;
		/* Error, or a short transfer (EOF on read): stop. */
		if (error != 0 || auio.uio_resid != 0)
			break;
	}
	*moved = done;
	td->td_ucred = savedcred;

	/*
	 * dofileread()/dofilewrite(): a transfer interrupted after some
	 * bytes moved is a short success.  ERESTART is internal to the
	 * syscall layer and cannot be restarted here: report EINTR.
	 */
	if (error != 0 && done != 0 && (error == ERESTART ||
	    error == EINTR || error == EWOULDBLOCK))
		error = 0;
	if (error == ERESTART)
		error = EINTR;
	return (error);
}

static int
kqdafs_vn_fsync(struct vnode *vp, struct thread *td)
{
	struct mount *mp;
	int error;

	/* kern_fsync() (vfs_syscalls.c), from the vnode on. */
	do {
		/*
		 * V_WAIT without V_PCATCH: a worker thread has no signal to
		 * catch; wait for a file system suspension to end.
		 */
		error = vn_start_write(vp, &mp, V_WAIT);
		if (error != 0)
			return (error);
		/* Exclusive, or shared where the fs allows shared writes. */
		vn_lock(vp, vn_lktype_write(mp, vp) | LK_RETRY);
		/*
		 * Start writing the pages dirtied through mmap(2), as
		 * kern_fsync() does (vm_object_page_clean(obj, 0, 0, 0)
		 * under the object lock; vnode_pager_clean_async() in 15).
		 */
		vnode_pager_clean_async(vp);
		error = VOP_FSYNC(vp, MNT_WAIT, td);
		VOP_UNLOCK(vp);
		vn_finished_write(mp);
		/*
		 * ERELOOKUP: the fs (UFS with softupdates journaling) had to
		 * drop the vnode lock; kern_fsync() starts over.
		 */
	} while (error == ERELOOKUP);
	return (error);
}

int
kqdafs_file_fsync(struct file *fp, struct ucred *cred, struct thread *td)
{
	struct ucred *savedcred;
	struct vnode *vp;
	int error;

	vp = fp->f_vnode;
	if (fp->f_type != DTYPE_VNODE || vp == NULL)
		return (EINVAL);
	/* As the submitter: vfs_aio.c aio_process_sync() swaps td_ucred. */
	savedcred = td->td_ucred;
	td->td_ucred = cred;
	error = kqdafs_vn_fsync(vp, td);
	td->td_ucred = savedcred;
	return (error);
}

/* ---- buffer-cache read path ------------------------------------------ */

/*
 * One kqdafs_bufread_start() request.  Allocated before any block is
 * looked at, freed by whoever drops the last reference: the submitting
 * thread holds one for the whole submission, every block whose read was
 * started holds one until its completion has copied the data out.
 */
struct kqdafs_bufread {
	volatile u_int	 br_refs;	/* submitter + reads in flight */
	volatile u_int	 br_error;	/* first error, 0 if none */
	volatile uint64_t br_errat;	/* lowest offset of a failed block */
	volatile uint64_t br_end;	/* lowest offset not read (short) */
	kqdafs_bufread_done_t *br_done;
	void		*br_arg;
	struct file	*br_fp;		/* held by the caller until done */
	struct ucred	*br_cred;	/* held by the caller until done */
	off_t		 br_rest;	/* start of the part left to a worker */
	off_t		 br_offset;	/* file offset of the request */
	size_t		 br_len;	/* length, clipped at EOF */
	size_t		 br_pgoff;	/* offset into br_ma[0] */
	int		 br_npages;
	struct vm_page	*br_ma[];	/* copy of the caller's array */
};

/* *p = MIN(*p, v), atomically: blocks complete in any order. */
static void
kqdafs_atomic_min64(volatile uint64_t *p, uint64_t v)
{
	uint64_t old;

	do {
		old = atomic_load_64(p);
		if (old <= v)
			return;
	} while (!atomic_cmpset_64(p, old, v));
}

/*
 * The block whose data start at file offset `at` (clipped to the request)
 * failed with `error`.  The first error is the one reported; where the
 * lowest failed block lies decides whether it is reported at all
 * (kqdafs_bufread_rele).
 */
static void
kqdafs_bufread_fail(struct kqdafs_bufread *br, int error, off_t at)
{

	(void)atomic_cmpset_int(&br->br_error, 0, (u_int)error);
	kqdafs_atomic_min64(&br->br_errat,
	    (uint64_t)MAX(at, br->br_offset));
}

/*
 * Block reads whose b_iodone (kqdafs_bufread_iodone) was set and has not
 * yet returned.  Unload drains them (kqdafs_bufread_drain) so that no
 * g_up thread is still running this module's code when it is unmapped:
 * the request's last reference can be dropped by the completion thread
 * while the callback that completed it is still on its way out.
 */
static volatile u_int kqdafs_bufread_iodones;

void
kqdafs_bufread_drain(void)
{

	while (atomic_load_acq_int(&kqdafs_bufread_iodones) != 0)
		pause("kqdbrd", 1);
	/* The last callback may still be returning from its final store. */
	kqdafs_unload_grace("kqdbrd");
}

/*
 * Drop one reference; the last one reports the request and frees it.
 * Runs in the submitting thread or in the buffer completion path (GEOM's
 * g_up thread): free(9) of a malloc(9) allocation does not sleep.
 */
static void
kqdafs_bufread_rele(struct kqdafs_bufread *br)
{
	kqdafs_bufread_done_t *done;
	void *arg;
	uint64_t end;
	size_t nbytes;
	int error;

	/*
	 * refcount_release() orders every earlier store of the other
	 * holders (data copied into the pages, br_error) before the final
	 * release and fences the last one with acquire semantics, so the
	 * caller of done() sees all of them.
	 */
	if (!refcount_release(&br->br_refs))
		return;
	/*
	 * As pread(2) over ffs_read() answers: ffs_read() stops at the
	 * first buffer that came back short without an error (b_resid
	 * left, "size == 0" there) and returns the bytes before it with no
	 * error; it stops with the error at the first block that failed.
	 * Blocks here were read in parallel, so whichever of the two comes
	 * first in the file decides: a failed block at or past the short
	 * end would never have been read by ffs_read().
	 */
	error = (int)atomic_load_int(&br->br_error);
	end = atomic_load_64(&br->br_end);
	if (error != 0 && atomic_load_64(&br->br_errat) < end)
		nbytes = 0;
	else {
		error = 0;
		nbytes = (size_t)(end - (uint64_t)br->br_offset);
	}
	done = br->br_done;
	arg = br->br_arg;
	free(br, M_KQDAFS);
	done(arg, error, nbytes);
}

/*
 * Copy the part of buffer bp that the request wants into its pages.
 * bp is locked by us (or by the kernel on our behalf) and its contents are
 * valid: B_CACHE was set by getblk(), or the read completed without error
 * and bufdone() has restored any bogus pages.  A buffer that came back
 * short without an error (b_resid: g_vfs_done() sets it to b_bcount -
 * bio_completed) is copied only as far as it was read, and the request
 * ends there (br_end).  Returns 0 or EIO.
 */
static int
kqdafs_bufread_copy(struct kqdafs_bufread *br, struct buf *bp)
{
	off_t bstart, bvalid, from, to;
	size_t boff, chunk, n, po;
	char *src;
	int i;

	if (bp->b_offset == NOOFFSET)
		return (EIO);
	bstart = bp->b_offset;
	from = MAX(br->br_offset, bstart);
	to = MIN(br->br_offset + (off_t)br->br_len, bstart + bp->b_bcount);
	if (to <= from)
		return (EIO);
	/*
	 * ffs_read(): b_resid is nonzero only after an error, but if a
	 * short read left no error, do not copy bytes that were not read
	 * ("size -= bp->b_resid"); the request is short from there.
	 */
	bvalid = bstart + bp->b_bcount - bp->b_resid;
	if (bp->b_resid < 0 || bp->b_resid > bp->b_bcount)
		return (EIO);
	if (to > bvalid) {
		kqdafs_atomic_min64(&br->br_end, (uint64_t)MAX(from, bvalid));
		if (bvalid <= from)
			return (0);
		to = bvalid;
	}
	boff = (size_t)(from - bstart);
	n = (size_t)(to - from);
	if (buf_mapped(bp)) {
		/*
		 * getblk() mapped it anyway (the vfs.unmapped_buf_allowed
		 * tunable is 0).
		 */
		kqdafs_copy_to_pages(br->br_ma,
		    br->br_pgoff + (size_t)(from - br->br_offset),
		    bp->b_data + boff, n);
		return (0);
	}
	/*
	 * An unmapped VMIO buffer (GB_UNMAPPED): b_pages[] holds the vnode's
	 * pages from trunc_page(b_offset) on, wired by the buffer while we
	 * hold it locked; copy through the direct map.
	 */
	if ((bp->b_flags & B_VMIO) == 0)
		return (EIO);
	boff += (size_t)(bstart & PAGE_MASK);
	while (n > 0) {
		i = (int)(boff >> PAGE_SHIFT);
		po = boff & PAGE_MASK;
		if (i >= bp->b_npages)
			return (EIO);
		chunk = MIN(n, PAGE_SIZE - po);
		src = kqdafs_page_kva(bp->b_pages[i], po);
		kqdafs_copy_to_pages(br->br_ma,
		    br->br_pgoff + (size_t)(from - br->br_offset), src, chunk);
		from += (off_t)chunk;
		boff += chunk;
		n -= chunk;
	}
	return (0);
}

/*
 * b_iodone of a block read started by kqdafs_bufread_start().
 *
 * bufdone() (vfs_bio.c) clears b_iodone and calls us instead of doing its
 * own completion, so the buffer is ours to finish.  Runs in the I/O
 * completion path (g_vfs_done in GEOM's g_up thread, or synchronously
 * inside bstrategy() when ufs_strategy() finds a hole or a bmap error):
 * nothing here sleeps.
 */
static void
kqdafs_bufread_iodone(struct buf *bp)
{
	struct kqdafs_bufread *br;
	off_t at;
	int error;

	br = bp->b_caller1;
	bp->b_caller1 = NULL;
	/*
	 * Let bufdone() complete the buffer the normal way, now that
	 * b_iodone is NULL: vfs_vmio_iodone() validates the pages, unbusies
	 * them and puts back the pages vfs_busy_pages() had replaced with
	 * bogus_page (remapping b_data); B_CACHE is set on success.  Only
	 * after that does b_data show the file's data for every page.
	 * B_ASYNC is cleared first so that bufdone() ends with bdone()
	 * (B_DONE, wakeup: nobody waits) instead of releasing the buffer:
	 * we still need its contents.  The buffer lock is owned by the
	 * kernel (BUF_KERNPROC at submit), so this thread may release it.
	 */
	bp->b_flags &= ~B_ASYNC;
	bufdone(bp);
	at = bp->b_offset;
	if ((bp->b_ioflags & BIO_ERROR) != 0)
		error = bp->b_error != 0 ? bp->b_error : EIO;
	else
		error = kqdafs_bufread_copy(br, bp);
	/* Release as bufdone() releases a B_ASYNC buffer. */
	if ((bp->b_flags & (B_NOCACHE | B_INVAL | B_RELBUF)) != 0 ||
	    (bp->b_ioflags & BIO_ERROR) != 0)
		brelse(bp);
	else
		bqrelse(bp);
	if (error != 0)
		kqdafs_bufread_fail(br, error, at);
	kqdafs_bufread_rele(br);
	/* Last: from here only the return is left (kqdafs_bufread_drain). */
	atomic_subtract_rel_int(&kqdafs_bufread_iodones, 1);
}

void
kqdafs_bufread_rest(struct kqdafs_bufread *br, struct thread *td)
{
	size_t moved, pos, rlen;
	int error;

	/*
	 * The pages from the rest's start on: kqdafs_file_rw() takes an
	 * array whose first page holds the first byte, at pgoff < PAGE_SIZE.
	 */
	pos = br->br_pgoff + (size_t)(br->br_rest - br->br_offset);
	rlen = br->br_len - (size_t)(br->br_rest - br->br_offset);
	error = kqdafs_file_rw(br->br_fp, br->br_cred, td, KQDAFS_IO_READ,
	    br->br_rest, br->br_ma + (pos >> PAGE_SHIFT),
	    br->br_npages - (int)(pos >> PAGE_SHIFT), pos & PAGE_MASK, rlen,
	    &moved);
	/*
	 * As the blocks of the buffer-cache part: an error at the first
	 * byte not moved, a short read (the file was truncated meanwhile)
	 * ends the request there.
	 */
	if (error != 0)
		kqdafs_bufread_fail(br, error, br->br_rest + (off_t)moved);
	else if (moved < rlen)
		kqdafs_atomic_min64(&br->br_end,
		    (uint64_t)br->br_rest + moved);
	kqdafs_bufread_rele(br);
}

/*
 * Size of logical block lbn of a UFS file of size fsize: what UFS's
 * blksize(fs, ip, lbn) macro (ufs/ffs/fs.h) computes, with fs_bsize =
 * bsize and fs_fsize = frag.  Direct blocks that hold the end of the file
 * are only as large as the fragments they use; every other block is
 * whole.  getblk() must be given exactly the size UFS uses, or the read
 * would take the neighbouring fragments of another file into this file's
 * pages.
 */
static int
kqdafs_ufs_blksize(off_t fsize, daddr_t lbn, int bsize, int frag)
{
	off_t tail;

	if (lbn >= UFS_NDADDR || fsize >= (off_t)(lbn + 1) * bsize)
		return (bsize);
	tail = fsize - (off_t)lbn * bsize;
	return ((int)roundup2(tail, (off_t)frag));
}

int
kqdafs_bufread_start(struct file *fp, struct ucred *cred, off_t offset,
    size_t len, struct vm_page **ma, int npages, size_t pgoff,
    kqdafs_bufread_done_t *done, void *arg, uint32_t *hits,
    uint32_t *misses, struct kqdafs_bufread **restp)
{
	struct kqdafs_bufread *br;
	struct buf *bp;
	struct mount *mp;
	struct vattr va;
	struct vnode *vp;
	off_t end, fsize;
	daddr_t lbn, last;
	int bsize, error, frag, size;

	*hits = 0;
	*misses = 0;
	*restp = NULL;
	vp = fp->f_vnode;
	if (fp->f_type != DTYPE_VNODE || vp == NULL)
		return (EOPNOTSUPP);
	error = kqdafs_range_check(npages, pgoff, len);
	if (error != 0)
		return (error);
	if (offset < 0 || (uint64_t)len > (uint64_t)(OFF_MAX - offset))
		return (EINVAL);

	/*
	 * Allocate everything the request needs before looking at a single
	 * block, so that no allocation can fail once reads are in flight.
	 * Process context and no lock held yet: M_WAITOK.  The page array
	 * is copied so that the completions never depend on the caller's
	 * storage, only on the pages staying held.
	 */
	br = malloc(sizeof(*br) + (size_t)npages * sizeof(br->br_ma[0]),
	    M_KQDAFS, M_WAITOK);
	refcount_init(&br->br_refs, 1);		/* the submitter's */
	br->br_error = 0;
	br->br_errat = UINT64_MAX;
	br->br_done = done;
	br->br_arg = arg;
	br->br_fp = fp;
	br->br_cred = cred;
	br->br_rest = -1;
	br->br_offset = offset;
	br->br_len = len;
	br->br_end = (uint64_t)offset + len;
	br->br_pgoff = pgoff;
	br->br_npages = npages;
	memcpy(br->br_ma, ma, (size_t)npages * sizeof(br->br_ma[0]));

	/*
	 * ffs_read() runs with the vnode locked, shared for reads
	 * (vn_read): the lock keeps i_size and the block map stable for
	 * VOP_GETATTR(), getblk() (which asserts it) and ufs_strategy()'s
	 * bmap inside bstrategy(), and keeps a truncation out until every
	 * block is either copied or locked for I/O.  A truncation that
	 * comes later waits for our locked buffers (vtruncbuf), so data
	 * already submitted is read as it was at submit.
	 *
	 * Only try the lock (LK_NOWAIT): a writer holds it exclusively for
	 * its whole VOP_WRITE (vn_write), which may wait for the disk, and
	 * the submitter must not wait for that.  lockmgr's try operation
	 * answers EBUSY where it would sleep (lockmgr_slock_hard,
	 * kern_lock.c); the caller then runs the request on a worker, whose
	 * fo_read() waits for the lock as pread(2) would.  No LK_RETRY:
	 * _vn_lock_fallback() (vfs_vnops.c) asserts that LK_RETRY comes
	 * without an error, and without it a doomed vnode (forced unmount)
	 * answers ENOENT, unlocked: the worker path gives the real answer,
	 * as for the doomed vnode checked below.
	 */
	error = vn_lock(vp, LK_SHARED | LK_NOWAIT);
	if (error != 0) {
		free(br, M_KQDAFS);
		return (error == EBUSY ? EBUSY : EOPNOTSUPP);
	}
	mp = vp->v_mount;
	/*
	 * Only UFS: its regular files are VMIO, go through getblk/bmap/
	 * strategy, and their block sizes follow blksize() below.  A
	 * doomed vnode (forced unmount) has no v_mount, or deadfs ops: the
	 * worker path gives the real answer.  v_mount is stable while the
	 * vnode is locked and not doomed.
	 */
	if (VN_IS_DOOMED(vp) || mp == NULL || vp->v_type != VREG ||
	    vp->v_object == NULL ||
	    strcmp(mp->mnt_stat.f_fstypename, "ufs") != 0) {
		error = EOPNOTSUPP;
		goto unsupported;
	}
	/*
	 * Block and fragment size.  getblk() places logical block lbn at
	 * lbn * bo_bsize (getblkx), which for UFS is fs_bsize, also
	 * published as mnt_stat.f_iosize; ffs_statfs() publishes fs_fsize
	 * as mnt_stat.f_bsize, and vfs_domount_first() fills mnt_stat with
	 * VFS_STATFS() at mount.  Anything inconsistent is not something
	 * this path understands.
	 */
	bsize = vp->v_bufobj.bo_bsize;
	if (bsize <= 0 || bsize > MAXBSIZE || !powerof2(bsize) ||
	    (uint64_t)bsize != mp->mnt_stat.f_iosize ||
	    mp->mnt_stat.f_bsize < DEV_BSIZE ||
	    mp->mnt_stat.f_bsize > (uint64_t)bsize ||
	    !powerof2(mp->mnt_stat.f_bsize)) {
		error = EOPNOTSUPP;
		goto unsupported;
	}
	frag = (int)mp->mnt_stat.f_bsize;

	/* The file size, as ufs_getattr() reports i_size. */
	error = VOP_GETATTR(vp, &va, cred);
	if (error != 0)
		goto unsupported;
	/*
	 * A UFS snapshot file: ffs_read() reads it with GB_NOWITNESS
	 * (IS_SNAPSHOT(ip), ffs_vnops.c), because its buffer locks are
	 * taken in orders WITNESS would report (ffs_snapshot.c takes
	 * snapshot blocks while other buffers are locked).  The worker
	 * path's fo_read() -> ffs_read() does exactly that; this path does
	 * not second-guess it.  ufs_getattr() reports i_flags as va_flags,
	 * the KPI's view of IS_SNAPSHOT() (VTOI() and struct inode are UFS
	 * internals, not module KPI).
	 */
	if ((va.va_flags & SF_SNAPSHOT) != 0) {
		error = EOPNOTSUPP;
		goto unsupported;
	}
	fsize = (off_t)va.va_size;
	if (offset >= fsize || len == 0) {
		/* At or past EOF: an empty read, reported at once. */
		VOP_UNLOCK(vp);
		free(br, M_KQDAFS);
		done(arg, 0, 0);
		return (0);
	}
	if ((off_t)len > fsize - offset)
		len = (size_t)(fsize - offset);
	br->br_len = len;
	end = offset + (off_t)len;
	br->br_end = (uint64_t)end;

	last = (end - 1) / bsize;
	for (lbn = offset / bsize; lbn <= last; lbn++) {
		size = kqdafs_ufs_blksize(fsize, lbn, bsize, frag);
		/*
		 * getblk() (getblkx): the buffer is returned locked; B_CACHE
		 * says its contents are valid, including a delayed-write
		 * buffer, whose dirty data is what a read must see (getblk
		 * writes out a B_DELWRI buffer that is not B_CACHE before
		 * returning it).  GB_UNMAPPED, as ffs_read() passes: most
		 * UFS data buffers are unmapped in 15, and without the flag
		 * every hit on one would allocate buffer KVA, pmap_qenter it
		 * (a TLB shootdown later) and might sleep in bufspace_wait
		 * with the vnode locked; the copy goes through b_pages and
		 * the direct map anyway (kqdafs_bufread_copy).
		 * GB_LOCK_NOWAIT: never wait for a buffer another thread
		 * holds locked (below).  getblk() may still sleep for buffer
		 * space (getnewbuf -> bufspace_wait) and writes out a
		 * B_DELWRI buffer that is not B_CACHE, or whose size
		 * changes, before it returns it (bwrite): the first needs a
		 * buffer cache short of space, the second a file being
		 * written through mmap or extended under us.
		 */
		bp = getblk(vp, lbn, size, 0, 0, GB_UNMAPPED | GB_LOCK_NOWAIT);
		if (bp == NULL) {
			/*
			 * The buffer is locked by another thread (getblkx()'s
			 * try-lock failed: EBUSY with GB_LOCK_NOWAIT, which
			 * getblk() turns into NULL): its I/O is in flight, or
			 * it is being written out or used by a reader or
			 * writer that may itself wait for the disk.  Waiting
			 * for it here would make the submitter wait for the
			 * disk.  The rest of the request, from this block on,
			 * goes to a worker instead (kqdafs_bufread_rest:
			 * fo_read(), which waits for the buffer as ffs_read()
			 * does); its own reference keeps the request open.
			 * getblk() answers NULL for nothing else here: the
			 * other failure of getblkx(), a size above
			 * maxbcachebuf, cannot happen for UFS blocks, and
			 * ffs_read() would give its answer anyway.
			 */
			br->br_rest = MAX((off_t)lbn * bsize, offset);
			refcount_acquire(&br->br_refs);
			*restp = br;
			break;
		}
		if ((bp->b_flags & B_CACHE) != 0) {
			(*hits)++;
			error = kqdafs_bufread_copy(br, bp);
			if (error != 0)
				kqdafs_bufread_fail(br, error, bp->b_offset);
			/* ffs_read(): keep the cached block on its queue. */
			bqrelse(bp);
			continue;
		}

		/* Start the read as breadn_flags()/breada() do. */
		(*misses)++;
		if (!TD_IS_IDLETHREAD(curthread))
			curthread->td_ru.ru_inblock++;
		bp->b_iocmd = BIO_READ;
		bp->b_flags &= ~B_INVAL;
		bp->b_ioflags &= ~BIO_ERROR;
		/*
		 * No read credential on the buffer: ffs_read() passes
		 * NOCRED to breadn_flags(), and vfs_bio_getpages() strips
		 * it on purpose, because a credential kept here stays
		 * referenced (with its prison, uidinfo and login class)
		 * until the buffer is recycled, which may be never: a
		 * removed jail would stay dying.  UFS does not use it.
		 */
		/*
		 * Completion is ours: b_iodone runs instead of bufdone()'s
		 * own completion; b_caller1 is the caller's field of a
		 * buffer it holds locked (vnode_pager and vfs_aio use it the
		 * same way) and nothing else touches it while the lock is
		 * ours.  B_ASYNC marks the buffer as not waited for.
		 */
		bp->b_flags |= B_ASYNC;
		atomic_add_int(&kqdafs_bufread_iodones, 1);
		bp->b_iodone = kqdafs_bufread_iodone;
		bp->b_caller1 = br;
		refcount_acquire(&br->br_refs);
		/* Busy the pages; fully valid ones get bogus_page. */
		vfs_busy_pages(bp, 0);
		/* Hand the buffer lock to the kernel: g_up releases it. */
		BUF_KERNPROC(bp);
		bp->b_iooffset = dbtob(bp->b_blkno);
		/*
		 * bufobj strategy -> VOP_STRATEGY -> ufs_strategy: bmap
		 * (with our vnode lock), then the device, or bufdone() at
		 * once for a hole (zeroed by vfs_bio_clrbuf) or an error.
		 * From here on bp belongs to the I/O path.
		 */
		bstrategy(bp);
	}
	VOP_UNLOCK(vp);
	/*
	 * Drop the submitter's reference only now, with the vnode
	 * unlocked: done() cannot run before every block was issued, and
	 * never runs under our vnode lock.  With a rest left to a worker,
	 * its reference keeps the request open until the worker is done.
	 */
	kqdafs_bufread_rele(br);
	return (0);

unsupported:
	VOP_UNLOCK(vp);
	free(br, M_KQDAFS);
	return (error);
}
