/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim models of processes, threads, credentials and file descriptors.
 * Sources read: sys/kern/kern_descrip.c (_fget, fget, fget_read,
 * fget_write, _fdrop, kern_close, fdclose), sys/kern/kern_prot.c (crhold,
 * crfree), sys/kern/kern_thread.c, sys/kern/subr_capability.c
 * (cap_pread_rights, ...), sys/kern/vfs_vnops.c (path_fileops),
 * sys/amd64/include/pcpu_aux.h (curthread through %gs).
 *
 * Not modelled: capability mode and per-descriptor rights (every
 * descriptor has all rights, so ENOTCAPABLE never happens here).
 */
#include "ksim.h"

#include <sys/capsicum.h>
#include <sys/file.h>
#include <sys/filedesc.h>
#include <sys/ucred.h>
#include <sys/vnode.h>

#include "ksim_world.h"

int	arch_prctl(int code, unsigned long addr);	/* Linux, for %gs */
#define	KSIM_ARCH_SET_GS	0x1001

struct ksim_thread {
	struct thread	kt_td;
	struct pcpu	kt_pcpu __aligned(64);
};

static struct ksim_proc ksim_proc0_store;
struct ucred *ksim_cred0;

/* subr_capability.c: the rights sets the module names (not checked). */
const cap_rights_t cap_pread_rights, cap_pwrite_rights, cap_fsync_rights,
    cap_no_rights;

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

static void
ksim_proc_init(struct ksim_proc *kp, pid_t pid, uid_t uid)
{

	kp->kp_proc.p_pid = pid;
	kp->kp_proc.p_ucred = ksim_cred_new(uid);
	kp->kp_proc.p_vmspace = &kp->kp_vm;
	kp->kp_vmin = KSIM_UVA_MIN;
	kp->kp_vmax = KSIM_UVA_MAX;
	kp->kp_rlim_fsize = ((uint64_t)1 << 63) - 1;	/* RLIM_INFINITY */
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

int
ksim_fd_install(struct ksim_proc *kp, struct file *fp)
{
	int fd;

	for (fd = 0; fd < KSIM_NFD; fd++)
		if (kp->kp_fd[fd] == NULL) {
			kp->kp_fd[fd] = fp;
			return (fd);
		}
	return (-EMFILE);
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
 * _fget (kern_descrip.c): a descriptor out of range or empty, or whose
 * file is badfileops, is EBADF; FREAD/FWRITE not among the file's flags
 * is EBADF; on success the file is referenced (fhold).
 */
static int
ksim_fget(struct thread *td, int fd, struct file **fpp, int flags)
{
	struct ksim_proc *kp;
	struct file *fp;

	sim_yield();
	*fpp = NULL;
	kp = __containerof(td->td_proc, struct ksim_proc, kp_proc);
	if (fd < 0 || fd >= KSIM_NFD || (fp = kp->kp_fd[fd]) == NULL)
		return (EBADF);
	if (fp->f_ops == &badfileops)
		return (EBADF);
	if ((flags & (FREAD | FWRITE)) != 0 && (fp->f_flag & flags) == 0)
		return (EBADF);
	if (!fhold(fp))
		return (EBADF);
	*fpp = fp;
	return (0);
}

int
fget(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{

	return (ksim_fget(td, fd, fpp, 0));
}

int
fget_read(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{

	return (ksim_fget(td, fd, fpp, FREAD));
}

int
fget_write(struct thread *td, int fd, const cap_rights_t *rightsp,
    struct file **fpp)
{

	return (ksim_fget(td, fd, fpp, FWRITE));
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
	ksim_kqueue_fd_closed(kp, fd);
	return (fdrop(fp, td));
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

	((struct ksim_proc *)proc)->kp_rlim_fsize = lim;
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
