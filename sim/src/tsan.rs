// SPDX-License-Identifier: BSD-2-Clause
//! ThreadSanitizer's view of the free-running mode (`make sim-tsan`).
//!
//! Free-running, the models are serialised by one lock (`sched`), which
//! is the simulation's device, not the kernel's: FreeBSD orders two
//! threads' accesses only through the primitives they use (a mutex, a
//! sleep queue, a taskqueue, ...).  Had ThreadSanitizer seen the model
//! lock, every KPI call would order everything before it in one thread
//! with everything after the next KPI call in any other, and it would
//! miss every race but those of two threads inside the module at the
//! same moment.  So, while a thread runs anything but module code
//! (scenario code, the engine, the models: the *kernel* side), it is
//! hidden from ThreadSanitizer: its reads, writes and synchronisation
//! are ignored (`AnnotateIgnore*Begin`).  The module's own code is
//! checked in full, and the happens-before edges it gets from the kernel
//! are the ones FreeBSD gives, each made explicitly by the model of the
//! primitive ([`release`] where FreeBSD releases, [`acquire`] where it
//! acquires): a lock released and taken (WITNESS's hooks, kernel.rs), a
//! wakeup and the sleeper's return, a thread's creation, a task enqueued
//! and run, a callout armed and fired, a buffer given to the disk and
//! completed, a file installed and looked up, and the others the models
//! name.  A missing edge shows up as a race report on a real run, never
//! as a missed race.
//!
//! In every other build (and in the seeded mode) these do nothing.

#[cfg(kqdafs_tsan)]
mod imp {
    use std::cell::Cell;
    use std::ffi::{c_char, c_int, c_void};

    extern "C" {
        fn AnnotateIgnoreReadsBegin(file: *const c_char, line: c_int);
        fn AnnotateIgnoreReadsEnd(file: *const c_char, line: c_int);
        fn AnnotateIgnoreWritesBegin(file: *const c_char, line: c_int);
        fn AnnotateIgnoreWritesEnd(file: *const c_char, line: c_int);
        fn AnnotateIgnoreSyncBegin(file: *const c_char, line: c_int);
        fn AnnotateIgnoreSyncEnd(file: *const c_char, line: c_int);
        fn __tsan_acquire(addr: *mut c_void);
        fn __tsan_release(addr: *mut c_void);
        fn __tsan_read_range(addr: *mut c_void, size: usize);
        fn __tsan_write_range(addr: *mut c_void, size: usize);
    }

    thread_local! {
        /// Whether this thread is on the kernel side (hidden).
        static HIDDEN: Cell<bool> = const { Cell::new(false) };
    }

    pub fn hide() {
        if HIDDEN.with(|h| h.replace(true)) {
            return;
        }
        let f = c"sim/src/tsan.rs".as_ptr();
        // SAFETY: the TSan runtime's annotations take a file name and a
        // line for their reports and count begins and ends per thread.
        unsafe {
            AnnotateIgnoreReadsBegin(f, 0);
            AnnotateIgnoreWritesBegin(f, 0);
            AnnotateIgnoreSyncBegin(f, 0);
        }
    }

    pub fn show() {
        if !HIDDEN.with(|h| h.replace(false)) {
            return;
        }
        let f = c"sim/src/tsan.rs".as_ptr();
        // SAFETY: ends the regions hide() began on this thread.
        unsafe {
            AnnotateIgnoreSyncEnd(f, 0);
            AnnotateIgnoreWritesEnd(f, 0);
            AnnotateIgnoreReadsEnd(f, 0);
        }
    }

    /// Run `f` with this thread's synchronisation seen (an annotation
    /// made from the kernel side).
    fn with_sync(f: impl FnOnce()) {
        let hidden = HIDDEN.with(Cell::get);
        let file = c"sim/src/tsan.rs".as_ptr();
        if hidden {
            // SAFETY: as in show(); hide()'s sync region is the only one.
            unsafe { AnnotateIgnoreSyncEnd(file, 0) };
        }
        f();
        if hidden {
            // SAFETY: as in hide().
            unsafe { AnnotateIgnoreSyncBegin(file, 0) };
        }
    }

    pub fn release(addr: usize) {
        // SAFETY: the runtime only uses the address as a key.
        with_sync(|| unsafe { __tsan_release(addr as *mut c_void) });
    }

    pub fn acquire(addr: usize) {
        // SAFETY: the runtime only uses the address as a key.
        with_sync(|| unsafe { __tsan_acquire(addr as *mut c_void) });
    }

    pub fn access(addr: usize, len: usize, write: bool) {
        let hidden = HIDDEN.with(Cell::get);
        let f = c"sim/src/tsan.rs".as_ptr();
        // SAFETY: the runtime records an access of [addr, addr + len) by
        // this thread in its shadow (it does not touch the memory); the
        // ignore regions are lifted around it and restored.
        unsafe {
            if hidden {
                AnnotateIgnoreReadsEnd(f, 0);
                AnnotateIgnoreWritesEnd(f, 0);
            }
            if write {
                __tsan_write_range(addr as *mut c_void, len);
            } else {
                __tsan_read_range(addr as *mut c_void, len);
            }
            if hidden {
                AnnotateIgnoreWritesBegin(f, 0);
                AnnotateIgnoreReadsBegin(f, 0);
            }
        }
    }
}

#[cfg(not(kqdafs_tsan))]
mod imp {
    pub fn hide() {}
    pub fn show() {}
    pub fn release(_addr: usize) {}
    pub fn acquire(_addr: usize) {}
    pub fn access(_addr: usize, _len: usize, _write: bool) {}
}

/// The calling thread goes to the kernel side: hidden from TSan.
pub fn hide() {
    if crate::sched::free() {
        imp::hide();
    }
}

/// The calling thread runs module code: seen by TSan.
pub fn show() {
    if crate::sched::free() {
        imp::show();
    }
}

/// A happens-before edge begins at `addr` (FreeBSD releases there).
pub fn release(addr: usize) {
    if crate::sched::free() {
        imp::release(addr);
    }
}

/// A happens-before edge ends at `addr` (FreeBSD acquires there).
pub fn acquire(addr: usize) {
    if crate::sched::free() {
        imp::acquire(addr);
    }
}

/// A model, inside a KPI call the module made, touches module memory on
/// the module's behalf (`free(9)` writes the whole block, `copyin`
/// writes the kernel buffer, `copyout` reads it): record the access as
/// the calling thread's, as if the module had made it, so that TSan
/// checks it against the module's other accesses (a use after free, a
/// buffer copied while another thread writes it).  Nothing when the
/// model was not called from module code.
pub fn module_access(addr: usize, len: usize, write: bool) {
    if crate::sched::free() && len > 0 && crate::sched::kpi_from_module() {
        imp::access(addr, len, write);
    }
}
