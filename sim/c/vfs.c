/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim model of the file systems under the module: vnodes and their
 * locks, a UFS-like file system over an asynchronous disk (completions
 * on a g_up thread), a non-UFS file system (tmpfs-like: no buffer cache),
 * the buffer cache, and file I/O through fo_read/fo_write/VOP_FSYNC.
 *
 * Sources read: sys/kern/vfs_bio.c (getblkx: ASSERT_VOP_LOCKED, a busy
 * buffer is waited for unless GB_LOCK_NOWAIT, the buffer is returned
 * locked, B_CACHE says its data are valid, GB_UNMAPPED leaves b_data at
 * unmapped_buf and otherwise the pages are mapped into buffer KVA
 * (bp_unmapped_get_kva, pmap_qenter); bufdone: KASSERT !B_DONE, a
 * b_iodone is cleared and called instead of the normal completion, else
 * B_CACHE for a good VMIO read, vfs_vmio_iodone, then brelse/bqrelse of
 * a B_ASYNC buffer or bdone; bqrelse/brelse: the lock must be owned by
 * the caller or the kernel (LK_KERNPROC); vfs_busy_pages; bwillwrite;
 * vfs_bio_clrbuf), sys/kern/kern_lock.c (_lockmgr_disown: only the
 * exclusive owner disowns), sys/ufs/ufs/ufs_vnops.c (ufs_strategy: bmap,
 * a hole or a bmap error completes the buffer synchronously inside
 * bstrategy with bufdone), sys/ufs/ufs/ufs_bmap.c (ufs_bmaparray reads
 * indirect blocks synchronously), sys/ufs/ffs/ffs_vnops.c (ffs_read,
 * blksize), sys/kern/vfs_vnops.c (_vn_lock, vn_read/vn_write through
 * fo_read/fo_write, vn_start_write, vn_finished_write, vn_lktype_write,
 * _vn_lock_fallback), sys/kern/kern_lock.c (lockmgr_slock_hard,
 * lockmgr_xlock_hard: LK_NOWAIT is EBUSY), sys/ufs/ffs/ffs_vnops.c
 * (ffs_write holds the vnode lock across its disk waits),
 * sys/kern/vfs_syscalls.c (kern_fsync), sys/vm/vnode_pager.c
 * (vnode_pager_clean_async), sys/geom/geom_io.c (g_io_schedule_up: the
 * g_up thread where biodone → bufdone → b_iodone runs; it must not
 * sleep).
 */
#include "ksim.h"

#include <sys/bio.h>
#include <sys/buf.h>
#include <sys/fcntl.h>
#include <sys/file.h>
#include <sys/lockmgr.h>
#include <sys/malloc.h>
#include <sys/mount.h>
#include <sys/proc.h>
#include <sys/resource.h>
#include <sys/resourcevar.h>
#include <sys/signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vnode.h>
#include <vm/vm.h>
#include <vm/vm_param.h>
#include <vm/pmap.h>
#include <vm/vm_page.h>
#include <ufs/ufs/dinode.h>

#include <vnode_if.h>

#include "ksim_world.h"

vm_page_t ksim_page_for_host(void *p);

/* vnode_if.c: the descriptors the module's VOP calls carry. */
struct vnodeop_desc vop_getattr_desc = { .vdesc_name = "vop_getattr" };
struct vnodeop_desc vop_unlock_desc = { .vdesc_name = "vop_unlock" };
struct vnodeop_desc vop_fsync_desc = { .vdesc_name = "vop_fsync" };

static char ksim_unmapped_store[PAGE_SIZE] __aligned(PAGE_SIZE);
caddr_t unmapped_buf = ksim_unmapped_store;

/* ---- files and mounts ------------------------------------------------ */

#define	KSIM_MAXBLK	4096

struct ksim_vfile {
	struct vnode	 vf_vnode;
	struct vm_object *vf_object_dummy;
	char		*vf_data;	/* file contents (the disk) */
	off_t		 vf_size;
	off_t		 vf_cap;
	int		 vf_ufs;
	uint8_t		 vf_hole[KSIM_MAXBLK];	/* lbn is a hole */
	uint8_t		 vf_bad[KSIM_MAXBLK];	/* lbn read fails (EIO) */
	uint16_t	 vf_short[KSIM_MAXBLK];	/* bytes lbn's read leaves */
	uint8_t		 vf_ind_cached;	/* indirect block in cache */
	u_long		 vf_flags;	/* i_flags (SF_SNAPSHOT, ...) */
	/* vnode lock (lockmgr): exclusive owner or shared count */
	struct thread	*vf_lk_owner;
	int		 vf_lk_shared;
	int		 vf_fsyncs;
	int		 vf_writeops;
	uint64_t	 vf_writes_as_uid[2];	/* by td_ucred == active_cred */
};

static struct mount ksim_ufs_mount, ksim_tmpfs_mount;
static char ksim_vm_object_dummy[64];

static void
ksim_mount_init(struct mount *mp, const char *fstype, int iosize, int bsize)
{

	ksim_strlcpy(mp->mnt_stat.f_fstypename, fstype,
	    sizeof(mp->mnt_stat.f_fstypename));
	mp->mnt_stat.f_iosize = iosize;
	mp->mnt_stat.f_bsize = bsize;
}

/* The disk queue served by g_up. */
struct ksim_bufx;
static struct ksim_bufx *ksim_diskq[256];
static int ksim_ndiskq;
static uint64_t ksim_diskdue[256];
static int ksim_disk_chan;

static struct ksim_vfile *
ksim_vfile(struct vnode *vp)
{

	return (__containerof(vp, struct ksim_vfile, vf_vnode));
}

static void	ksim_bufobj_strategy(struct bufobj *bo, struct buf *bp);
static struct buf_ops ksim_ufs_bufops = {
	.bop_name = "ksim_ufs",
	.bop_strategy = ksim_bufobj_strategy,
};

/*
 * Make a regular file of `size` bytes whose byte i is pattern(i), on the
 * UFS (block 32 KiB, fragment 4 KiB) or on the tmpfs-like file system.
 */
struct vnode *
ksim_file_create(off_t size, int ufs)
{
	struct ksim_vfile *vf;
	off_t i;

	if (ksim_ufs_mount.mnt_stat.f_iosize == 0) {
		ksim_mount_init(&ksim_ufs_mount, "ufs", 32768, 4096);
		ksim_mount_init(&ksim_tmpfs_mount, "tmpfs", PAGE_SIZE,
		    PAGE_SIZE);
	}
	vf = ksim_zalloc(sizeof(*vf));
	vf->vf_cap = MAX(size, 65536) * 2;
	vf->vf_data = sim_host_alloc((size_t)vf->vf_cap, PAGE_SIZE);
	for (i = 0; i < size; i++)
		vf->vf_data[i] = (char)(i * 7 + (i >> 12));
	vf->vf_size = size;
	vf->vf_ufs = ufs;
	vf->vf_vnode.v_type = VREG;
	vf->vf_vnode.v_mount = ufs ? &ksim_ufs_mount : &ksim_tmpfs_mount;
	vf->vf_vnode.v_object = (void *)ksim_vm_object_dummy;
	vf->vf_vnode.v_bufobj.bo_bsize = ufs ? 32768 : PAGE_SIZE;
	vf->vf_vnode.v_bufobj.bo_ops = &ksim_ufs_bufops;
	return (&vf->vf_vnode);
}

char *
ksim_file_data(struct vnode *vp, off_t *size)
{

	*size = ksim_vfile(vp)->vf_size;
	return (ksim_vfile(vp)->vf_data);
}

void
ksim_file_set_hole(struct vnode *vp, int lbn)
{

	ksim_vfile(vp)->vf_hole[lbn] = 1;
	memset(ksim_vfile(vp)->vf_data + (off_t)lbn * 32768, 0, 32768);
}

void
ksim_file_set_bad(struct vnode *vp, int lbn)
{

	ksim_vfile(vp)->vf_bad[lbn] = 1;
}

/* Set the inode's flags (i_flags: SF_SNAPSHOT marks a UFS snapshot). */
void
ksim_file_set_flags(struct vnode *vp, u_long flags)
{

	ksim_vfile(vp)->vf_flags = flags;
}

/*
 * The device completes reads of block lbn `resid` bytes short, without an
 * error (a provider may set bio_completed < bio_length; g_vfs_done turns
 * it into b_resid).
 */
void
ksim_file_set_short(struct vnode *vp, int lbn, int resid)
{

	ksim_vfile(vp)->vf_short[lbn] = (uint16_t)resid;
}

int
ksim_file_fsyncs(struct vnode *vp)
{

	return (ksim_vfile(vp)->vf_fsyncs);
}

/*
 * Writes made with td_ucred != the credential the write was for, and
 * fsyncs made with the kernel's credential.
 */
uint64_t
ksim_file_foreign_cred_writes(struct vnode *vp)
{

	return (ksim_vfile(vp)->vf_writes_as_uid[1]);
}

/* ---- vnode lock ---------------------------------------------------- */

static const char *
ksim_vn_lockname(struct vnode *vp)
{

	return (ksim_vfile(vp)->vf_ufs ? "ufs" : "tmpfs");
}

/*
 * The lock is held in a way that makes a request of type op wait.  A
 * vnode lock try (LK_NOWAIT) that cannot be granted at once fails: the
 * try operation (LK_TRYOP) of lockmgr_slock_hard/lockmgr_xlock_hard
 * (kern_lock.c) answers EBUSY instead of sleeping.  _vn_lock_fallback
 * (vfs_vnops.c) asserts that LK_RETRY comes with no such error
 * ("vn_lock: error %d incompatible with flags"): LK_RETRY | LK_NOWAIT
 * would panic an INVARIANTS kernel at the first contention.
 */
static int
ksim_vn_lock_busy(int flags, const char *file, int line)
{

	if ((flags & LK_NOWAIT) == 0)
		return (0);
	if ((flags & LK_RETRY) != 0)
		ksim_failf("vfs", "vn_lock: error %d incompatible with flags "
		    "%#x (%s:%d; _vn_lock_fallback's KASSERT)", EBUSY, flags,
		    file, line);
	return (EBUSY);
}

/*
 * A thread that sleeps for the vnode lock.  Counted apart for a thread
 * of a user process (a system call: the module's submit ioctl), which an
 * asynchronous submit must never do.
 */
static void
ksim_vn_lock_wait(struct ksim_vfile *vf)
{

	if ((curthread->td_pflags & TDP_KTHREAD) == 0)
		sim_count("vn_lock_slept_syscall");
	(void)sim_block(vf, "ufs", 0);
}

/*
 * _vn_lock (vfs_vnops.c) → VOP_LOCK1 → lockmgr: shared or exclusive;
 * LK_NOWAIT answers EBUSY where the lock would wait (above).  Vnodes are
 * never doomed here, so _vn_lock_fallback's ENOENT (no LK_RETRY, doomed)
 * does not occur.
 */
int
_vn_lock(struct vnode *vp, int flags, const char *file, int line)
{
	struct ksim_vfile *vf = ksim_vfile(vp);
	struct thread *td = curthread;
	int op = flags & LK_TYPE_MASK;

	sim_yield();
	if ((flags & LK_NOWAIT) == 0)
		sim_check_may_sleep("vn_lock", NULL);
	if (vf->vf_lk_owner == td)
		ksim_failf("witness", "vn_lock: recursing on vnode lock "
		    "(%s:%d)", file, line);
	if (op == LK_SHARED) {
		while (vf->vf_lk_owner != NULL) {
			if ((flags & LK_NOWAIT) != 0)
				return (ksim_vn_lock_busy(flags, file, line));
			ksim_vn_lock_wait(vf);
		}
		vf->vf_lk_shared++;
	} else if (op == LK_EXCLUSIVE) {
		while (vf->vf_lk_owner != NULL || vf->vf_lk_shared > 0) {
			if ((flags & LK_NOWAIT) != 0)
				return (ksim_vn_lock_busy(flags, file, line));
			ksim_vn_lock_wait(vf);
		}
		vf->vf_lk_owner = td;
	} else
		ksim_failf("vfs", "vn_lock: lock type %#x", op);
	sim_lock_acquired(vf, ksim_vn_lockname(vp), KSIM_LOCKMGR, 0);
	return (0);
}

static int
ksim_vn_islocked(struct vnode *vp)
{
	struct ksim_vfile *vf = ksim_vfile(vp);

	return (vf->vf_lk_owner == curthread || vf->vf_lk_shared > 0);
}

static void
ksim_vn_unlock(struct vnode *vp)
{
	struct ksim_vfile *vf = ksim_vfile(vp);

	if (vf->vf_lk_owner == curthread)
		vf->vf_lk_owner = NULL;
	else if (vf->vf_lk_shared > 0)
		vf->vf_lk_shared--;
	else
		ksim_failf("vfs", "VOP_UNLOCK of an unlocked vnode");
	sim_lock_released(vf, ksim_vn_lockname(vp));
	sim_wakeup(vf, 0);
}

int
VOP_UNLOCK_APV(const struct vop_vector *vop, struct vop_unlock_args *a)
{

	sim_yield();
	if (a->a_gen.a_desc != &vop_unlock_desc)
		ksim_failf("vfs", "VOP_UNLOCK_APV with another descriptor");
	ksim_vn_unlock(a->a_vp);
	return (0);
}

/*
 * ufs_getattr (ufs_vnops.c): va_size is i_size, va_flags is i_flags.
 * ASSERT_VOP_LOCKED in VOP_GETATTR.
 */
int
VOP_GETATTR_APV(const struct vop_vector *vop, struct vop_getattr_args *a)
{

	sim_yield();
	if (!ksim_vn_islocked(a->a_vp))
		ksim_failf("vfs", "VOP_GETATTR: vnode not locked");
	memset(a->a_vap, 0, sizeof(*a->a_vap));
	a->a_vap->va_size = (u_quad_t)ksim_vfile(a->a_vp)->vf_size;
	a->a_vap->va_flags = ksim_vfile(a->a_vp)->vf_flags;
	a->a_vap->va_type = VREG;
	return (0);
}

/* VOP_FSYNC (ffs_fsync): needs the vnode locked; may sleep. */
int
VOP_FSYNC_APV(const struct vop_vector *vop, struct vop_fsync_args *a)
{

	sim_yield();
	sim_check_may_sleep("VOP_FSYNC", NULL);
	if (!ksim_vn_islocked(a->a_vp))
		ksim_failf("vfs", "VOP_FSYNC: vnode not locked");
	ksim_vfile(a->a_vp)->vf_fsyncs++;
	/* The thread's credential is the one the fsync is charged to. */
	if (a->a_td->td_ucred == ksim_cred0)
		ksim_vfile(a->a_vp)->vf_writes_as_uid[1]++;
	return (0);
}

/* vn_lktype_write (vfs_vnops.c): exclusive unless MNTK_SHARED_WRITES. */
int
vn_lktype_write(struct mount *mp, struct vnode *vp)
{

	sim_yield();
	return (LK_EXCLUSIVE);
}

/* vn_start_write/vn_finished_write (vfs_vnops.c): balanced pairs. */
int
vn_start_write(struct vnode *vp, struct mount **mpp, int flags)
{

	sim_yield();
	if ((flags & V_WAIT) != 0)
		sim_check_may_sleep("vn_start_write(V_WAIT)", NULL);
	*mpp = vp != NULL ? vp->v_mount : NULL;
	if (*mpp != NULL)
		(*mpp)->mnt_writeopcount++;
	return (0);
}

void
vn_finished_write(struct mount *mp)
{

	sim_yield();
	if (mp == NULL)
		return;
	if (mp->mnt_writeopcount <= 0)
		ksim_failf("vfs", "vn_finished_write: neg cnt");
	mp->mnt_writeopcount--;
}

/* vnode_pager_clean_async (vnode_pager.c): starts writing dirty pages. */
void
vnode_pager_clean_async(struct vnode *vp)
{

	sim_yield();
	if (!ksim_vn_islocked(vp))
		ksim_failf("vfs", "vnode_pager_clean_async: vnode not locked");
}

/* bwillwrite (vfs_bio.c): may sleep for dirty buffer space. */
void
bwillwrite(void)
{

	sim_yield();
	sim_check_may_sleep("bwillwrite", NULL);
}

/* ---- buffers ----------------------------------------------------------- */

#define	KSIM_KERNPROC	((struct thread *)1)

struct ksim_bufx {
	struct thread	*bx_owner;	/* lock owner, KSIM_KERNPROC, NULL */
	struct vnode	*bx_vp;
	daddr_t		 bx_lbn;
	int		 bx_inuse;
	int		 bx_pages_busy;
	char		*bx_mem;	/* page-aligned contents */
	size_t		 bx_memsz;
	struct buf	 bx_buf;	/* must be last: b_pages[] */
};

#define	KSIM_NBUF	512
static struct ksim_bufx *ksim_bufs[KSIM_NBUF];

/*
 * Take buffer i out of the cache (brelse of an invalid buffer, or reuse
 * by getnewbuf): its read credential goes with it.
 */
static void
ksim_buf_forget(int i)
{
	struct ksim_bufx *bx = ksim_bufs[i];

	if (bx->bx_buf.b_rcred != NOCRED) {
		crfree(bx->bx_buf.b_rcred);
		bx->bx_buf.b_rcred = NOCRED;
	}
	bx->bx_inuse = 0;
	ksim_bufs[i] = NULL;
}

static struct ksim_bufx *
ksim_bx(struct buf *bp)
{

	return (__containerof(bp, struct ksim_bufx, bx_buf));
}

static void
ksim_buf_lock_release(struct buf *bp, const char *fn)
{
	struct ksim_bufx *bx = ksim_bx(bp);

	if (bx->bx_owner == KSIM_KERNPROC) {
		/* Disowned: whoever completes the I/O releases it. */
	} else if (bx->bx_owner == curthread)
		sim_lock_released(bx, "bufwait");
	else
		ksim_failf("buf", "%s: buffer %p not locked by this thread "
		    "(lockmgr: not exclusive lock owner)", fn, bp);
	bx->bx_owner = NULL;
	sim_wakeup(bx, 0);
}

/*
 * getblk (vfs_bio.c getblk -> getblkx), for the sim's UFS: the vnode must
 * be locked; a buffer another thread (or the kernel, LK_KERNPROC: I/O in
 * flight) holds locked is waited for, or with GB_LOCK_NOWAIT not: getblkx
 * try-locks the buffer found (BUF_TIMELOCK with LK_NOWAIT) and, with
 * GB_LOCK_NOWAIT, returns the try-lock's EBUSY at once, which getblk
 * turns into NULL; the size of a cached buffer must match.
 */
struct buf *
getblk(struct vnode *vp, daddr_t blkno, int size, int slpflag, int slptimeo,
    int flags)
{
	struct ksim_vfile *vf = ksim_vfile(vp);
	struct ksim_bufx *bx;
	struct buf *bp;
	size_t memsz;
	int i, npages, slot;

	sim_yield();
	if (!ksim_vn_islocked(vp))
		ksim_failf("buf", "getblk: vnode not locked");
	if (blkno < 0 || blkno >= KSIM_MAXBLK || size <= 0 || size > MAXBSIZE)
		ksim_failf("buf", "getblk: lbn %jd size %d", (intmax_t)blkno,
		    size);
	if ((flags & GB_NOWITNESS) == 0) {
		sim_count("getblk_witness");
		/*
		 * A UFS snapshot's buffer locks are taken in an order WITNESS
		 * reports as a reversal (ffs_snapshot.c ffs_copyonwrite locks
		 * snapshot blocks while other buffers are locked): ffs_read
		 * (ffs_vnops.c) passes GB_NOWITNESS for IS_SNAPSHOT(ip), and
		 * getblkx turns it into LK_NOWITNESS.  Without it a WITNESS
		 * kernel reports the lock order (a panic with
		 * debug.witness.kdb).
		 */
		if ((vf->vf_flags & SF_SNAPSHOT) != 0)
			ksim_failf("witness", "getblk of a UFS snapshot's "
			    "block %jd without GB_NOWITNESS (ffs_read passes "
			    "it for snapshots; lock order reversal)",
			    (intmax_t)blkno);
	}
again:
	slot = -1;
	for (i = 0; i < KSIM_NBUF; i++) {
		bx = ksim_bufs[i];
		if (bx == NULL) {
			if (slot < 0)
				slot = i;
			continue;
		}
		if (bx->bx_vp != vp || bx->bx_lbn != blkno)
			continue;
		if (bx->bx_owner != NULL) {
			if ((flags & GB_LOCK_NOWAIT) != 0)
				return (NULL);
			sim_check_may_sleep("getblk (busy buffer)", NULL);
			sim_count("getblk_waited_busy");
			(void)sim_block(bx, "getblk", 0);
			goto again;
		}
		bp = &bx->bx_buf;
		if (bp->b_bcount != size) {
			/* The file grew: this model drops the old buffer. */
			ksim_buf_forget(i);
			continue;
		}
		bx->bx_owner = curthread;
		sim_lock_acquired(bx, "bufwait", KSIM_LOCKMGR, 1);
		bp->b_flags &= ~(B_ASYNC | B_DONE | B_INVAL | B_NOCACHE |
		    B_RELBUF);
		if ((flags & GB_UNMAPPED) == 0 && !buf_mapped(bp)) {
			/* bp_unmapped_get_kva + pmap_qenter. */
			sim_count("getblk_kva_mapped");
			bp->b_data = bx->bx_mem;
		} else if ((flags & GB_UNMAPPED) != 0 && buf_mapped(bp) &&
		    (bp->b_flags & B_CACHE) == 0)
			bp->b_data = unmapped_buf;
		sim_count(bp->b_flags & B_CACHE ? "getblk_hit" :
		    "getblk_invalid");
		return (bp);
	}
	if (slot < 0) {
		/* getnewbuf: reuse the first clean buffer nobody holds. */
		for (i = 0; i < KSIM_NBUF && slot < 0; i++)
			if (ksim_bufs[i]->bx_owner == NULL) {
				ksim_buf_forget(i);
				slot = i;
			}
		if (slot < 0)
			sim_fail("sim", "buffer cache full of locked buffers");
	}
	npages = (int)howmany(size, PAGE_SIZE);
	memsz = (size_t)npages * PAGE_SIZE;
	bx = ksim_zalloc(sizeof(*bx) + (size_t)npages * sizeof(vm_page_t));
	bx->bx_mem = sim_host_alloc(memsz, PAGE_SIZE);
	bx->bx_memsz = memsz;
	bx->bx_vp = vp;
	bx->bx_lbn = blkno;
	bx->bx_inuse = 1;
	bx->bx_owner = curthread;
	bp = &bx->bx_buf;
	bp->b_bufobj = &vp->v_bufobj;
	bp->b_vp = vp;
	bp->b_lblkno = bp->b_blkno = blkno;
	bp->b_offset = (off_t)blkno * vp->v_bufobj.bo_bsize;
	bp->b_bcount = bp->b_bufsize = size;
	bp->b_flags = B_VMIO;
	bp->b_npages = npages;
	bp->b_rcred = NOCRED;
	bp->b_wcred = NOCRED;
	for (i = 0; i < npages; i++)
		bp->b_pages[i] = ksim_page_for_host(bx->bx_mem +
		    (size_t)i * PAGE_SIZE);
	if ((flags & GB_UNMAPPED) != 0)
		bp->b_data = unmapped_buf;
	else {
		sim_count("getblk_kva_mapped");
		bp->b_data = bx->bx_mem;
	}
	ksim_bufs[slot] = bx;
	sim_lock_acquired(bx, "bufwait", KSIM_LOCKMGR, 1);
	sim_count("getblk_new");
	(void)vf;
	return (bp);
}

/*
 * Another kernel thread holds block lbn of vp locked for `ticks` ticks of
 * virtual time without the vnode lock, as a buffer under write-out stays
 * locked until its write completes after the vnode lock was let go
 * (bufdaemon: flushbufqueues -> bawrite, vfs_bio.c), or as a reader holds
 * it while it waits for its data (bread): what a getblk of that block
 * from elsewhere meets meanwhile.
 */
struct ksim_hold {
	struct vnode	*h_vp;
	daddr_t		 h_lbn;
	int		 h_size;
	uint64_t	 h_ticks;
};

static void
ksim_buf_holder(void *arg)
{
	struct ksim_hold *h = arg;
	struct buf *bp;

	(void)_vn_lock(h->h_vp, LK_SHARED, __FILE__, __LINE__);
	bp = getblk(h->h_vp, h->h_lbn, h->h_size, 0, 0, GB_UNMAPPED);
	ksim_vn_unlock(h->h_vp);
	(void)sim_block(h, "biowr", h->h_ticks);
	bqrelse(bp);
}

void
ksim_buf_hold(struct vnode *vp, int lbn, uint64_t ticks)
{
	struct ksim_vfile *vf = ksim_vfile(vp);
	struct ksim_hold *h;
	off_t tail;

	h = ksim_zalloc(sizeof(*h));
	h->h_vp = vp;
	h->h_lbn = lbn;
	/* blksize (ufs/ffs/fs.h): a fragment-sized last direct block. */
	tail = vf->vf_size - (off_t)lbn * 32768;
	h->h_size = lbn >= UFS_NDADDR || tail >= 32768 ? 32768 :
	    (int)roundup2(tail, 4096);
	h->h_ticks = ticks;
	sim_spawn_kthread("bufholder", KSIM_KERNEL, ksim_buf_holder, h);
}

/*
 * Another kernel thread holds vp's lock exclusively for `ticks` ticks of
 * virtual time, as a writer does: vn_write (vfs_vnops.c) locks the vnode
 * LK_EXCLUSIVE on a file system without MNTK_SHARED_WRITES (UFS) for the
 * whole VOP_WRITE, and ffs_write (ffs_vnops.c) can sleep on the disk
 * inside it (UFS_BALLOC's read-before-write of a partial block, bwrite
 * for IO_SYNC).  What a vn_lock of vp from elsewhere meets meanwhile.
 */
struct ksim_vnhold {
	struct vnode	*vh_vp;
	uint64_t	 vh_ticks;
};

static void
ksim_vn_holder(void *arg)
{
	struct ksim_vnhold *h = arg;

	(void)_vn_lock(h->vh_vp, LK_EXCLUSIVE, __FILE__, __LINE__);
	(void)sim_block(h, "ffswr", h->vh_ticks);
	ksim_vn_unlock(h->vh_vp);
}

void
ksim_vn_hold(struct vnode *vp, uint64_t ticks)
{
	struct ksim_vnhold *h;

	h = ksim_zalloc(sizeof(*h));
	h->vh_vp = vp;
	h->vh_ticks = ticks;
	sim_spawn_kthread("vnholder", KSIM_KERNEL, ksim_vn_holder, h);
}

/* _lockmgr_disown (kern_lock.c) of a buffer lock: BUF_KERNPROC. */
void
_lockmgr_disown(struct lock *lk, const char *file, int line)
{
	struct ksim_bufx *bx = __containerof(__containerof(lk, struct buf,
	    b_lock), struct ksim_bufx, bx_buf);

	sim_yield();
	if (bx->bx_owner != curthread)
		ksim_failf("buf", "_lockmgr_disown: buffer lock not owned "
		    "exclusively by this thread (%s:%d)", file, line);
	sim_lock_disowned(bx, "bufwait");
	bx->bx_owner = KSIM_KERNPROC;
}

/* vfs_busy_pages (vfs_bio.c): pages busied until vfs_vmio_iodone. */
void
vfs_busy_pages(struct buf *bp, int clear_modify)
{
	struct ksim_bufx *bx = ksim_bx(bp);

	sim_yield();
	if (bx->bx_owner != curthread && bx->bx_owner != KSIM_KERNPROC)
		ksim_failf("buf", "vfs_busy_pages: buffer not locked");
	if (bx->bx_pages_busy)
		ksim_failf("buf", "vfs_busy_pages: pages already busy");
	bx->bx_pages_busy = 1;
}

/* bqrelse (vfs_bio.c): unlock; the buffer stays cached. */
void
bqrelse(struct buf *bp)
{

	sim_yield();
	if (ksim_bx(bp)->bx_pages_busy)
		ksim_failf("buf", "bqrelse: pages still busy (I/O not done)");
	ksim_buf_lock_release(bp, "bqrelse");
}

/* brelse (vfs_bio.c): an error or B_INVAL/B_NOCACHE invalidates. */
void
brelse(struct buf *bp)
{
	struct ksim_bufx *bx = ksim_bx(bp);
	int i;

	sim_yield();
	if (bx->bx_pages_busy)
		ksim_failf("buf", "brelse: pages still busy (I/O not done)");
	if ((bp->b_ioflags & BIO_ERROR) != 0 ||
	    (bp->b_flags & (B_INVAL | B_NOCACHE | B_RELBUF)) != 0) {
		bp->b_flags &= ~B_CACHE;
		bp->b_flags |= B_INVAL;
		for (i = 0; i < KSIM_NBUF; i++)
			if (ksim_bufs[i] == bx)
				ksim_buf_forget(i);
	}
	ksim_buf_lock_release(bp, "brelse");
}

/* vfs_bio_clrbuf (vfs_bio.c): a hole reads as zeroes. */
static void
ksim_clrbuf(struct buf *bp)
{

	memset(ksim_bx(bp)->bx_mem, 0, (size_t)bp->b_bcount);
	bp->b_resid = 0;
}

/*
 * bufdone (vfs_bio.c).  The sim checks that it runs where FreeBSD runs
 * it (the buffer locked by the kernel or this thread) and, around a
 * b_iodone, that nothing sleeps.
 */
void
bufdone(struct buf *bp)
{
	struct ksim_bufx *bx = ksim_bx(bp);
	void (*biodone)(struct buf *);

	sim_yield();
	if ((bp->b_flags & B_DONE) != 0)
		ksim_failf("buf", "biodone: bp %p bp->b_flags & B_DONE", bp);
	if (bx->bx_owner == NULL)
		ksim_failf("buf", "bufdone of an unlocked buffer %p", bp);
	if (bp->b_iodone != NULL) {
		biodone = bp->b_iodone;
		bp->b_iodone = NULL;
		sim_nosleep_enter("b_iodone");
		sim_hb_acquire(bp);
		sim_module_enter("b_iodone");
		(*biodone)(bp);
		sim_module_exit();
		sim_nosleep_exit();
		return;
	}
	if ((bp->b_flags & B_VMIO) != 0) {
		if (bp->b_iocmd == BIO_READ &&
		    (bp->b_flags & (B_INVAL | B_NOCACHE)) == 0 &&
		    (bp->b_ioflags & BIO_ERROR) == 0)
			bp->b_flags |= B_CACHE;
		bx->bx_pages_busy = 0;		/* vfs_vmio_iodone */
	}
	if ((bp->b_flags & B_ASYNC) != 0) {
		if ((bp->b_flags & (B_NOCACHE | B_INVAL | B_RELBUF)) != 0 ||
		    (bp->b_ioflags & BIO_ERROR) != 0)
			brelse(bp);
		else
			bqrelse(bp);
	} else {
		bp->b_flags |= B_DONE;		/* bdone */
		sim_wakeup(bp, 0);
	}
}

/*
 * The device under the UFS: fill the buffer from the file's blocks, then
 * g_vfs_done (geom_vfs.c): b_error and BIO_ERROR from bio_error, b_resid
 * = b_bcount - bio_completed (also without an error), bufdone.
 */
static void
ksim_disk_complete(struct ksim_bufx *bx)
{
	struct ksim_vfile *vf = ksim_vfile(bx->bx_vp);
	struct buf *bp = &bx->bx_buf;
	off_t completed, off, n;

	if (vf->vf_bad[bx->bx_lbn]) {
		bp->b_error = EIO;
		bp->b_ioflags |= BIO_ERROR;
		bp->b_resid = bp->b_bcount;
	} else {
		off = bp->b_offset;
		completed = MAX(0, bp->b_bcount - vf->vf_short[bx->bx_lbn]);
		n = MIN(completed, MAX(0, vf->vf_size - off));
		memset(bx->bx_mem, 0, (size_t)bp->b_bcount);
		if (n > 0)
			memcpy(bx->bx_mem, vf->vf_data + off, (size_t)n);
		bp->b_resid = bp->b_bcount - completed;
	}
	bufdone(bp);
}

/* g_up (geom_io.c g_io_schedule_up): completes disk I/O in due order. */
static void
ksim_g_up(void *arg)
{
	struct ksim_bufx *bx;
	uint64_t now, due;
	int i, best;

	for (;;) {
		if (ksim_ndiskq == 0) {
			(void)sim_block(&ksim_disk_chan, "-", 0);
			continue;
		}
		now = sim_ticks();
		best = 0;
		for (i = 1; i < ksim_ndiskq; i++)
			if (ksim_diskdue[i] < ksim_diskdue[best])
				best = i;
		due = ksim_diskdue[best];
		if (due > now) {
			(void)sim_block(&ksim_disk_chan, "-", due - now);
			continue;
		}
		bx = ksim_diskq[best];
		ksim_diskq[best] = ksim_diskq[--ksim_ndiskq];
		ksim_diskdue[best] = ksim_diskdue[ksim_ndiskq];
		sim_nosleep_enter("g_up");
		ksim_disk_complete(bx);
		sim_nosleep_exit();
	}
}

void
ksim_vfs_boot(void)
{

	sim_spawn_kthread("g_up", KSIM_KERNEL, ksim_g_up, NULL);
}

/* Disk requests not yet completed. */
int
ksim_disk_pending(void)
{

	return (ksim_ndiskq);
}

/*
 * ufs_bmaparray for lbn >= UFS_NDADDR reads the indirect block through
 * the buffer cache and waits for it (bread): the submitter sleeps on the
 * disk.  The first such lookup of a file misses.
 */
static void
ksim_bmap_indirect(struct ksim_vfile *vf)
{

	if (vf->vf_ind_cached)
		return;
	sim_check_may_sleep("ufs_bmaparray (indirect block read)", NULL);
	sim_count("bmap_indirect_read");
	(void)sim_block(&vf->vf_ind_cached, "biord", 2);
	vf->vf_ind_cached = 1;
}

/* The bufobj strategy: ufs_strategy for the sim's UFS files. */
static void
ksim_bufobj_strategy(struct bufobj *bo, struct buf *bp)
{
	sim_ptr_entry();
	struct ksim_bufx *bx = ksim_bx(bp);
	struct ksim_vfile *vf = ksim_vfile(bp->b_vp);

	sim_yield();
	/* Handed to the I/O path: ordered before its completion (bufdone). */
	sim_hb_release(bp);
	if (bp->b_iocmd != BIO_READ)
		ksim_failf("buf", "bstrategy: only reads are modelled");
	if (!ksim_vn_islocked(bp->b_vp))
		ksim_failf("buf", "ufs_strategy: bmap needs the vnode lock");
	if (bx->bx_owner == NULL)
		ksim_failf("buf", "bstrategy of an unlocked buffer");
	if (!bx->bx_pages_busy)
		ksim_failf("buf", "bstrategy of a VMIO read without "
		    "vfs_busy_pages");
	if (bp->b_lblkno >= UFS_NDADDR)
		ksim_bmap_indirect(vf);
	if (vf->vf_hole[bp->b_lblkno]) {
		/* A hole: zeroed and completed right here. */
		ksim_clrbuf(bp);
		bufdone(bp);
		return;
	}
	if (ksim_ndiskq == (int)nitems(ksim_diskq))
		sim_fail("sim", "disk queue full");
	ksim_diskq[ksim_ndiskq] = bx;
	ksim_diskdue[ksim_ndiskq] = sim_ticks() + 1 + sim_rand() % 4;
	ksim_ndiskq++;
	sim_wakeup(&ksim_disk_chan, 0);
	return;
}

/*
 * Write operations started and not finished on the sim's mounts: none
 * once all I/O is done (vfs_write_suspend waits for mnt_writeopcount to
 * drain, so a lost vn_finished_write blocks snapshots and suspension
 * forever).
 */
int
ksim_write_ops(void)
{

	return (ksim_ufs_mount.mnt_writeopcount +
	    ksim_tmpfs_mount.mnt_writeopcount);
}

/* Buffers left locked (by anyone) — none once all I/O is done. */
int
ksim_bufs_locked(void)
{
	int i, n;

	n = 0;
	for (i = 0; i < KSIM_NBUF; i++)
		if (ksim_bufs[i] != NULL && ksim_bufs[i]->bx_owner != NULL)
			n++;
	return (n);
}

/* Cached buffers whose read credential is not NOCRED. */
int
ksim_bufs_with_cred(void)
{
	int i, n;

	n = 0;
	for (i = 0; i < KSIM_NBUF; i++)
		if (ksim_bufs[i] != NULL &&
		    ksim_bufs[i]->bx_buf.b_rcred != NOCRED)
			n++;
	return (n);
}

/* Drop every clean cached buffer of vp (as a remount would). */
void
ksim_bufs_flush(struct vnode *vp)
{
	int i;

	for (i = 0; i < KSIM_NBUF; i++)
		if (ksim_bufs[i] != NULL && ksim_bufs[i]->bx_vp == vp &&
		    ksim_bufs[i]->bx_owner == NULL)
			ksim_buf_forget(i);
}

/* ---- file I/O (vn_read/vn_write, vfs_vnops.c) ------------------------- */

/*
 * vn_rlimit_fsizex (vfs_vnops.c, vn_rlimit_fsizex1): only regular files;
 * the file system's maximum (maxfsz, if not 0) first: EFBIG at or past
 * it, else clamped with resid_adj, EFBIG without; no limit for td NULL or
 * an accounting write (TDP2_ACCT); lim = lim_cur(td, RLIMIT_FSIZE), the
 * limit of td's process (ktrace's own limit, TDP_INKTRACE, is not
 * modelled); within it: 0; crossing it with resid_adj and uio_offset
 * below it: uio_resid cut to the limit; else SIGXFSZ to td's process
 * (vn_send_sigxfsz: PROC_LOCK, kern_psignal) and EFBIG.  *resid_adj gets
 * what was cut.
 */
int
vn_rlimit_fsizex(const struct vnode *vp, struct uio *uio, off_t maxfsz,
    ssize_t *resid_adj, struct thread *td)
{
	struct ksim_proc *kp;
	ssize_t resid_orig;
	uint64_t lim;
	int error;

	sim_yield();
	resid_orig = uio->uio_resid;
	error = 0;
	if (vp->v_type != VREG)
		goto out;
	if (maxfsz != 0 && uio->uio_offset + uio->uio_resid > maxfsz) {
		if (resid_adj == NULL || uio->uio_offset >= maxfsz) {
			error = EFBIG;
			goto out;
		}
		uio->uio_resid = maxfsz - uio->uio_offset;
	}
	if (td == NULL || (td->td_pflags2 & TDP2_ACCT) != 0)
		goto out;
	kp = __containerof(td->td_proc, struct ksim_proc, kp_proc);
	lim = td->td_limit->pl_rlimit[RLIMIT_FSIZE].rlim_cur;	/* lim_cur */
	if ((uint64_t)uio->uio_offset + (uint64_t)uio->uio_resid <= lim)
		goto out;
	if (resid_adj != NULL && (uint64_t)uio->uio_offset < lim) {
		uio->uio_resid = (ssize_t)(lim - (uint64_t)uio->uio_offset);
		goto out;
	}
	kp->kp_sigs |= (uint64_t)1 << SIGXFSZ;
	error = EFBIG;
out:
	if (resid_adj != NULL)
		*resid_adj = resid_orig - uio->uio_resid;
	return (error);
}

/*
 * How many of the n bytes at off a read of the sim's UFS moves before a
 * block whose device read fails.  ffs_read (ffs_vnops.c) goes block by
 * block through bread_gb/cluster_read/breadn_flags and, at the first
 * block whose read fails, releases the buffer and breaks out of its loop
 * with the error: the blocks before it were already moved (uio_resid
 * counts them), the error is what VOP_READ returns.  A failed read leaves
 * no valid buffer behind (brelse of a BIO_ERROR buffer invalidates it),
 * so the block fails again at every read.  Holes read as zeroes (the
 * data were zeroed by ksim_file_set_hole); a block the device returns
 * short without an error (vf_short) is not modelled on this path.
 */
static size_t
ksim_ufs_readable(struct ksim_vfile *vf, off_t off, size_t n)
{
	off_t lbn;

	if (!vf->vf_ufs)
		return (n);
	for (lbn = off / 32768; lbn * 32768 < off + (off_t)n; lbn++)
		if (lbn < KSIM_MAXBLK && vf->vf_bad[lbn])
			return ((size_t)(MAX(lbn * 32768, off) - off));
	return (n);
}

static int
ksim_uio_move(struct ksim_vfile *vf, struct uio *uio)
{
	struct iovec *iov;
	off_t off;
	size_t m, n;
	int error, i;

	if (uio->uio_segflg != UIO_SYSSPACE)
		ksim_failf("vfs", "the sim's fo_read/fo_write take kernel "
		    "buffers only");
	off = uio->uio_offset;
	error = 0;
	for (i = 0; i < uio->uio_iovcnt && uio->uio_resid > 0; i++) {
		iov = &uio->uio_iov[i];
		n = MIN(iov->iov_len, (size_t)uio->uio_resid);
		if (uio->uio_rw == UIO_READ) {
			if (off >= vf->vf_size)
				break;
			n = (size_t)MIN((off_t)n, vf->vf_size - off);
			m = ksim_ufs_readable(vf, off, n);
			if (m < n) {
				n = m;
				error = EIO;
			}
			memcpy(iov->iov_base, vf->vf_data + off, n);
		} else {
			if (off + (off_t)n > vf->vf_cap)
				return (EFBIG);
			memcpy(vf->vf_data + off, iov->iov_base, n);
			if (off + (off_t)n > vf->vf_size)
				vf->vf_size = off + (off_t)n;
		}
		off += (off_t)n;
		uio->uio_resid -= (ssize_t)n;
		if (error != 0)
			break;
	}
	uio->uio_offset = off;
	return (error);
}

static int
ksim_vn_rw(struct file *fp, struct uio *uio, struct ucred *active_cred,
    int flags, struct thread *td)
{
	sim_ptr_entry();
	struct vnode *vp = fp->f_vnode;
	struct ksim_vfile *vf = ksim_vfile(vp);
	ssize_t adj;
	int error, i;

	sim_yield();
	sim_check_may_sleep("vn_rdwr", NULL);
	if ((flags & FOF_OFFSET) == 0)
		ksim_failf("vfs", "fo_read/fo_write without FOF_OFFSET");
	if (uio->uio_td != td)
		ksim_failf("vfs", "uio_td is not the calling thread");
	(void)_vn_lock(vp, uio->uio_rw == UIO_READ ? LK_SHARED :
	    LK_EXCLUSIVE, __FILE__, __LINE__);
	adj = 0;
	if (uio->uio_rw == UIO_WRITE) {
		vf->vf_writeops++;
		vf->vf_writes_as_uid[td->td_ucred != active_cred ? 1 : 0]++;
		/*
		 * vn_write passes IO_APPEND for O_APPEND; ffs_write and
		 * tmpfs_write then write at the file's size, and check
		 * RLIMIT_FSIZE with the writing thread (uio_td).
		 */
		if ((fp->f_flag & O_APPEND) != 0)
			uio->uio_offset = vf->vf_size;
		error = vn_rlimit_fsizex(vp, uio, 0, &adj, uio->uio_td);
		if (error != 0) {
			uio->uio_resid += adj;
			ksim_vn_unlock(vp);
			return (error);
		}
	}
	error = ksim_uio_move(vf, uio);
	uio->uio_resid += adj;		/* vn_rlimit_fsizex_res */
	/* Keep the cached buffers coherent with the written data. */
	if (uio->uio_rw == UIO_WRITE)
		for (i = 0; i < KSIM_NBUF; i++)
			if (ksim_bufs[i] != NULL && ksim_bufs[i]->bx_vp == vp &&
			    ksim_bufs[i]->bx_owner == NULL)
				ksim_buf_forget(i);
	ksim_vn_unlock(vp);
	return (error);
}

static int
ksim_vn_close(struct file *fp, struct thread *td)
{

	sim_check_may_sleep("vn_close", NULL);
	return (0);
}

static struct fileops ksim_vnops = {
	.fo_read = ksim_vn_rw,
	.fo_write = ksim_vn_rw,
	.fo_close = ksim_vn_close,
	.fo_flags = DFLAG_PASSABLE | DFLAG_SEEKABLE,
};

/* open(2) of a file made by ksim_file_create. */
int
ksim_sys_open_file(struct vnode *vp, int oflags)
{
	struct file *fp;
	int fd;

	fp = ksim_file_alloc(DTYPE_VNODE, &ksim_vnops, vp, vp,
	    FFLAGS(oflags) & FMASK, curthread->td_ucred);
	fd = ksim_fd_install(ksim_curproc(), fp);
	if (fd < 0)
		(void)ksim_fdrop(fp, curthread);
	return (fd);
}

/* A descriptor of another kind: a pipe, a socket, or an O_PATH file. */
int
ksim_sys_open_other(int kind)
{
	struct file *fp;
	int fd;

	if (kind == 2)
		fp = ksim_file_alloc(DTYPE_VNODE,
		    __DECONST(struct fileops *, &path_fileops), NULL,
		    ksim_file_create(0, 1), 0, curthread->td_ucred);
	else
		fp = ksim_file_alloc(kind == 0 ? DTYPE_PIPE : DTYPE_SOCKET,
		    &ksim_vnops, NULL, NULL, FREAD | FWRITE,
		    curthread->td_ucred);
	fd = ksim_fd_install(ksim_curproc(), fp);
	if (fd < 0)
		(void)ksim_fdrop(fp, curthread);
	return (fd);
}

/* Fill a file with kqdafs_ctest_byte(off) (the test consumer's pattern). */
void
ksim_file_fill_ctest(struct vnode *vp)
{
	struct ksim_vfile *vf = ksim_vfile(vp);
	off_t i;

	for (i = 0; i < vf->vf_size; i++)
		vf->vf_data[i] = (char)(((uint64_t)(i + 1) *
		    0x9e3779b97f4a7c15ULL) >> 56);
}
