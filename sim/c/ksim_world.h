/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: the simulated world the models share (processes and their
 * descriptors and address spaces, files, vnodes, the kqueue registry).
 * Included after the FreeBSD headers each model needs.
 */
#ifndef _KSIM_WORLD_H_
#define	_KSIM_WORLD_H_

#include <sys/event.h>
#include <sys/filedesc.h>
#include <vm/vm.h>
#include <vm/pmap.h>
#include <vm/vm_map.h>

#define	KSIM_NFD	64
#define	KSIM_NMAP	64
/* The simulated user address space (vm_map_min/max of every process). */
#define	KSIM_UVA_MIN	((vm_offset_t)0x10000000000)
#define	KSIM_UVA_MAX	((vm_offset_t)0x20000000000)

/* Kinds of user mapping. */
enum ksim_map_kind { KSIM_MAP_ANON, KSIM_MAP_DEVICE };

struct ksim_umap {
	vm_offset_t	um_start, um_end;
	int		um_prot;	/* VM_PROT_READ | VM_PROT_WRITE */
	int		um_kind;
	char		*um_backing;	/* host memory ("physical" pages) */
	int		 um_adopted;	/* backing is the host's own (ksim_uadopt) */
};

struct ksim_proc {
	struct proc	 kp_proc;
	struct vmspace	 kp_vm;
	vm_offset_t	 kp_vmin, kp_vmax;
	struct file	*kp_fd[KSIM_NFD];
	/*
	 * Each slot's capabilities, fde_caps of its struct filedescent
	 * (sys/filedesc.h): its rights, fc_nioctls -1 (every ioctl) or 0
	 * (none; ioctl lists are not modelled) and its fcntl rights.
	 */
	struct filecaps	 kp_fdcaps[KSIM_NFD];
	struct ksim_umap kp_map[KSIM_NMAP];
	int		 kp_nmap;
	int		 kp_nthreads;
	uint64_t	 kp_sigs;	/* signals posted: bit (1 << sig) */
};

struct fileops;
struct ksim_proc *ksim_proc0(void);
struct ksim_proc *ksim_curproc(void);
int	ksim_fd_install(struct ksim_proc *kp, struct file *fp);
struct file *ksim_file_alloc(short type, struct fileops *ops, void *data,
	    struct vnode *vp, u_int flag, struct ucred *cred);
int	ksim_close(struct thread *td, int fd);
int	ksim_ioctl_fget(struct thread *td, int fd, u_long com,
	    struct file **fpp);
void	ksim_syscall_enter(struct thread *td);
void	ksim_kqueue_fd_closed(struct ksim_proc *kp, int fd);

/*
 * One record of the sim's kern_proc_kqueue_report (procstat -k): the
 * struct kinfo_knote the kernel would append, before and after f_userdump.
 * Mirrored by world::KnoteDump.
 */
struct ksim_knote_dump {
	struct kevent	kd_snapshot;	/* knt_event before f_userdump */
	struct kevent	kd_event;	/* knt_event as appended */
	int		kd_kq_fd;	/* knt_kq_fd */
	int		kd_status;	/* knt_status */
	int		kd_extdata;	/* knt_extdata */
	int		kd_rest_zero;	/* knt_spare0 and the union all zero */
	int		kd_userdump;	/* f_userdump was called */
	int		kd_pad;
};
int	ksim_kqueue_report(int fd, int naps, struct ksim_knote_dump *out,
	    int nout);
int	ksim_kqueue_influx(int fd);
void	ksim_world_file_freed(struct file *fp);
int	ksim_kldload(const char *name);
int	ksim_kldunload(const char *name, int force);
int	ksim_kmod_owns(const char *name, const void *p);
const struct ksim_umap *ksim_umap_find(struct ksim_proc *kp, vm_offset_t va);
void	*ksim_uva_host(vm_offset_t va, size_t len, int prot);
vm_offset_t ksim_uadopt(void *host, size_t len);

#endif /* !_KSIM_WORLD_H_ */
