/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kqdafs C glue for KAIO file I/O (kqdafs_kpi_io.c): descriptors, held user
 * pages, credentials, the worker path (fo_read/fo_write/VOP_FSYNC) and the
 * buffer-cache read path (getblk/bstrategy/b_iodone).
 *
 * These are the parts of a KAIO request that touch FreeBSD's VFS, buffer
 * cache and VM through macros, inlines and struct fields.  The Rust side
 * (src/kpi/file.rs, src/kpi/pages.rs, src/kpi/bufread.rs) wraps each
 * function once and owns the lifetimes; C keeps no state of its own
 * between calls except the per-read context of kqdafs_bufread_start().
 *
 * User data is never reached through the user's address space after
 * submit: it is reached through the direct map (PHYS_TO_DMAP) of the pages
 * held by kqdafs_pages_hold(), so the worker threads and the I/O
 * completion path need no vmspace.
 */
#ifndef _KQDAFS_KPI_IO_H_
#define	_KQDAFS_KPI_IO_H_

#include <sys/types.h>

struct file;
struct kqdafs_bufread;
struct thread;
struct ucred;
struct vm_page;

/* Operations, as in kqdafs.h (KQDAFS_KAIO_*). */
#define	KQDAFS_IO_READ		1
#define	KQDAFS_IO_WRITE		2
#define	KQDAFS_IO_FSYNC		3

/*
 * Look up descriptor fd of td's process for operation op, as pread(2),
 * pwrite(2) and fsync(2) would: fget_cap() with CAP_PREAD, CAP_PWRITE or
 * CAP_FSYNC; FREAD for READ, FWRITE for WRITE.  On success *fpp holds a
 * reference (release with kqdafs_file_drop()).
 * Errors: EBADF (not open, or not open for the op), ENOTCAPABLE (rights),
 * ESPIPE (pipe, socket, FIFO), EINVAL (any other non-regular file).
 * Process context; may sleep.
 */
int	kqdafs_file_get(struct thread *td, int fd, int op, struct file **fpp);
/*
 * RLIMIT_FSIZE for a write of *lenp bytes at `offset` to fp by td's
 * process, checked at submit as pwrite(2) checks it in the file system
 * (ffs_write, tmpfs_write: vn_rlimit_fsizex with the writer as uio_td):
 * the worker that does the write is a kernel thread whose limits are the
 * kernel's.  At or past the limit: EFBIG, and SIGXFSZ is sent to the
 * process.  A write that crosses it is cut at the limit (*lenp reduced:
 * the write is short), as file systems that accept a clamp do.  An
 * O_APPEND file is checked at its size now (the write appends at the size
 * it finds).  Process context; may sleep (the vnode lock, for O_APPEND).
 */
int	kqdafs_write_rlimit(struct thread *td, struct file *fp, off_t offset,
	    size_t *lenp);

/* fdrop(). Process or taskqueue context; may sleep. */
void	kqdafs_file_drop(struct file *fp, struct thread *td);

/*
 * Check that kq is an open kqueue of td's process with CAP_KQUEUE_CHANGE.
 * Errors: EBADF (not open, or not a kqueue), ENOTCAPABLE.  Keeps no
 * reference (kqfd_register() takes its own).
 */
int	kqdafs_kqueue_check(struct thread *td, int kq);

/*
 * Register a kernel knote (EV_ADD | EV_ONESHOT | EV_FLAG1) for filter
 * `filter`, ident `ident`, with kn_sdata = `sdata` and udata `udata`,
 * on kqueue kq of td's process: kqfd_register(M_WAITOK).  The filter's
 * f_attach runs inside and sees EV_FLAG1.
 */
int	kqdafs_knote_register(struct thread *td, int kq, short filter,
	    uint64_t ident, uint32_t fflags, void *sdata, uint64_t udata);

/* crhold(td->td_ucred) / crfree(). */
struct ucred *kqdafs_cred_hold(struct thread *td);
void	kqdafs_cred_free(struct ucred *cred);

/* vm_map_max() of td's process's map: end of its user address space. */
uint64_t kqdafs_user_max_address(struct thread *td);

/*
 * Hold (vm_fault_quick_hold_pages) the pages under [addr, addr + len) of
 * td's process, faulting them in; writable != 0 requires write access (a
 * READ request writes the user's buffer).  ma has room for max entries.
 * Returns the number of pages held (> 0), or -1 if some page is not
 * mapped with that access, the range wraps or leaves the user map, max
 * is too small, or a page is device memory (fictitious, beyond the
 * direct map, or not write-back RAM: kqdafs_page_dmap_ok in
 * kqdafs_kpi_io.c); nothing is held then.
 * len must be > 0.  Process context; may sleep.
 */
int	kqdafs_pages_hold(struct thread *td, uint64_t addr, size_t len,
	    int writable, struct vm_page **ma, int max);
/* vm_page_unhold_pages(). Any context that may take a mutex. */
void	kqdafs_pages_release(struct vm_page **ma, int count);

/*
 * The pages under [va, va + len) of wired kernel memory (malloc(9),
 * contigmalloc(9), kmem_malloc()): the direct map or
 * pmap_extract(kernel_pmap), then vm_phys_paddr_to_vm_page(), per page,
 * into ma (room for max entries).  Nothing is held: the caller keeps the
 * memory allocated while the pages are used.  Returns the page count
 * (> 0), or -1 if len is 0, the range wraps, lies outside the direct map
 * and the kernel map, needs more than max pages, or a page is not mapped,
 * not RAM, or device memory.  Never sleeps.
 */
int	kqdafs_kva_pages(uint64_t va, size_t len, struct vm_page **ma,
	    int max);

/*
 * Reference fp (fhold) for operation op of a kernel consumer, after the
 * checks kqdafs_file_get() makes on a descriptor's file: EBADF (not
 * open for the op, O_PATH), ESPIPE, EINVAL (not a regular file, or the
 * reference count would overflow).  Release with kqdafs_file_drop().
 */
int	kqdafs_file_hold(struct file *fp, int op);

/* crhold(cred): another reference on a held credential. */
struct ucred *kqdafs_cred_ref(struct ucred *cred);

/*
 * Worker path: read or write (op) len bytes at file offset `offset` through
 * fo_read()/fo_write() with FOF_OFFSET, under credential cred, from worker
 * thread td; the buffer is the held pages ma[0..npages), starting pgoff
 * bytes into ma[0].  The uio is UIO_SYSSPACE over the direct map of the
 * pages.  *moved gets the bytes transferred (also on error, for a partial
 * transfer).  Returns 0 or an errno.  Worker thread; sleeps.
 * As in dofileread()/dofilewrite(), a transfer interrupted (EINTR,
 * ERESTART, EWOULDBLOCK) after some bytes moved returns 0; ERESTART is
 * never returned (EINTR instead).  A write to an O_APPEND file appends,
 * as pwrite(2) does on FreeBSD.
 */
int	kqdafs_file_rw(struct file *fp, struct ucred *cred, struct thread *td,
	    int op, off_t offset, struct vm_page **ma, int npages,
	    size_t pgoff, size_t len, size_t *moved);

/*
 * Worker path: fsync(2) of fp (vn_start_write, vn_lock, VOP_FSYNC with
 * MNT_WAIT).  Returns 0 or an errno.  Worker thread; sleeps.
 */
int	kqdafs_file_fsync(struct file *fp, struct ucred *cred,
	    struct thread *td);

/*
 * Buffer-cache read path, no thread per request.
 *
 * done(arg, error, nbytes) is called exactly once if and only if
 * kqdafs_bufread_start() returns 0: either before it returns (every block
 * was cached, or the range is at/past EOF) or later from the buffer I/O
 * completion path (b_iodone: GEOM's up thread; done must not sleep).
 * nbytes is the bytes copied into the pages: len clipped at the file size
 * as it was at submit; 0 at or past EOF; less where a block came back
 * short without an error (the bytes before the first byte not read, as
 * pread(2) over ffs_read() answers).  error is 0 or the first I/O error
 * (then nbytes is 0), reported only if a failed block starts before that
 * short end.
 *
 * Returns EOPNOTSUPP, having started nothing and touched nothing, when fp's
 * vnode is not on a file system this path handles (the caller then uses
 * the worker path); EBUSY, likewise, when the vnode lock is held in a way
 * a shared lock must wait for (a writer holds it exclusively): the vnode
 * is only try-locked, and the caller gives the whole request to a thread
 * that may wait; any other nonzero return is an errno for the request,
 * with nothing started.  *hits and *misses count the file system blocks
 * found cached and read from the device.  Process context (the
 * submitter's).
 *
 * What the submitter may wait for: buffer space (getblk -> getnewbuf ->
 * bufspace_wait),
 * the write-out of a delayed-write buffer getblk must not hand out
 * invalid, and, on UFS, the synchronous read of an indirect block when
 * ufs_strategy() maps a block past the direct ones (ufs_bmaparray()
 * reads it with bread() inside bstrategy()).  It never waits for a
 * buffer another thread holds locked (GB_LOCK_NOWAIT): from the first
 * such block on, the rest of the request is not started here, and
 * *restp is set (else NULL).  The caller must then pass it, exactly once,
 * to kqdafs_bufread_rest() on a thread that may sleep; done() is not
 * called before that has finished (it may be called from inside it).
 *
 * The array ma is copied: it need not outlive the call, but the pages
 * must stay held until done() has been called.  done() is never called
 * with the file's vnode locked.  Unlike read(2) this path does not update
 * the access time and makes no MAC read check (mac_vnode_check_read);
 * O_DIRECT does not bypass the cache.
 */
typedef void kqdafs_bufread_done_t(void *arg, int error, size_t nbytes);

int	kqdafs_bufread_start(struct file *fp, struct ucred *cred, off_t offset,
	    size_t len, struct vm_page **ma, int npages, size_t pgoff,
	    kqdafs_bufread_done_t *done, void *arg, uint32_t *hits,
	    uint32_t *misses, struct kqdafs_bufread **restp);

/*
 * Read the rest kqdafs_bufread_start() left (*restp) through fo_read(),
 * as the worker path does (kqdafs_file_rw, with the request's file and
 * credential, which the caller keeps held until done()), then let go of
 * it; done() may be called from inside.  Worker thread td; sleeps.
 */
void	kqdafs_bufread_rest(struct kqdafs_bufread *br, struct thread *td);

/*
 * Wait until no block read callback of kqdafs_bufread_start() is still
 * running (unload, after every request is gone).  Sleeps.
 */
void	kqdafs_bufread_drain(void);

#endif /* !_KQDAFS_KPI_IO_H_ */
