// SPDX-License-Identifier: BSD-2-Clause
//! What a scenario can do: boot the simulated kernel, load and unload the
//! modules, make processes, and issue the system calls a user program
//! would (open, ioctl, close, kqueue, kevent, mmap, sysctl, exit), each
//! through the C models in `sim/c/`.

use crate::kernel;
use crate::report::fail;
use crate::sched::{self, Ctx};
use std::ffi::{c_char, c_int, c_long, c_ulong, c_void, CString};

extern "C" {
    fn ksim_linker_boot();
    fn ksim_kqueue_boot(syscount: c_int, taken: *const c_int, ntaken: c_int);
    fn ksim_sysctl_boot(published_syscount: c_int);
    fn ksim_devfs_boot();
    fn ksim_vfs_boot();
    fn ksim_kldload(name: *const c_char) -> c_int;
    fn ksim_kldunload(name: *const c_char, force: c_int) -> c_int;
    fn ksim_kld_isloaded(name: *const c_char) -> c_int;
    fn ksim_linker_module_path(name: *const c_char, present: c_int);
    fn ksim_kld_refs(name: *const c_char, userrefs: *mut c_int) -> c_int;
    fn ksim_proc_create(pid: c_int, uid: u32) -> *mut c_void;
    fn ksim_sys_open_dev(name: *const c_char, oflags: c_int) -> c_int;
    fn ksim_sys_ioctl(fd: c_int, com: c_ulong, uaddr: u64) -> c_int;
    fn ksim_sys_kqueue() -> c_int;
    fn ksim_sys_kevent(fd: c_int, ch: *const Kevent, nch: c_int, ev: *mut Kevent, nev: c_int, timo: i64) -> c_int;
    fn ksim_sys_close(fd: c_int) -> c_int;
    fn ksim_sys_exit();
    fn ksim_umap(len: usize, prot: c_int, kind: c_int) -> u64;
    fn ksim_uva_host(va: u64, len: usize, prot: c_int) -> *mut u8;
    fn ksim_uadopt(host: *mut u8, len: usize) -> u64;
    fn ksim_file_create(size: i64, ufs: c_int) -> *mut c_void;
    fn ksim_file_data(vp: *mut c_void, size: *mut i64) -> *mut u8;
    fn ksim_file_set_hole(vp: *mut c_void, lbn: c_int);
    fn ksim_file_set_bad(vp: *mut c_void, lbn: c_int);
    fn ksim_file_set_flags(vp: *mut c_void, flags: c_ulong);
    fn ksim_file_set_short(vp: *mut c_void, lbn: c_int, resid: c_int);
    fn ksim_buf_hold(vp: *mut c_void, lbn: c_int, ticks: u64);
    fn ksim_vn_hold(vp: *mut c_void, ticks: u64);
    fn ksim_file_fsyncs(vp: *mut c_void) -> c_int;
    fn ksim_file_foreign_cred_writes(vp: *mut c_void) -> u64;
    fn ksim_sys_open_file(vp: *mut c_void, oflags: c_int) -> c_int;
    fn ksim_sys_open_other(kind: c_int) -> c_int;
    fn ksim_uunmap(start: c_ulong);
    fn ksim_sysctl(
        name: *const c_char,
        old: *mut c_void,
        oldlen: *mut usize,
        new: *const c_void,
        newlen: usize,
    ) -> c_int;
    fn ksim_pages_held() -> c_long;
    fn ksim_bufs_locked() -> c_int;
    fn ksim_bufs_with_cred() -> c_int;
    fn ksim_kqueue_report(fd: c_int, naps: c_int, out: *mut KnoteDump, nout: c_int) -> c_int;
    fn ksim_kqueue_influx(fd: c_int) -> c_int;
    fn ksim_kqueue_slot_fop(filt: c_int) -> *const c_void;
    fn ksim_kmod_owns(name: *const c_char, p: *const c_void) -> c_int;
    fn ksim_taskqueues_alive() -> c_int;
    fn ksim_dev_mode(name: *const c_char, uid: *mut c_int, gid: *mut c_int) -> c_int;
    fn ksim_proc_cred_refs(proc_: *mut c_void) -> c_long;
    fn ksim_write_ops() -> c_int;
    fn ksim_cred_leak(refs: *mut c_long, want: *mut c_long) -> c_long;
    fn ksim_proc_set_fsize_limit(proc_: *mut c_void, lim: u64);
    fn ksim_proc_signals(proc_: *mut c_void) -> u64;
    fn ksim_proc_setrlimit(proc_: *mut c_void, which: c_int, cur: u64);
    fn ksim_proc_mlock(proc_: *mut c_void, npages: c_long) -> c_int;
    fn ksim_vm_user_wired() -> c_ulong;
    fn ksim_vm_set_max_user_wired(n: c_ulong);
    static mut ksim_unprivileged_mlock: c_int;
    fn ksim_sys_cap_rights_limit(fd: c_int, rights: *const u64, n: c_int) -> c_int;
    static ksim_cap_rights_named: [u64; 8];
}

/// A Capsicum right (`CAP_*` of sys/capsicum.h; the values come from the
/// header, through `ksim_cap_rights_named` in sim/c/kern_descrip.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    /// `CAP_READ`: read(2).
    Read,
    /// `CAP_SEEK`: lseek(2); with `CAP_READ` it is `CAP_PREAD`, with
    /// `CAP_WRITE` `CAP_PWRITE`.
    Seek,
    /// `CAP_WRITE`: write(2).
    Write,
    /// `CAP_FSYNC`: fsync(2), aio_fsync(2).
    Fsync,
    /// `CAP_EVENT`: select(2), poll(2), a kevent on the descriptor.
    Event,
    /// `CAP_KQUEUE_EVENT`: kevent(2) collecting events.
    KqueueEvent,
    /// `CAP_KQUEUE_CHANGE`: kevent(2) changing the kqueue, kqfd_register.
    KqueueChange,
    /// `CAP_IOCTL`: ioctl(2).
    Ioctl,
}

/// cap_rights_limit(2) of `fd` to `rights` (cap_rights_init(3) of them):
/// 0 or the errno (`EBADF`, `ENOTCAPABLE` for a right the descriptor
/// lacks already).
pub fn cap_rights_limit(fd: i32, rights: &[Right]) -> i32 {
    // SAFETY: ksim_cap_rights_named is a constant array of the C model's,
    // indexed by Right's discriminant (less than its length).
    let v: Vec<u64> = rights.iter().map(|r| unsafe { ksim_cap_rights_named[*r as usize] }).collect();
    // SAFETY: `v` is valid for its length.
    unsafe { ksim_sys_cap_rights_limit(fd, v.as_ptr(), v.len() as c_int) }
}

/// `struct kevent` of FreeBSD 12 and later (sys/event.h), 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kevent {
    /// Identifier (the request id for the module's events).
    pub ident: u64,
    /// Filter.
    pub filter: i16,
    /// EV_* flags.
    pub flags: u16,
    /// Filter flags.
    pub fflags: u32,
    /// Filter data.
    pub data: i64,
    /// User data.
    pub udata: u64,
    /// Extensions.
    pub ext: [u64; 4],
}

/// `EV_ERROR` (sys/event.h).
pub const EV_ERROR: u16 = 0x4000;
/// `EV_DELETE`.
pub const EV_DELETE: u16 = 0x0002;
/// `EV_ADD`.
pub const EV_ADD: u16 = 0x0001;
/// `EV_ONESHOT`.
pub const EV_ONESHOT: u16 = 0x0010;
/// `EV_FLAG1`: a kernel registration not yet through its filter's
/// `f_attach`.
pub const EV_FLAG1: u16 = 0x2000;
/// `O_RDONLY`/`O_WRONLY`/`O_RDWR` (sys/fcntl.h).
pub const O_RDONLY: i32 = 0;
/// `O_WRONLY`.
pub const O_WRONLY: i32 = 1;
/// `O_RDWR`.
pub const O_RDWR: i32 = 2;
/// `O_APPEND` (sys/fcntl.h).
pub const O_APPEND: i32 = 0x0008;
/// `VM_PROT_READ | VM_PROT_WRITE`.
pub const PROT_RW: i32 = 3;
/// `VM_PROT_READ`.
pub const PROT_R: i32 = 1;

fn cs(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// The kernel the scenario boots.
#[derive(Clone, Debug, Default)]
pub struct Kernel {
    /// With `patches/0001`: dedicated slots -16/-17, `kern.evfilt_syscount`.
    pub patched: bool,
    /// Slots another module took before ours (e.g. `kqdafs_slothog`).
    pub taken: Vec<i32>,
    /// Module files (`"kqdafs"`) whose `.ko` lies in `kern.module_path`,
    /// so that a `MODULE_DEPEND` on them loads them (the vm-tests guests
    /// keep the modules outside it: none).
    pub module_path: Vec<&'static str>,
}

/// Boot the simulated kernel (from the scenario's first thread).
pub fn boot(k: &Kernel) {
    let syscount = if k.patched { 17 } else { 15 };
    // SAFETY: the boot functions of the C models run once, from a
    // simulated thread, before any module code.
    unsafe {
        ksim_linker_boot();
        for m in ["kqdafs", "kqdafs_consumer_test"] {
            let n = cs(m);
            ksim_linker_module_path(n.as_ptr(), c_int::from(k.module_path.contains(&m)));
        }
        ksim_kqueue_boot(syscount, k.taken.as_ptr(), k.taken.len() as c_int);
        ksim_sysctl_boot(if k.patched { 17 } else { 0 });
        ksim_devfs_boot();
        ksim_vfs_boot();
    }
}

/// A credential with more references than its process and open files
/// account for: (uid, cr_ref, what they account for).
pub fn cred_leak() -> Option<(i64, i64, i64)> {
    let (mut refs, mut want): (c_long, c_long) = (0, 0);
    // SAFETY: model call writing the two counts.
    let uid = unsafe { ksim_cred_leak(&mut refs, &mut want) };
    (uid >= 0).then_some((uid, refs, want))
}

/// `kld_sx`, which kern_kldload and kern_kldunload hold throughout: its
/// address keys their happens-before edges (`tsan`).
static KLD_SX: u8 = 0;

/// kldload(2).
pub fn kldload(name: &str) -> i32 {
    let n = cs(name);
    crate::tsan::acquire(std::ptr::addr_of!(KLD_SX) as usize);
    // SAFETY: the model reads the NUL-terminated name.
    let error = unsafe { ksim_kldload(n.as_ptr()) };
    crate::tsan::release(std::ptr::addr_of!(KLD_SX) as usize);
    error
}

/// kldunload(2) (`force`: kldunload -f).
pub fn kldunload(name: &str, force: bool) -> i32 {
    let n = cs(name);
    crate::tsan::acquire(std::ptr::addr_of!(KLD_SX) as usize);
    // SAFETY: as kldload.
    let error = unsafe { ksim_kldunload(n.as_ptr(), c_int::from(force)) };
    crate::tsan::release(std::ptr::addr_of!(KLD_SX) as usize);
    error
}

/// Whether a module is loaded.
pub fn kld_isloaded(name: &str) -> bool {
    let n = cs(name);
    // SAFETY: as kldload.
    unsafe { ksim_kld_isloaded(n.as_ptr()) != 0 }
}

/// A loaded module file's reference counts: (`refs`, `userrefs`) of its
/// `struct linker_file` (`refs` is kldstat's "Refs"); (0, 0) if not loaded.
pub fn kld_refs(name: &str) -> (i32, i32) {
    let n = cs(name);
    let mut user: c_int = 0;
    // SAFETY: as kldload; the model writes `user` if the file is loaded.
    let refs = unsafe { ksim_kld_refs(n.as_ptr(), &mut user) };
    (refs, user)
}

/// A user process.
#[derive(Clone, Copy, Debug)]
pub struct Proc(pub usize);

/// Make a process with `uid`.
pub fn new_proc(pid: i32, uid: u32) -> Proc {
    // SAFETY: allocates a fresh zeroed process in the model.
    Proc(unsafe { ksim_proc_create(pid, uid) } as usize)
}

/// References to the process's credential right now.
pub fn cred_refs(p: Proc) -> i64 {
    // SAFETY: p came from new_proc.
    unsafe { ksim_proc_cred_refs(p.0 as *mut c_void) as i64 }
}

/// `setrlimit(RLIMIT_FSIZE)` of process `p` (its `rlim_cur`).
pub fn set_fsize_limit(p: Proc, lim: u64) {
    // SAFETY: p came from new_proc.
    unsafe { ksim_proc_set_fsize_limit(p.0 as *mut c_void, lim) }
}

/// `SIGXFSZ` (sys/signal.h).
pub const SIGXFSZ: u32 = 25;

/// Whether signal `sig` was posted to process `p`.
pub fn signalled(p: Proc, sig: u32) -> bool {
    // SAFETY: p came from new_proc.
    unsafe { ksim_proc_signals(p.0 as *mut c_void) & (1u64 << sig) != 0 }
}

/// `RLIMIT_MEMLOCK` (`<sys/resource.h>`).
pub const RLIMIT_MEMLOCK: i32 = 6;

/// setrlimit(2) of `p`'s soft limit `which` (its threads see it from
/// their next system call).
pub fn setrlimit(p: Proc, which: i32, cur: u64) {
    // SAFETY: p came from new_proc; the model replaces its plimit.
    unsafe { ksim_proc_setrlimit(p.0 as *mut c_void, which, cur) }
}

/// mlock(2) of `npages` pages of `p` (negative: munlock(2)), as the
/// limits see it: 0 or ENOMEM.
pub fn mlock(p: Proc, npages: i64) -> i32 {
    // SAFETY: p came from new_proc; the model updates two counters.
    unsafe { ksim_proc_mlock(p.0 as *mut c_void, npages as c_long) }
}

/// vm.stats.vm.v_user_wire_count: pages wired for users now.
pub fn user_wired() -> c_ulong {
    // SAFETY: reads a counter of the model.
    unsafe { ksim_vm_user_wired() }
}

/// sysctl vm.max_user_wired (0: the boot default).
pub fn set_max_user_wired(pages: u64) {
    // SAFETY: sets a variable of the model.
    unsafe { ksim_vm_set_max_user_wired(pages as c_ulong) }
}

/// sysctl security.bsd.unprivileged_mlock.
pub fn set_unprivileged_mlock(on: bool) {
    // SAFETY: a plain store of a model variable by scenario code, which
    // runs alone in the models (its turn when seeded, the model lock when
    // free-running: sched.rs).
    unsafe { ksim_unprivileged_mlock = c_int::from(on) }
}

/// Run `body` as a thread of process `p`; returns at once.
pub fn spawn_user(p: Proc, name: &str, body: impl FnOnce() + Send + 'static) {
    let slot = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let s2 = slot.clone();
    let proc_ = p.0;
    let tid = sched::spawn(
        name,
        Ctx::Syscall,
        Box::new(move || {
            let tid = s2.load(std::sync::atomic::Ordering::SeqCst);
            kernel::thread_setup(tid, proc_, false)();
        }),
        Box::new(body),
    );
    slot.store(tid, std::sync::atomic::Ordering::SeqCst);
}

/// open(2) of `/dev/<name>`: fd or -errno.
pub fn open_dev(name: &str, oflags: i32) -> i32 {
    let n = cs(name);
    // SAFETY: as kldload.
    unsafe { ksim_sys_open_dev(n.as_ptr(), oflags) }
}

/// ioctl(2) with a user address; 0 or the errno.
pub fn ioctl(fd: i32, cmd: u32, uaddr: u64) -> i32 {
    // SAFETY: the model copies in/out through the process's map.
    unsafe { ksim_sys_ioctl(fd, c_ulong::from(cmd), uaddr) }
}

/// close(2).
pub fn close(fd: i32) -> i32 {
    // SAFETY: plain descriptor operation in the model.
    unsafe { ksim_sys_close(fd) }
}

/// exit(2): every descriptor of the calling process closes.
pub fn exit() {
    // SAFETY: plain descriptor operations in the model.
    unsafe { ksim_sys_exit() }
}

/// kqueue(2).
pub fn kqueue() -> i32 {
    // SAFETY: model call.
    unsafe { ksim_sys_kqueue() }
}

/// kevent(2): events or -errno.  `timo`: ticks, -1 forever, 0 poll.
pub fn kevent(kq: i32, changes: &[Kevent], events: &mut [Kevent], timo: i64) -> i32 {
    // SAFETY: the slices are valid for the lengths passed.
    unsafe {
        ksim_sys_kevent(kq, changes.as_ptr(), changes.len() as c_int, events.as_mut_ptr(), events.len() as c_int, timo)
    }
}

/// One record of `procstat -k` (`struct ksim_knote_dump`, sim/c/ksim_world.h):
/// the `struct kinfo_knote` the kernel appends for a knote, before and
/// after the filter's `f_userdump`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KnoteDump {
    /// `knt_event` as the kernel copied it, before `f_userdump`.
    pub snapshot: Kevent,
    /// `knt_event` as appended.
    pub event: Kevent,
    /// `knt_kq_fd`.
    pub kq_fd: i32,
    /// `knt_status` (`KNOTE_STATUS_*`).
    pub status: i32,
    /// `knt_extdata` (`KNOTE_EXTDATA_*`).
    pub extdata: i32,
    /// `knt_spare0` and the filter-specific union are all zero.
    pub rest_zero: i32,
    /// The filter's `f_userdump` was called.
    pub userdump: i32,
    pad: i32,
}

/// `KNOTE_STATUS_ACTIVE` (sys/user.h).
pub const KNOTE_STATUS_ACTIVE: i32 = 0x1;

/// `procstat -k`: holds each knote of `kq` in flux for `naps` yields.
pub fn kqueue_report(kq: i32, naps: i32) -> i32 {
    // SAFETY: model call; no records asked for.
    unsafe { ksim_kqueue_report(kq, naps, std::ptr::null_mut(), 0) }
}

/// `procstat -k` of `kq` returning its records (at most 64); the errno
/// if `kq` is not a kqueue (any more).
pub fn kqueue_dump(kq: i32, naps: i32) -> Result<Vec<KnoteDump>, i32> {
    let mut out = vec![KnoteDump::default(); 64];
    // SAFETY: model call; `out` has room for 64 records.
    let n = unsafe { ksim_kqueue_report(kq, naps, out.as_mut_ptr(), out.len() as c_int) };
    if n < 0 {
        return Err(-n);
    }
    out.truncate((n as usize).min(64));
    Ok(out)
}

/// Knotes of `kq` in flux now.
pub fn kqueue_influx(kq: i32) -> i32 {
    // SAFETY: model call.
    unsafe { ksim_kqueue_influx(kq) }
}

/// mmap(2) of `len` bytes (anonymous or device memory): the user address.
pub fn mmap(len: usize, prot: i32, device: bool) -> u64 {
    // SAFETY: model call.
    unsafe { ksim_umap(len, prot, c_int::from(device)) }
}

/// munmap(2) of the mapping [`mmap`] returned at `va`: its addresses
/// fault from now on.
pub fn munmap(va: u64) {
    // SAFETY: model call; the model only marks the mapping gone.
    unsafe { ksim_uunmap(va as c_ulong) }
}

/// The host memory `[host, host + len)` as user memory of the calling
/// process (read/write), at the simulated user address returned: how a
/// program linked into the sim (the userland crate) gives its own buffers
/// to the module.  The memory must stay allocated while the module may
/// touch it (a request in flight, a region registered), as on FreeBSD.
pub fn adopt(host: *mut u8, len: usize) -> u64 {
    // SAFETY: model call; the model only records the range and reaches
    // it later as user memory (copyin/copyout, held pages).
    unsafe { ksim_uadopt(host, len) }
}

/// The calling process's user memory at `va` as a host slice.
pub fn user_mem<'a>(va: u64, len: usize) -> &'a mut [u8] {
    // SAFETY: the model returns the host backing of a mapped range of the
    // calling process (or NULL); the backing lives for the process.
    let p = unsafe { ksim_uva_host(va, len, PROT_R) };
    if p.is_null() {
        fail("scenario", &format!("user address {va:#x} (+{len}) is not mapped"));
    }
    // SAFETY: p is valid for len bytes (checked by the model).
    unsafe { std::slice::from_raw_parts_mut(p, len) }
}

/// Copy a plain value into user memory at `va`.
pub fn put<T: Copy>(va: u64, v: &T) {
    let n = std::mem::size_of::<T>();
    // SAFETY: T is Copy (plain data); we read its n bytes.
    let bytes = unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), n) };
    user_mem(va, n).copy_from_slice(bytes);
}

/// Read a plain value from user memory at `va`.
pub fn get<T: Copy + Default>(va: u64) -> T {
    let mut v = T::default();
    let n = std::mem::size_of::<T>();
    // SAFETY: T is plain data (Copy, repr(C) ABI structs in practice).
    let bytes = unsafe { std::slice::from_raw_parts_mut((&mut v as *mut T).cast::<u8>(), n) };
    bytes.copy_from_slice(user_mem(va, n));
    v
}

/// A file in the simulated file systems.
#[derive(Clone, Copy, Debug)]
pub struct File(pub usize);

/// Make a file of `size` bytes (UFS: buffer cache path; else tmpfs-like).
/// `SF_SNAPSHOT` (sys/stat.h): a UFS snapshot inode.
pub const SF_SNAPSHOT: u64 = 0x0020_0000;

pub fn file_create(size: i64, ufs: bool) -> File {
    // SAFETY: model call.
    File(unsafe { ksim_file_create(size, c_int::from(ufs)) } as usize)
}

impl File {
    /// The file's contents now.
    pub fn data(&self) -> Vec<u8> {
        let mut size = 0i64;
        // SAFETY: the model returns the file's buffer and size.
        let p = unsafe { ksim_file_data(self.0 as *mut c_void, &mut size) };
        // SAFETY: p is valid for size bytes.
        unsafe { std::slice::from_raw_parts(p, size as usize) }.to_vec()
    }
    /// Make logical block `lbn` a hole.
    pub fn hole(&self, lbn: i32) {
        // SAFETY: model call.
        unsafe { ksim_file_set_hole(self.0 as *mut c_void, lbn) }
    }
    /// Make reads of block `lbn` fail with EIO.
    pub fn bad(&self, lbn: i32) {
        // SAFETY: model call.
        unsafe { ksim_file_set_bad(self.0 as *mut c_void, lbn) }
    }
    /// Set the inode's flags (`i_flags`, e.g. [`SF_SNAPSHOT`]).
    pub fn set_flags(&self, flags: u64) {
        // SAFETY: model call.
        unsafe { ksim_file_set_flags(self.0 as *mut c_void, flags as c_ulong) }
    }
    /// Make the device complete reads of block `lbn` `resid` bytes short,
    /// without an error (`b_resid` after `g_vfs_done`).
    pub fn short(&self, lbn: i32, resid: i32) {
        // SAFETY: model call.
        unsafe { ksim_file_set_short(self.0 as *mut c_void, lbn, resid) }
    }
    /// Another kernel thread takes block `lbn`'s buffer and holds it
    /// locked for `ticks` (without the vnode lock), as a write-out does.
    pub fn hold_block(&self, lbn: i32, ticks: u64) {
        // SAFETY: model call.
        unsafe { ksim_buf_hold(self.0 as *mut c_void, lbn, ticks) }
    }
    /// Another kernel thread takes the vnode lock exclusively and holds
    /// it for `ticks`, as a writer in `VOP_WRITE` waiting for the disk.
    pub fn hold_vnode(&self, ticks: u64) {
        // SAFETY: model call.
        unsafe { ksim_vn_hold(self.0 as *mut c_void, ticks) }
    }
    /// VOP_FSYNC calls on the file.
    pub fn fsyncs(&self) -> i32 {
        // SAFETY: model call.
        unsafe { ksim_file_fsyncs(self.0 as *mut c_void) }
    }
    /// Writes done with a thread credential other than the writer's.
    pub fn foreign_cred_writes(&self) -> u64 {
        // SAFETY: model call.
        unsafe { ksim_file_foreign_cred_writes(self.0 as *mut c_void) }
    }
    /// open(2).
    pub fn open(&self, oflags: i32) -> i32 {
        // SAFETY: model call.
        unsafe { ksim_sys_open_file(self.0 as *mut c_void, oflags) }
    }
}

/// A pipe (0), socket (1) or O_PATH (2) descriptor.
pub fn open_other(kind: i32) -> i32 {
    // SAFETY: model call.
    unsafe { ksim_sys_open_other(kind) }
}

/// sysctl(3) read of an integer or u64 node.
pub fn sysctl_u64(name: &str) -> Result<u64, i32> {
    let n = cs(name);
    let mut buf = [0u8; 8];
    let mut len = buf.len();
    // SAFETY: buf is valid for len bytes.
    let e = unsafe { ksim_sysctl(n.as_ptr(), buf.as_mut_ptr().cast(), &mut len, std::ptr::null(), 0) };
    match (e, len) {
        (0, 4) => Ok(u64::from(u32::from_ne_bytes(buf[..4].try_into().expect("4")))),
        (0, 8) => Ok(u64::from_ne_bytes(buf)),
        (0, _) => Err(-1),
        (e, _) => Err(e),
    }
}

/// sysctl(3) read of a string node.
pub fn sysctl_str(name: &str) -> Result<String, i32> {
    let n = cs(name);
    let mut buf = [0u8; 256];
    let mut len = buf.len();
    // SAFETY: buf is valid for len bytes.
    let e = unsafe { ksim_sysctl(n.as_ptr(), buf.as_mut_ptr().cast(), &mut len, std::ptr::null(), 0) };
    if e != 0 {
        return Err(e);
    }
    Ok(String::from_utf8_lossy(&buf[..len.saturating_sub(1)]).into_owned())
}

/// sysctl(3) write of a u64/int node (the width it has).
pub fn sysctl_set(name: &str, v: &[u8]) -> i32 {
    let n = cs(name);
    let mut len = 0usize;
    // SAFETY: v is valid for its length; no old buffer.
    unsafe { ksim_sysctl(n.as_ptr(), std::ptr::null_mut(), &mut len, v.as_ptr().cast(), v.len()) }
}

/// sysctl(3) in/out with an opaque structure (e.g. the test module's run).
pub fn sysctl_inout<T: Copy>(name: &str, v: &mut T) -> i32 {
    let n = cs(name);
    let size = std::mem::size_of::<T>();
    let mut len = size;
    let p = (v as *mut T).cast::<c_void>();
    // SAFETY: v is valid for size bytes, in and out.
    unsafe { ksim_sysctl(n.as_ptr(), p, &mut len, p, size) }
}

/// Pages held (wired) now, by anyone.
pub fn pages_held() -> i64 {
    // SAFETY: model call.
    unsafe { ksim_pages_held() as i64 }
}

/// Write operations started (vn_start_write) and not finished.
pub fn write_ops() -> i32 {
    // SAFETY: model call.
    unsafe { ksim_write_ops() }
}

/// Buffers locked now.
pub fn bufs_locked() -> i32 {
    // SAFETY: model call.
    unsafe { ksim_bufs_locked() }
}

/// Cached buffers that keep a read credential.
pub fn bufs_with_cred() -> i32 {
    // SAFETY: model call.
    unsafe { ksim_bufs_with_cred() }
}

/// Whether slot `filt`'s filterops lie in module `name`'s image.
pub fn slot_owned_by(filt: i32, name: &str) -> bool {
    let n = cs(name);
    // SAFETY: model calls; the pointer is only compared.
    unsafe { ksim_kmod_owns(n.as_ptr(), ksim_kqueue_slot_fop(filt)) != 0 }
}

/// Taskqueues alive.
pub fn taskqueues_alive() -> i32 {
    // SAFETY: model call.
    unsafe { ksim_taskqueues_alive() }
}

/// Mode, owner and group of `/dev/<name>`.
pub fn dev_mode(name: &str) -> Option<(i32, i32, i32)> {
    let n = cs(name);
    let (mut u, mut g) = (0, 0);
    // SAFETY: model call with valid out-pointers.
    let m = unsafe { ksim_dev_mode(n.as_ptr(), &mut u, &mut g) };
    (m >= 0).then_some((m, u, g))
}

/// Let the simulated kernel run for `ticks` ticks (the caller sleeps).
pub fn nap(ticks: u64) {
    static NAP: u8 = 0;
    kernel::check_may_sleep("nap", 0);
    kernel::sim_stack_mask(0);
    sched::block(&NAP as *const u8 as usize, "nap", ticks.max(1));
}

/// Run `body` as the scenario's main thread (a thread of process `p`) and
/// return when it has ended.
pub fn spawn_main(p: Proc, body: Box<dyn FnOnce() + Send>) {
    let proc_ = p.0;
    // The scenario's thread is the first one: tid 0.
    sched::run_main(Box::new(move || kernel::thread_setup(0, proc_, false)()), body);
}
