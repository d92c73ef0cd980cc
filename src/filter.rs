//! The kevent filter callbacks behind `EVFILT_KAIO` and `EVFILT_RDMA`.
//!
//! As with `EVFILT_AIO` (`filt_aioattach` in `sys/kern/vfs_aio.c`), these
//! knotes are created by the module itself when a request is submitted
//! (`kqfd_register` with `EV_FLAG1`), never by a user's `kevent(EV_ADD)`:
//! the identifier of such an event is a request, not something a user can
//! name.  A user registration is therefore refused with `EPERM`, and the
//! kernel's own use count makes `kqueue_del_filteropts` refuse unload while
//! any knote exists.
//!
//! At this stage the module submits no requests yet (the KAIO and RDMA
//! request paths attach here), so every registration is refused.

use crate::kpi::kqueue::KnoteRef;
use crate::kpi::Errno;
use crate::stats::{Stats, STATS};

/// `f_attach`.
pub fn attach(kn: &mut KnoteRef<'_>) -> Result<(), Errno> {
    Stats::bump(&STATS.attach_refused);
    if !kn.is_kernel_registration() {
        return Err(Errno::EPERM);
    }
    // A kernel registration names a request; none exist yet.
    Err(Errno::ENXIO)
}

/// `f_detach`: only knotes whose attach succeeded are detached, and none
/// does yet, so there is nothing to undo.
pub fn detach(_kn: &mut KnoteRef<'_>) {}

/// `f_event`: whether the knote should fire.  No knote is attached yet.
pub fn event(_kn: &mut KnoteRef<'_>, _hint: i64) -> bool {
    false
}
