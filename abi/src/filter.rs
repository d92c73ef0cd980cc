// SPDX-License-Identifier: BSD-2-Clause
//! Filter numbers and how a kqdafs event says what it is.
//!
//! FreeBSD 15 has `EVFILT_SYSCOUNT == 15` and every slot but `-12`
//! (`EVFILT_SENDFILE`, reserved and never registered) is taken on a stock
//! kernel.  So the module runs in one of two modes, published under
//! `kern.kqdafs.slot_mode` and in [`crate::KqdafsInfo`]:
//!
//! * [`SlotMode::Shared`]: KAIO and RDMA completions share slot `-12`; the
//!   event's `fflags` carry an [`EventKind`] bit telling them apart.
//! * [`SlotMode::Dedicated`]: a kernel with `patches/` applied reserves
//!   [`EVFILT_KAIO_DEDICATED`] and [`EVFILT_RDMA_DEDICATED`]; each kind has its
//!   own filter, and the kind bit is still set so decoders need not care.

use bitflags::bitflags;

/// `EVFILT_SYSCOUNT` of a stock FreeBSD 15 kernel.
pub const STOCK_EVFILT_SYSCOUNT: i32 = 15;
/// The one slot a stock kernel leaves free (`EVFILT_SENDFILE`, never
/// registered by the kernel).
pub const SHARED_SLOT: i16 = -12;
/// `EVFILT_KAIO` on a kernel patched with `patches/` (`EVFILT_SYSCOUNT` 17).
pub const EVFILT_KAIO_DEDICATED: i16 = -16;
/// `EVFILT_RDMA` on a kernel patched with `patches/`.
pub const EVFILT_RDMA_DEDICATED: i16 = -17;
/// `EVFILT_SYSCOUNT` of a kernel with the dedicated slots.
pub const DEDICATED_EVFILT_SYSCOUNT: i32 = 17;

/// How the module's filters were claimed.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotMode {
    /// One slot for both kinds (stock kernel).
    Shared = 1,
    /// One slot per kind (patched kernel).
    Dedicated = 2,
}

impl SlotMode {
    /// The word published by `sysctl kern.kqdafs.slot_mode`.
    pub const fn name(self) -> &'static str {
        match self {
            SlotMode::Shared => "shared",
            SlotMode::Dedicated => "dedicated",
        }
    }

    /// Decode the value found in [`crate::KqdafsInfo::slot_mode`].
    pub const fn from_raw(raw: u32) -> Option<SlotMode> {
        match raw {
            1 => Some(SlotMode::Shared),
            2 => Some(SlotMode::Dedicated),
            _ => None,
        }
    }

    /// Parse the sysctl word.
    pub fn from_name(name: &str) -> Option<SlotMode> {
        match name.trim() {
            "shared" => Some(SlotMode::Shared),
            "dedicated" => Some(SlotMode::Dedicated),
            _ => None,
        }
    }
}

bitflags! {
    /// The high bits of a kqdafs event's `fflags`: which kind of completion
    /// it is.  Exactly one is set in every event the module delivers.  The
    /// low 24 bits are per-kind (the operation).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct EventKind: u32 {
        /// A KAIO (file I/O) completion.
        const KAIO = 0x0100_0000;
        /// An RDMA (memory-to-memory transfer) completion.
        const RDMA = 0x0200_0000;
    }
}

/// Mask of the per-kind bits of `fflags`.
pub const FFLAGS_OP_MASK: u32 = 0x00ff_ffff;

/// Split an event's `fflags` into its kind and its per-kind bits.  `None`
/// when no kind bit, or more than one, is set: not a kqdafs event.
pub fn decode_fflags(fflags: u32) -> Option<(EventKind, u32)> {
    let kind = EventKind::from_bits(fflags & !FFLAGS_OP_MASK)?;
    if kind.bits().count_ones() != 1 {
        return None;
    }
    Some((kind, fflags & FFLAGS_OP_MASK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_mode_round_trips() {
        for mode in [SlotMode::Shared, SlotMode::Dedicated] {
            assert_eq!(SlotMode::from_raw(mode as u32), Some(mode));
            assert_eq!(SlotMode::from_name(mode.name()), Some(mode));
        }
        assert_eq!(SlotMode::from_raw(0), None);
        assert_eq!(SlotMode::from_raw(3), None);
        assert_eq!(SlotMode::from_name("both"), None);
    }

    #[test]
    fn fflags_need_exactly_one_kind() {
        assert_eq!(decode_fflags(EventKind::KAIO.bits() | 2), Some((EventKind::KAIO, 2)));
        assert_eq!(decode_fflags(EventKind::RDMA.bits()), Some((EventKind::RDMA, 0)));
        assert_eq!(decode_fflags(3), None);
        assert_eq!(decode_fflags((EventKind::KAIO | EventKind::RDMA).bits()), None);
        assert_eq!(decode_fflags(0x8000_0000), None);
    }

    #[test]
    fn slots_are_distinct_and_in_range() {
        assert!(SHARED_SLOT < 0 && i32::from(SHARED_SLOT) >= -STOCK_EVFILT_SYSCOUNT);
        for slot in [EVFILT_KAIO_DEDICATED, EVFILT_RDMA_DEDICATED] {
            assert!(i32::from(slot) < -STOCK_EVFILT_SYSCOUNT);
            assert!(i32::from(slot) >= -DEDICATED_EVFILT_SYSCOUNT);
        }
        assert_ne!(EVFILT_KAIO_DEDICATED, EVFILT_RDMA_DEDICATED);
    }
}
