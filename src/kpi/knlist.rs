//! `knlist`: the list of knotes an event source notifies (kqueue(9)).

use super::alloc::{Flags, KBox};
use super::kqueue::KnoteRef;
use super::sync::Mutex;
use super::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_long, CStr};

/// A knote list locked by its own `mtx(9)` (`knlist_init_mtx`).
///
/// Knotes are added from a filter's `f_attach` and removed from its
/// `f_detach`; the event source calls [`KnList::notify`].  On drop the list
/// is cleared (remaining knotes are marked `EV_EOF` and detached by the
/// kernel, `knlist_clear`) and destroyed.
pub struct KnList {
    // Field order matters: the list drops (and is destroyed) before its lock.
    list: KBox<UnsafeCell<sys::knlist>>,
    lock: Mutex<()>,
}

// SAFETY: the knlist is only touched through kern_event.c functions, which
// take the list's own mutex.
unsafe impl Send for KnList {}
// SAFETY: as above.
unsafe impl Sync for KnList {}

impl KnList {
    /// A new, empty list; `name` names its mutex.
    pub fn new(name: &'static CStr, flags: Flags) -> Result<KnList, Errno> {
        let lock = Mutex::new(name, (), flags)?;
        let list = KBox::try_new(UnsafeCell::new(sys::knlist::default()), flags)?;
        // SAFETY: the knlist is fresh heap memory that never moves; the
        // mutex is initialised and outlives the list (field order).
        unsafe { sys::knlist_init_mtx(list.get(), lock.raw()) };
        Ok(KnList { list, lock })
    }

    /// Add the knote being attached (call from `f_attach`).
    pub fn add(&self, kn: &mut KnoteRef<'_>) {
        // SAFETY: the list is initialised; `kn` is the live knote of the
        // current f_attach; islocked 0: knlist_add takes the list lock.
        unsafe { sys::knlist_add(self.list.get(), kn.as_raw(), 0) };
    }

    /// Remove a knote (call from `f_detach`).
    pub fn remove(&self, kn: &mut KnoteRef<'_>) {
        // SAFETY: as in `add`; the knote was added to this list.
        unsafe { sys::knlist_remove(self.list.get(), kn.as_raw(), 0) };
    }

    /// Run `f_event` on every knote with `hint`, activating those that
    /// fire (`KNOTE_UNLOCKED`).  Takes the list lock: do not hold it.
    pub fn notify(&self, hint: c_long) {
        // SAFETY: the list is initialised; flags 0 = list not locked.
        unsafe { sys::knote(self.list.get(), hint, 0) };
    }

    /// Whether no knote is on the list (a snapshot).
    pub fn is_empty(&self) -> bool {
        let _held = self.lock.lock();
        // SAFETY: the list is initialised and its lock is held, as
        // knlist_empty asserts.
        unsafe { sys::knlist_empty(self.list.get()) != c_int::from(false) }
    }
}

impl Drop for KnList {
    fn drop(&mut self) {
        // SAFETY: the list is initialised; knlist_cleardel(…, NULL, 0, 0)
        // is `knlist_clear(list, 0)`: it detaches every remaining knote,
        // after which knlist_destroy's emptiness assertion holds.
        unsafe {
            sys::knlist_cleardel(self.list.get(), core::ptr::null_mut(), 0, 0);
            sys::knlist_destroy(self.list.get());
        }
    }
}
