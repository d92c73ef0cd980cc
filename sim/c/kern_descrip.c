/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim models of processes, threads, credentials and file descriptors.
 * Sources read: sys/kern/kern_descrip.c (_fget, fget, fget_read,
 * fget_write, fget_unlocked_seq, filecaps_fill, fdfree, _fdrop,
 * kern_close, fdclose), sys/kern/kern_prot.c (crhold, crfree),
 * sys/kern/kern_thread.c, sys/kern/subr_capability.c (cap_pread_rights,
 * ...), sys/kern/sys_capability.c (cap_check_failed_notcapable,
 * sys_cap_rights_limit, kern_cap_rights_limit, cap_ioctl_check),
 * sys/kern/sys_generic.c (kern_ioctl), sys/kern/vfs_vnops.c
 * (path_fileops),
 * sys/amd64/include/pcpu_aux.h (curthread through %gs),
 * sys/kern/kern_resource.c (lim_alloc, kern_proc_setrlimit: a new plimit
 * copied from the old one, p_limit replaced, the process's cow generation
 * bumped), sys/kern/kern_thread.c (thread_cow_get, thread_cow_update:
 * td_limit is the process's p_limit as of the thread's last system call
 * entry), sys/kern/subr_syscall.c (syscallenter: thread_cow_update when
 * the cow generation changed), sys/kern/kern_priv.c (priv_check,
 * priv_check_cred), sys/vm/vm_mmap.c and sys/vm/vm_map.c (what mlock(2)
 * does to the process's pmap wired count and to vm_user_wire_count).
 *
 * Capsicum: every descriptor slot has its rights (fde_caps), all of them
 * when installed, fewer after cap_rights_limit(2); the fget* models check
 * the rights their caller names as fget_unlocked does (ENOTCAPABLE).
 * Not modelled: capability mode (cap_enter(2), ECAPMODE: it restricts
 * global namespaces, namei and the like, none of which the modules
 * reach), ioctl and fcntl lists (cap_ioctls_limit(2), cap_fcntls_limit(2)),
 * ktrace's capability-failure records and kern.trap_enotcap.
 */
#include "ksim.h"

#include <sys/param.h>
#include <sys/capsicum.h>
#include <sys/file.h>
#include <sys/priv.h>
#include <sys/resource.h>
#include <sys/resourcevar.h>
#include <sys/filedesc.h>
#include <sys/ucred.h>
#include <sys/vnode.h>
#include <vm/vm.h>
#include <vm/pmap.h>
#include <vm/vm_map.h>

#include "ksim_world.h"

int	arch_prctl(int code, unsigned long addr);	/* Linux, for %gs */
#define	KSIM_ARCH_SET_GS	0x1001

struct ksim_thread {
	struct thread	kt_td;
	struct pcpu	kt_pcpu __aligned(64);
};

static struct ksim_proc ksim_proc0_store;
struct ucred *ksim_cred0;

/*
 * subr_capability.c (FreeBSD 15): the rights sets, each made with
 * CAP_RIGHTS_INITIALIZER from sys/capsicum.h as the kernel makes them:
 * cap_pread_rights is CAP_PREAD (CAP_SEEK | CAP_READ), cap_pwrite_rights
 * CAP_PWRITE (CAP_SEEK | CAP_WRITE), cap_no_rights none.  The model uses
 * cap_ioctl_rights and cap_fcntl_rights to tell whether a limit kept
 * CAP_IOCTL and CAP_FCNTL (kern_cap_rights_limit's cap_rights_is_set).
 */
const cap_rights_t cap_pread_rights = CAP_RIGHTS_INITIALIZER(CAP_PREAD);
const cap_rights_t cap_pwrite_rights = CAP_RIGHTS_INITIALIZER(CAP_PWRITE);
const cap_rights_t cap_fsync_rights = CAP_RIGHTS_INITIALIZER(CAP_FSYNC);
const cap_rights_t cap_ioctl_rights = CAP_RIGHTS_INITIALIZER(CAP_IOCTL);
const cap_rights_t cap_fcntl_rights = CAP_RIGHTS_INITIALIZER(CAP_FCNTL);
const cap_rights_t cap_no_rights = CAP_RIGHTS_INITIALIZER(0ULL);

/*
 * Every credential and file the sim made, for the end-of-run reference
 * check (ksim_cred_leak): the sim keeps their memory, so a credential's
 * cr_ref can be compared with the references the world knows of.
 */
#define	KSIM_NCREDS	1024
#define	KSIM_NFILES	8192
static struct ucred *ksim_creds[KSIM_NCREDS];
static int ksim_ncreds;
static struct file *ksim_files[KSIM_NFILES];
static int ksim_nfiles, ksim_files_untracked;

static struct ucred *
ksim_cred_new(uid_t uid)
{
	struct ucred *cr;

	cr = ksim_zalloc(sizeof(*cr));
	if (ksim_ncreds == KSIM_NCREDS)
		sim_fail("sim", "too many credentials");
	ksim_creds[ksim_ncreds++] = cr;
	cr->cr_ref = 1;
	cr->cr_users = 1;
	cr->cr_uid = cr->cr_ruid = cr->cr_svuid = uid;
	return (cr);
}

/*
 * lim_alloc (kern_resource.c): a plimit with one reference.  Every limit
 * is RLIM_INFINITY (proc0_init, init_main.c), but RLIMIT_MEMLOCK, which
 * login(1) sets from the "default" class of /etc/login.conf
 * (memorylocked=64M) for a user process; proc0's is left infinite (its
 * real value, a third of pageable memory, has no meaning here).
 */
static struct plimit *
ksim_lim_new(rlim_t memlock)
{
	struct plimit *lim;
	int i;

	lim = ksim_zalloc(sizeof(*lim));
	lim->pl_refcnt = 1;
	for (i = 0; i < RLIM_NLIMITS; i++)
		lim->pl_rlimit[i].rlim_cur = lim->pl_rlimit[i].rlim_max =
		    RLIM_INFINITY;
	lim->pl_rlimit[RLIMIT_MEMLOCK].rlim_cur = memlock;
	return (lim);
}

static void
ksim_proc_init(struct ksim_proc *kp, pid_t pid, uid_t uid)
{

	kp->kp_proc.p_pid = pid;
	kp->kp_proc.p_limit = ksim_lim_new(pid == 0 ? RLIM_INFINITY :
	    64 * 1024 * 1024);
	kp->kp_proc.p_ucred = ksim_cred_new(uid);
	kp->kp_proc.p_vmspace = &kp->kp_vm;
	kp->kp_vmin = KSIM_UVA_MIN;
	kp->kp_vmax = KSIM_UVA_MAX;
	ksim_strlcpy(kp->kp_proc.p_comm, pid == 0 ? "kernel" : "simproc",
	    sizeof(kp->kp_proc.p_comm));
}

struct ksim_proc *
ksim_proc0(void)
{

	if (ksim_proc0_store.kp_proc.p_ucred == NULL) {
		ksim_proc_init(&ksim_proc0_store, 0, 0);
		ksim_cred0 = ksim_proc0_store.kp_proc.p_ucred;
	}
	return (&ksim_proc0_store);
}

/* A user process (fork(2) of a process with an empty descriptor table). */
struct ksim_proc *
ksim_proc_create(pid_t pid, uid_t uid)
{
	struct ksim_proc *kp;

	kp = ksim_zalloc(sizeof(*kp));
	ksim_proc_init(kp, pid, uid);
	return (kp);
}

/* The Rust engine asks for a thread of proc (proc0 if NULL). */
void *
ksim_thread_create(int is_kernel, void *proc)
{
	struct ksim_proc *kp = proc != NULL ? proc : ksim_proc0();
	struct ksim_thread *kt;

	kt = sim_host_alloc(sizeof(*kt), 64);
	kt->kt_td.td_proc = &kp->kp_proc;
	kt->kt_td.td_ucred = kp->kp_proc.p_ucred;
	kt->kt_td.td_limit = kp->kp_proc.p_limit;	/* thread_cow_get */
	kt->kt_td.td_cowgen = kp->kp_proc.p_cowgen;
	kt->kt_td.td_tid = 100000 + kp->kp_nthreads++;
	if (is_kernel)
		kt->kt_td.td_pflags |= TDP_KTHREAD;
	kt->kt_pcpu.pc_curthread = &kt->kt_td;
	return (&kt->kt_td);
}

/* Point %gs at the thread's pcpu: curthread reads %gs:pc_curthread. */
void
ksim_pcpu_install(void *td)
{
	struct ksim_thread *kt = __containerof(td, struct ksim_thread, kt_td);

	kt->kt_pcpu.pc_prvspace = &kt->kt_pcpu;
	if (arch_prctl(KSIM_ARCH_SET_GS, (unsigned long)&kt->kt_pcpu) != 0)
		sim_fail("sim", "arch_prctl(ARCH_SET_GS) failed");
	if (curthread != td)
		sim_fail("sim", "curthread does not read back the thread");
}

int
ksim_td_critnest(void *td)
{

	return (((struct thread *)td)->td_critnest);
}

struct ksim_proc *
ksim_curproc(void)
{

	return (__containerof(curthread->td_proc, struct ksim_proc, kp_proc));
}

/*
 * setrlimit(2) of rlim_cur, for the scenarios (kern_proc_setrlimit): a new
 * plimit replaces the process's, and its cow generation moves, so each
 * thread takes the new one at its next system call (ksim_syscall_enter).
 * The old plimit is left to the threads still pointing at it (the model
 * never frees plimits).
 */
void
ksim_proc_setrlimit(void *proc, int which, uint64_t cur)
{
	struct proc *p = &((struct ksim_proc *)proc)->kp_proc;
	struct plimit *lim;

	lim = ksim_lim_new(0);
	*lim = *p->p_limit;
	lim->pl_refcnt = 1;
	lim->pl_rlimit[which].rlim_cur = cur;
	p->p_limit = lim;
	p->p_cowgen++;
}

/* syscallenter (subr_syscall.c): thread_cow_update if the cow moved. */
void
ksim_syscall_enter(struct thread *td)
{
	struct proc *p = td->td_proc;

	if (td->td_cowgen != p->p_cowgen) {
		td->td_limit = p->p_limit;
		td->td_cowgen = p->p_cowgen;
	}
}

/*
 * mlock(2) of npages (npages < 0: munlock(2)) for the scenarios, as far as
 * the limits see it: vm_map_wire(VM_MAP_WIRE_USER) charges
 * vm_user_wire_count against vm_page_max_user_wired
 * (vm_map_wire_user_count_add: ENOMEM from kern_mlock) and the wired
 * mappings count in the pmap's wired_count, which kern_mlock checks with
 * the new pages against RLIMIT_MEMLOCK (ENOMEM).  No page is touched.
 */
extern u_long vm_user_wire_count, vm_page_max_user_wired;

int
ksim_proc_mlock(void *proc, long npages)
{
	struct ksim_proc *kp = proc;
	struct pmap *pm = vmspace_pmap(&kp->kp_vm);

	if (npages < 0) {
		if (pm->pm_stats.wired_count < -npages)
			ksim_failf("scenario", "munlock of more than is locked");
		pm->pm_stats.wired_count += npages;
		__atomic_sub_fetch(&vm_user_wire_count, -npages,
		    __ATOMIC_SEQ_CST);
		return (0);
	}
	if (ptoa(npages + pm->pm_stats.wired_count) >
	    kp->kp_proc.p_limit->pl_rlimit[RLIMIT_MEMLOCK].rlim_cur)
		return (ENOMEM);
	if (vm_user_wire_count + npages > vm_page_max_user_wired)
		return (ENOMEM);
	__atomic_add_fetch(&vm_user_wire_count, npages, __ATOMIC_SEQ_CST);
	pm->pm_stats.wired_count += npages;
	return (0);
}

/*
 * priv_check (kern_priv.c): priv_check_cred(td->td_ucred, priv).  MAC is
 * not modelled, and every credential is in prison0, where
 * prison_priv_check grants; then security.bsd.unprivileged_mlock
 * (default 1) grants PRIV_VM_MLOCK and PRIV_VM_MUNLOCK, the superuser
 * policy grants an effective uid of 0 (a real uid of 0 for PRIV_MAXFILES,
 * PRIV_MAXPROC, PRIV_PROC_LIMIT), and everything else is EPERM.
 */
int ksim_unprivileged_mlock = 1;

int
priv_check(struct thread *td, int priv)
{
	struct ucred *cred;

	sim_yield();
	if (!PRIV_VALID(priv))
		ksim_failf("priv", "priv_check_cred: invalid privilege %d",
		    priv);
	cred = td->td_ucred;
	if (ksim_unprivileged_mlock &&
	    (priv == PRIV_VM_MLOCK || priv == PRIV_VM_MUNLOCK))
		return (0);
	switch (priv) {
	case PRIV_MAXFILES:
	case PRIV_MAXPROC:
	case PRIV_PROC_LIMIT:
		return (cred->cr_ruid == 0 ? 0 : EPERM);
	default:
		return (cred->cr_uid == 0 ? 0 : EPERM);
	}
}

/*
 * crhold (kern_prot.c): one more reference to a live credential.  The
 * model counts in cr_ref only (FreeBSD 15 may batch a thread's references
 * in td_ucredref; the balance is the same).
 */
struct ucred *
crhold(struct ucred *cr)
{

	sim_yield();
	if (cr == NULL || cr->cr_ref <= 0)
		ksim_failf("cred", "crhold of a freed credential %p", cr);
	__atomic_add_fetch(&cr->cr_ref, 1, __ATOMIC_SEQ_CST);
	return (cr);
}

/*
 * crfree (kern_prot.c): drops a reference; the last one frees the
 * credential ("crfree: ref %ld" if it was not positive).
 */
void
crfree(struct ucred *cr)
{

	sim_yield();
	if (cr == NULL || cr->cr_ref <= 0)
		ksim_failf("cred", "crfree: ref %ld", cr != NULL ?
		    cr->cr_ref : 0L);
	if (__atomic_sub_fetch(&cr->cr_ref, 1, __ATOMIC_SEQ_CST) == 0)
		cr->cr_ref = -1;	/* freed; the sim keeps the memory */
}

/* ---- descriptors -------------------------------------------------- */

/*
 * finstall (kern_descrip.c) with no filecaps: filecaps_fill gives the
 * slot every right (CAP_ALL), every ioctl (fc_nioctls -1) and every fcntl
 * (CAP_FCNTL_ALL), what any descriptor has until cap_rights_limit(2).
 */
int
ksim_fd_install(struct ksim_proc *kp, struct file *fp)
{
	struct filecaps *fcaps;
	int fd;

	for (fd = 0; fd < KSIM_NFD; fd++)
		if (kp->kp_fd[fd] == NULL) {
			/* finstall: the table's lock publishes the file. */
			sim_hb_release(fp);
			kp->kp_fd[fd] = fp;
			fcaps = &kp->kp_fdcaps[fd];
			CAP_ALL(&fcaps->fc_rights);
			fcaps->fc_ioctls = NULL;
			fcaps->fc_nioctls = -1;
			fcaps->fc_fcntls = CAP_FCNTL_ALL;
			return (fd);
		}
	return (-EMFILE);
}

/*
 * cap_check_failed_notcapable (sys_capability.c): what cap_check_inline
 * (sys/capsicum.h) calls when the descriptor's rights do not contain the
 * needed ones.  ktrace's record and the SDT probe are not modelled.
 */
int
cap_check_failed_notcapable(const cap_rights_t *havep,
    const cap_rights_t *needp)
{

	return (ENOTCAPABLE);
}

/*
 * The CAP_* values of sys/capsicum.h the scenarios name, in the order of
 * world::Right (sim/src/world.rs).
 */
const uint64_t ksim_cap_rights_named[] = {
	CAP_READ, CAP_SEEK, CAP_WRITE, CAP_FSYNC, CAP_EVENT,
	CAP_KQUEUE_EVENT, CAP_KQUEUE_CHANGE, CAP_IOCTL,
};
CTASSERT(nitems(ksim_cap_rights_named) == 8);	/* world.rs: [u64; 8] */

/*
 * cap_rights_limit(2) of the calling process's descriptor `fd` to the
 * rights in `rights[0 .. n)` (each a CAP_* value of sys/capsicum.h, as
 * cap_rights_init(3) takes them): sys_cap_rights_limit builds the set
 * (CAP_NONE, then each right or-ed into the word its index bits name, as
 * cap_rights_vset; a right of no known word is EINVAL, as
 * cap_rights_is_valid), kern_cap_rights_limit answers EBADF for a slot
 * with no file, ENOTCAPABLE if the set is not within the slot's rights
 * (_cap_check: rights only ever shrink), else stores it; a set without
 * CAP_IOCTL empties the ioctl list (fc_nioctls 0: cap_ioctl_check then
 * refuses every ioctl), one without CAP_FCNTL the fcntl rights.
 */
int
ksim_sys_cap_rights_limit(int fd, const uint64_t *rights, int n)
{
	struct ksim_proc *kp;
	struct filecaps *fcaps;
	cap_rights_t r;
	int i, idx;

	kp = ksim_curproc();
	CAP_NONE(&r);
	for (i = 0; i < n; i++) {
		idx = CAPIDXBIT(rights[i]) - 1;
		if (CAPRVER(rights[i]) != 0 || idx < 0 || idx > 1)
			return (EINVAL);
		r.cr_rights[idx] |= rights[i];
	}
	if (fd < 0 || fd >= KSIM_NFD || kp->kp_fd[fd] == NULL)
		return (EBADF);
	fcaps = &kp->kp_fdcaps[fd];
	if (!cap_rights_contains(&fcaps->fc_rights, &r))
		return (ENOTCAPABLE);
	fcaps->fc_rights = r;
	if (!cap_rights_contains(&r, &cap_ioctl_rights)) {
		fcaps->fc_ioctls = NULL;
		fcaps->fc_nioctls = 0;
	}
	if (!cap_rights_contains(&r, &cap_fcntl_rights))
		fcaps->fc_fcntls = 0;
	return (0);
}

/*
 * kern_ioctl (sys_generic.c) with options CAPABILITIES, as GENERIC has
 * it: fget_noref (EBADF for an empty slot), cap_ioctl_check (fc_nioctls
 * -1 allows every command, an empty list none: ENOTCAPABLE), fhold, and
 * EBADF for a file open neither for reading nor for writing.  A file
 * already closed (badfileops) answers EBADF, as badfo_ioctl.
 */
int
ksim_ioctl_fget(struct thread *td, int fd, u_long com, struct file **fpp)
{
	struct ksim_proc *kp;
	struct file *fp;

	sim_yield();
	*fpp = NULL;
	kp = __containerof(td->td_proc, struct ksim_proc, kp_proc);
	if (fd < 0 || fd >= KSIM_NFD || (fp = kp->kp_fd[fd]) == NULL)
		return (EBADF);
	if (kp->kp_fdcaps[fd].fc_nioctls == 0)
		return (ENOTCAPABLE);
	if (fp->f_ops == &badfileops || !fhold(fp))
		return (EBADF);
	if ((fp->f_flag & (FREAD | FWRITE)) == 0) {
		(void)ksim_fdrop(fp, td);
		return (EBADF);
	}
	sim_hb_acquire(fp);
	*fpp = fp;
	return (0);
}

struct file *
ksim_file_alloc(short type, struct fileops *ops, void *data,
    struct vnode *vp, u_int flag, struct ucred *cred)
{
	struct file *fp;

	fp = ksim_zalloc(sizeof(*fp));
	fp->f_type = type;
	fp->f_ops = ops;
	fp->f_data = data;
	fp->f_vnode = vp;
	fp->f_flag = flag;
	fp->f_cred = crhold(cred);
	refcount_init(&fp->f_count, 1);
	if (ksim_nfiles < KSIM_NFILES)
		ksim_files[ksim_nfiles++] = fp;
	else
		ksim_files_untracked = 1;
	return (fp);
}

/*
 * Once every module is unloaded: each credential is referenced by its
 * process (p_ucred, kept by a zombie too) and by each open file that was
 * opened with it (f_cred), nothing else.  A larger cr_ref is a crhold
 * without its crfree (kern_prot.c: the credential and its prison,
 * uidinfo and login class stay allocated forever).  Returns the uid of
 * the first leaking credential and sets *refs, *want; -1 if none.
 */
long
ksim_cred_leak(long *refs, long *want)
{
	long n;
	int i, j;

	if (ksim_files_untracked)
		return (-1);
	for (i = 0; i < ksim_ncreds; i++) {
		if (ksim_creds[i]->cr_ref <= 0)
			continue;
		n = 1;
		for (j = 0; j < ksim_nfiles; j++)
			if (ksim_files[j]->f_ops != &badfileops &&
			    ksim_files[j]->f_cred == ksim_creds[i])
				n++;
		if (ksim_creds[i]->cr_ref != n) {
			*refs = ksim_creds[i]->cr_ref;
			*want = n;
			return ((long)ksim_creds[i]->cr_uid);
		}
	}
	return (-1);
}

/*
 * _fget (kern_descrip.c): fget_unlocked first (fget_unlocked_seq): a
 * descriptor out of range or empty is EBADF, then the slot's rights must
 * contain every right the caller names (cap_check_inline: ENOTCAPABLE),
 * before any reference is taken; then a file that is badfileops is EBADF,
 * and FREAD/FWRITE not among the file's flags is EBADF (POSIX).  On
 * success the file is referenced (fhold).  fget_unlocked reads the rights
 * through the pointer: a caller passing none would fault.
 */
static int
ksim_fget(struct thread *td, int fd, const cap_rights_t *needrightsp,
    struct file **fpp, int flags)
{
	struct ksim_proc *kp;
	struct file *fp;
	int error;

	sim_yield();
	*fpp = NULL;
	if (needrightsp == NULL)
		ksim_failf("file", "fget of descriptor %d with no rights "
		    "(fget_unlocked reads *needrightsp)", fd);
	kp = __containerof(td->td_proc, struct ksim_proc, kp_proc);
	if (fd < 0 || fd >= KSIM_NFD || (fp = kp->kp_fd[fd]) == NULL)
		return (EBADF);
	error = cap_check_inline(&kp->kp_fdcaps[fd].fc_rights, needrightsp);
	if (error != 0)
		return (error);
	if (fp->f_ops == &badfileops)
		return (EBADF);
	if ((flags & (FREAD | FWRITE)) != 0 && (fp->f_flag & flags) == 0)
		return (EBADF);
	if (!fhold(fp))
		return (EBADF);
	/* fget_unlocked: the table's SMR section orders the install. */
	sim_hb_acquire(fp);
	*fpp = fp;
	return (0);
}

int
fget(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{

	return (ksim_fget(td, fd, rightsp, fpp, 0));
}

int
fget_read(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{

	return (ksim_fget(td, fd, rightsp, fpp, FREAD));
}

int
fget_write(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{

	return (ksim_fget(td, fd, rightsp, fpp, FWRITE));
}

/*
 * _fdrop (kern_descrip.c): called by fdrop() for the last reference:
 * fo_close (which may sleep: vnode close, devfs destructors), then the
 * file's credential is freed.  "fdrop: count %d" if it was not zero.
 */
int
_fdrop(struct file *fp, struct thread *td)
{
	int error;

	sim_yield();
	if (fp->f_count != 0)
		ksim_failf("file", "_fdrop: count %d", fp->f_count);
	/* The last refcount_release acquires every earlier one. */
	sim_hb_acquire(__DEVOLATILE(void *, &fp->f_count));
	sim_check_may_sleep("_fdrop (last reference: fo_close)", NULL);
	error = 0;
	if (fp->f_ops != &badfileops && fp->f_ops->fo_close != NULL)
		error = fo_close(fp, td);
	crfree(fp->f_cred);
	fp->f_ops = &badfileops;
	ksim_world_file_freed(fp);
	return (error);
}

/* close(2): kern_close → closefp: the table's reference is dropped. */
int
ksim_close(struct thread *td, int fd)
{
	struct ksim_proc *kp;
	struct file *fp;

	kp = __containerof(td->td_proc, struct ksim_proc, kp_proc);
	if (fd < 0 || fd >= KSIM_NFD || (fp = kp->kp_fd[fd]) == NULL)
		return (EBADF);
	kp->kp_fd[fd] = NULL;
	/* fdfree → filecaps_free: the slot's capabilities go with it. */
	memset(&kp->kp_fdcaps[fd], 0, sizeof(kp->kp_fdcaps[fd]));
	ksim_kqueue_fd_closed(kp, fd);
	return (ksim_fdrop(fp, td));
}

/* exit(2): every descriptor is closed (fdescfree). */
void
ksim_proc_exit(struct thread *td)
{
	int fd;

	for (fd = 0; fd < KSIM_NFD; fd++)
		(void)ksim_close(td, fd);
}

/* badfileops and path_fileops (kern_descrip.c, vfs_vnops.c). */
static int
ksim_badfo_close(struct file *fp, struct thread *td)
{

	return (0);
}

const struct fileops badfileops = { .fo_close = ksim_badfo_close };
const struct fileops path_fileops = { .fo_close = ksim_badfo_close,
	.fo_flags = DFLAG_PASSABLE };

int
ksim_sys_close(int fd)
{

	return (ksim_close(curthread, fd));
}

void
ksim_sys_exit(void)
{

	ksim_proc_exit(curthread);
}

/* setrlimit(RLIMIT_FSIZE) of a process: its rlim_cur. */
void
ksim_proc_set_fsize_limit(void *proc, uint64_t lim)
{

	ksim_proc_setrlimit(proc, RLIMIT_FSIZE, lim);
}

/* The signals posted to a process so far (bit 1 << sig). */
uint64_t
ksim_proc_signals(void *proc)
{

	return (((struct ksim_proc *)proc)->kp_sigs);
}

long
ksim_proc_cred_refs(void *proc)
{

	return (((struct ksim_proc *)proc)->kp_proc.p_ucred->cr_ref);
}

size_t
ksim_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return (n);
}

/* The file was freed by _fdrop. */
void
ksim_world_file_freed(struct file *fp)
{
}
