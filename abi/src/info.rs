// SPDX-License-Identifier: BSD-2-Clause
//! `KQDAFS_IOC_INFO`: what a userland library asks before anything else.

use crate::filter::SlotMode;

/// The module's version, its filter numbers and its limits.
///
/// Layout (64 bytes, no implicit padding) is checked against `kqdafs.h`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KqdafsInfo {
    /// [`crate::KQDAFS_ABI_VERSION`] of the running module.
    pub abi_version: u32,
    /// `MODULE_VERSION` of the running module.
    pub module_version: u32,
    /// Filter number carrying KAIO completions.
    pub filter_kaio: i16,
    /// Filter number carrying RDMA completions (equal to `filter_kaio` in
    /// [`SlotMode::Shared`]).
    pub filter_rdma: i16,
    /// A [`SlotMode`] as `u32`.
    pub slot_mode: u32,
    /// Most requests accepted in one submit call.
    pub max_batch: u32,
    /// Per-process limit on requests in flight (`kern.kqdafs.max_requests_per_proc`).
    pub max_requests_per_proc: u32,
    /// Per-process limit on bytes of user memory held (`kern.kqdafs.max_pinned_per_proc`).
    pub max_pinned_per_proc: u64,
    /// Zero; room for later fields without a size change.
    pub reserved: [u64; 4],
}

impl KqdafsInfo {
    /// The slot mode, if the module reported a known one.
    pub fn slot_mode(&self) -> Option<SlotMode> {
        SlotMode::from_raw(self.slot_mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_has_no_implicit_padding() {
        assert_eq!(size_of::<KqdafsInfo>(), 64);
        assert_eq!(offset_of!(KqdafsInfo, filter_kaio), 8);
        assert_eq!(offset_of!(KqdafsInfo, filter_rdma), 10);
        assert_eq!(offset_of!(KqdafsInfo, slot_mode), 12);
        assert_eq!(offset_of!(KqdafsInfo, max_pinned_per_proc), 24);
        assert_eq!(offset_of!(KqdafsInfo, reserved), 32);
    }
}
