// SPDX-License-Identifier: BSD-2-Clause
//! Telling kqdafs events apart from the rest of a kqueue's events.

use kqdafs_abi::filter::{
    decode_fflags, EventKind, SlotMode, EVFILT_KAIO_DEDICATED, EVFILT_RDMA_DEDICATED, SHARED_SLOT,
};
use kqdafs_abi::KqdafsInfo;

/// The filter numbers the running module claimed: one of the two
/// configurations the module can be in, and nothing else.
///
/// The numbers decide which delivered events [`crate::Kaio::complete`] and
/// [`crate::Rdma::complete`] look at, so they cannot be set freely: with
/// the filter of, say, `EVFILT_USER` or `EVFILT_PROC` (events whose
/// `ident`, `data` or `udata` the program chooses), a delivered but
/// made-up event could pass for a completion.  Only the module's own slots
/// are representable: [`Filters::shared`] (`-12` for both kinds, a stock
/// kernel) and [`Filters::dedicated`] (`-16` and `-17`, a patched kernel),
/// which only the module's knotes use.
///
/// ```compile_fail,E0451
/// use kqdafs_abi::filter::SlotMode;
/// let user = kqdafs_user::Filters { kaio: -11, rdma: -11, mode: SlotMode::Shared };
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filters {
    kaio: i16,
    rdma: i16,
    mode: SlotMode,
}

impl Filters {
    /// Both kinds on the one slot a stock kernel leaves free (`-12`),
    /// told apart by the kind bit in `fflags`.
    pub const fn shared() -> Filters {
        Filters { kaio: SHARED_SLOT, rdma: SHARED_SLOT, mode: SlotMode::Shared }
    }

    /// `EVFILT_KAIO` (`-16`) and `EVFILT_RDMA` (`-17`) of a kernel patched
    /// with `patches/`.
    pub const fn dedicated() -> Filters {
        Filters { kaio: EVFILT_KAIO_DEDICATED, rdma: EVFILT_RDMA_DEDICATED, mode: SlotMode::Dedicated }
    }

    /// Filter of KAIO events.
    pub const fn kaio(&self) -> i16 {
        self.kaio
    }

    /// Filter of RDMA events (the same as [`Filters::kaio`] in shared
    /// mode).
    pub const fn rdma(&self) -> i16 {
        self.rdma
    }

    /// How they were claimed.
    pub const fn mode(&self) -> SlotMode {
        self.mode
    }

    /// From the module's `KQDAFS_IOC_INFO` answer; `None` if it reports no
    /// filters (not loaded yet), an unknown mode, or numbers that are not
    /// those of its mode (see [`Filters`]).
    pub fn from_info(info: &KqdafsInfo) -> Option<Filters> {
        let want = match info.slot_mode()? {
            SlotMode::Shared => Filters::shared(),
            SlotMode::Dedicated => Filters::dedicated(),
        };
        (info.filter_kaio == want.kaio && info.filter_rdma == want.rdma).then_some(want)
    }

    /// From the values of `kern.kqdafs.filter_kaio`, `filter_rdma` and
    /// `slot_mode`, checked as [`Filters::from_info`] checks the ioctl's.
    pub fn from_sysctl_values(kaio: i64, rdma: i64, mode: &str) -> Option<Filters> {
        let info = KqdafsInfo {
            filter_kaio: i16::try_from(kaio).ok()?,
            filter_rdma: i16::try_from(rdma).ok()?,
            slot_mode: SlotMode::from_name(mode)? as u32,
            ..Default::default()
        };
        Filters::from_info(&info)
    }

    /// Classify one received event by its `filter` and `fflags`.  Works in
    /// both slot modes: the kind bit in `fflags` decides, and must agree
    /// with the filter the event arrived on.
    pub fn classify(&self, filter: i16, fflags: u32) -> Option<KqdafsEvent> {
        if filter != self.kaio && filter != self.rdma {
            return None;
        }
        let (kind, op) = decode_fflags(fflags)?;
        let expected = if kind == EventKind::KAIO { self.kaio } else { self.rdma };
        if filter != expected {
            return None;
        }
        Some(if kind == EventKind::KAIO { KqdafsEvent::Kaio { op } } else { KqdafsEvent::Rdma { op } })
    }
}

/// The fields of a `struct kevent`, portable (so decoding is tested on the
/// build host): what a program builds to change a kqueue
/// (`Kqueue::register`) and reads off a received [`Event`].  `udata` is the
/// pointer as an integer, the `ext` words are 0.
///
/// Anyone can make one, so a `RawEvent` never completes a request:
/// [`crate::Kaio::complete`] and [`crate::Rdma::complete`] take an
/// [`Event`], which only the kernel's answer makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct RawEvent {
    /// `ident`.
    pub ident: u64,
    /// `filter`.
    pub filter: i16,
    /// `flags` (`EV_*`).
    pub flags: u16,
    /// `fflags`.
    pub fflags: u32,
    /// `data`.
    pub data: i64,
    /// `udata`.
    pub udata: u64,
}

/// An event as `kevent(2)` delivered it: the proof [`crate::Kaio::complete`]
/// and [`crate::Rdma::complete`] need before they hand back a buffer or
/// free a request's slot.
///
/// Its fields are read through [`Deref`](core::ops::Deref) to [`RawEvent`] (`ev.ident`,
/// `ev.udata`, ...) but cannot be set: safe code gets an `Event` only from
/// `Kqueue::poll` (FreeBSD) or as [`Event::default`] (filter 0, which no
/// request completes with).  Request ids are small and the `udata` tokens
/// sequential, so a made-up event naming a request still in flight would
/// otherwise hand back a buffer the kernel is still writing.  A program
/// with a `kevent` loop of its own (another reactor) makes `Event`s with
/// the `unsafe` [`Event::from_raw`].
///
/// The layout is that of the C `struct kevent` of FreeBSD's 64-bit
/// targets (a [`RawEvent`] followed by the four `ext` words), checked at
/// compile time, so `Kqueue::poll` has the kernel write straight into the
/// caller's slice.
///
/// ```
/// use kqdafs_user::{Event, RawEvent};
/// let ev = Event::default();
/// assert_eq!(ev.filter, 0);
/// let raw: RawEvent = *ev;
/// // SAFETY (of this example): filter 0 is no kqdafs filter, so this
/// // event completes nothing; a real caller passes what kevent(2) wrote.
/// let again = unsafe { Event::from_raw(raw) };
/// assert_eq!(again, ev);
/// ```
///
/// Safe code cannot make one out of a [`RawEvent`]:
///
/// ```compile_fail,E0133
/// use kqdafs_user::{Event, RawEvent};
/// let forged = Event::from_raw(RawEvent { ident: 1, udata: 1, ..RawEvent::default() });
/// ```
///
/// ```compile_fail,E0451
/// use kqdafs_user::{Event, RawEvent};
/// let forged = Event { raw: RawEvent::default(), ext: [0; 4] };
/// ```
///
/// ```compile_fail,E0594
/// use kqdafs_user::Event;
/// let mut ev = Event::default();
/// ev.udata = 1; // no `DerefMut`: a delivered event cannot be altered
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Event {
    raw: RawEvent,
    /// `ext[4]`, as the kernel wrote them (0 for the module's events).
    ext: [u64; 4],
}

impl Event {
    /// Wrap an event received from the kernel.
    ///
    /// # Safety
    ///
    /// `raw` must be an event `kevent(2)` returned (its `ident`, `filter`,
    /// `fflags`, `data` and `udata` as the kernel wrote them), and not one
    /// made up or altered by the program: if it names a request of a
    /// [`crate::Kaio`] or [`crate::Rdma`] (by `ident` and `udata`), completing
    /// it gives back that request's buffer and tells the program the
    /// kernel is done with its memory.  Any event of another filter (not a
    /// kqdafs one) is harmless.
    pub const unsafe fn from_raw(raw: RawEvent) -> Event {
        Event { raw, ext: [0; 4] }
    }

    /// The fields, as a plain [`RawEvent`] (which completes nothing).
    pub const fn raw(&self) -> RawEvent {
        self.raw
    }
}

impl core::ops::Deref for Event {
    type Target = RawEvent;
    fn deref(&self) -> &RawEvent {
        &self.raw
    }
}

/// An event as the fake kernel of the crate's tests delivers it (it plays
/// the kernel: it makes the event once it is done with the request's
/// memory; tests that alter one stand for a confused kernel, which the
/// library must survive).
#[cfg(test)]
pub(crate) fn delivered(raw: RawEvent) -> Event {
    Event { raw, ext: [0; 4] }
}

/// `Kqueue::poll` hands `&mut [Event]` to `kevent(2)` as `struct kevent *`.
#[cfg(target_os = "freebsd")]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<Event>() == size_of::<libc::kevent>());
    assert!(align_of::<Event>() == align_of::<libc::kevent>());
    assert!(offset_of!(Event, raw) == 0);
    assert!(offset_of!(RawEvent, ident) == offset_of!(libc::kevent, ident));
    assert!(size_of::<u64>() == size_of::<libc::uintptr_t>());
    assert!(offset_of!(RawEvent, filter) == offset_of!(libc::kevent, filter));
    assert!(offset_of!(RawEvent, flags) == offset_of!(libc::kevent, flags));
    assert!(offset_of!(RawEvent, fflags) == offset_of!(libc::kevent, fflags));
    assert!(offset_of!(RawEvent, data) == offset_of!(libc::kevent, data));
    assert!(offset_of!(RawEvent, udata) == offset_of!(libc::kevent, udata));
    assert!(size_of::<u64>() == size_of::<*mut libc::c_void>());
    assert!(offset_of!(Event, ext) == offset_of!(libc::kevent, ext));
};

impl Filters {
    /// [`Filters::classify`] of a whole event.
    pub fn classify_event(&self, ev: &RawEvent) -> Option<KqdafsEvent> {
        self.classify(ev.filter, ev.fflags)
    }
}

/// A decoded kqdafs event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KqdafsEvent {
    /// A file I/O completion; `op` is the per-kind operation code.
    Kaio {
        /// Operation code.
        op: u32,
    },
    /// An RDMA completion.
    Rdma {
        /// Operation code.
        op: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kaio: i16, rdma: i16, mode: SlotMode) -> KqdafsInfo {
        KqdafsInfo { filter_kaio: kaio, filter_rdma: rdma, slot_mode: mode as u32, ..Default::default() }
    }

    #[test]
    fn shared_mode_splits_one_filter_by_kind_bit() {
        let f = Filters::from_info(&info(-12, -12, SlotMode::Shared)).unwrap();
        assert_eq!(f.classify(-12, EventKind::KAIO.bits() | 1), Some(KqdafsEvent::Kaio { op: 1 }));
        assert_eq!(f.classify(-12, EventKind::RDMA.bits() | 2), Some(KqdafsEvent::Rdma { op: 2 }));
        assert_eq!(f.classify(-12, 1), None, "no kind bit: not ours");
        assert_eq!(f.classify(-1, EventKind::KAIO.bits()), None, "EVFILT_READ is not ours");
    }

    #[test]
    fn dedicated_mode_checks_filter_and_kind_agree() {
        let f = Filters::from_info(&info(-16, -17, SlotMode::Dedicated)).unwrap();
        assert_eq!(f.classify(-16, EventKind::KAIO.bits()), Some(KqdafsEvent::Kaio { op: 0 }));
        assert_eq!(f.classify(-17, EventKind::RDMA.bits()), Some(KqdafsEvent::Rdma { op: 0 }));
        assert_eq!(f.classify(-16, EventKind::RDMA.bits()), None);
    }

    #[test]
    fn sysctl_values_are_checked_like_info() {
        let f = Filters::from_sysctl_values(-12, -12, "shared\n").unwrap();
        assert_eq!((f.kaio, f.rdma, f.mode), (-12, -12, SlotMode::Shared));
        assert!(Filters::from_sysctl_values(-16, -17, "dedicated").is_some());
        assert!(Filters::from_sysctl_values(-16, -17, "shared").is_none());
        assert!(Filters::from_sysctl_values(-70000, -12, "shared").is_none());
        assert!(Filters::from_sysctl_values(-12, -12, "weird").is_none());
    }

    #[test]
    fn a_default_event_is_no_kqdafs_event() {
        let ev = Event::default();
        for f in [info(-12, -12, SlotMode::Shared), info(-16, -17, SlotMode::Dedicated)] {
            assert_eq!(Filters::from_info(&f).unwrap().classify_event(&ev), None);
        }
        assert_eq!(ev.raw(), RawEvent::default());
        assert_eq!(core::mem::size_of::<Event>(), 64, "the size of FreeBSD's struct kevent on 64-bit targets");
    }

    #[test]
    fn only_the_modules_own_slots_are_filters() {
        assert_eq!(Filters::from_info(&info(-12, -12, SlotMode::Shared)), Some(Filters::shared()));
        assert_eq!(Filters::from_info(&info(-16, -17, SlotMode::Dedicated)), Some(Filters::dedicated()));
        // EVFILT_USER (-11) and EVFILT_PROC (-5) deliver events whose
        // fields the program chooses; other slots are never claimed.
        assert!(Filters::from_info(&info(-11, -11, SlotMode::Shared)).is_none());
        assert!(Filters::from_info(&info(-5, -5, SlotMode::Shared)).is_none());
        assert!(Filters::from_info(&info(-11, -5, SlotMode::Dedicated)).is_none());
        assert!(Filters::from_info(&info(-17, -16, SlotMode::Dedicated)).is_none());
        assert!(Filters::from_sysctl_values(-11, -11, "shared").is_none());
        let f = Filters::dedicated();
        assert_eq!((f.kaio(), f.rdma(), f.mode()), (-16, -17, SlotMode::Dedicated));
    }

    #[test]
    fn inconsistent_info_is_rejected() {
        assert!(Filters::from_info(&info(0, 0, SlotMode::Shared)).is_none());
        assert!(Filters::from_info(&info(-12, -13, SlotMode::Shared)).is_none());
        assert!(Filters::from_info(&info(-16, -16, SlotMode::Dedicated)).is_none());
        let mut bad = info(-12, -12, SlotMode::Shared);
        bad.slot_mode = 9;
        assert!(Filters::from_info(&bad).is_none());
    }
}
