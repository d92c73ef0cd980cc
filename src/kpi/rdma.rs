// SPDX-License-Identifier: BSD-2-Clause
//! The RDMA ioctl structures, as [`PlainData`] the device may copy in and
//! out (kept apart from `ioctl.rs`, which lists the other kinds').

use super::ioctl::PlainData;
use kqdafs_abi::rdma::{RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaPost, RdmaRegMr, RdmaRequest, RdmaResult};

// SAFETY: #[repr(C)], integer fields only, and abi/src/rdma/tests.rs
// proves the fields tile each struct with no padding.
unsafe impl PlainData for RdmaRegMr {}
// SAFETY: as above.
unsafe impl PlainData for RdmaDeregMr {}
// SAFETY: as above.
unsafe impl PlainData for RdmaEpPair {}
// SAFETY: as above.
unsafe impl PlainData for RdmaEpClose {}
// SAFETY: as above.
unsafe impl PlainData for RdmaRequest {}
// SAFETY: as above.
unsafe impl PlainData for RdmaResult {}
// SAFETY: as above.
unsafe impl PlainData for RdmaPost {}
