//! Telling kqdafs events apart from the rest of a kqueue's events.

use kqdafs_abi::filter::{decode_fflags, EventKind, SlotMode};
use kqdafs_abi::KqdafsInfo;

/// The filter numbers the running module claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filters {
    /// Filter of KAIO events.
    pub kaio: i16,
    /// Filter of RDMA events (the same as `kaio` in shared mode).
    pub rdma: i16,
    /// How they were claimed.
    pub mode: SlotMode,
}

impl Filters {
    /// From the module's `KQDAFS_IOC_INFO` answer; `None` if it reports no
    /// filters (not loaded yet) or an unknown mode.
    pub fn from_info(info: &KqdafsInfo) -> Option<Filters> {
        let mode = info.slot_mode()?;
        if info.filter_kaio >= 0 || info.filter_rdma >= 0 {
            return None;
        }
        if (mode == SlotMode::Shared) != (info.filter_kaio == info.filter_rdma) {
            return None;
        }
        Some(Filters { kaio: info.filter_kaio, rdma: info.filter_rdma, mode })
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
/// build host).  [`crate::kqueue::Kqueue`] converts to and from the C
/// struct; `udata` is the pointer as an integer, the `ext` words are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
    fn inconsistent_info_is_rejected() {
        assert!(Filters::from_info(&info(0, 0, SlotMode::Shared)).is_none());
        assert!(Filters::from_info(&info(-12, -13, SlotMode::Shared)).is_none());
        assert!(Filters::from_info(&info(-16, -16, SlotMode::Dedicated)).is_none());
        let mut bad = info(-12, -12, SlotMode::Shared);
        bad.slot_mode = 9;
        assert!(Filters::from_info(&bad).is_none());
    }
}
