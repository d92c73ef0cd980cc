// SPDX-License-Identifier: BSD-2-Clause
//! The kqdafs user/kernel ABI.
//!
//! One definition of every structure, constant and ioctl number that crosses
//! the `/dev/kqdafs` boundary or appears in a `struct kevent`, shared by the
//! kernel module and the userland library.  `include/kqdafs.h` mirrors it for
//! C; `tests/c_header.rs` compiles that header against the FreeBSD headers and
//! proves the two agree (sizes, offsets, ioctl numbers, constants).
//!
//! Every structure is `#[repr(C)]` with explicit padding fields, so that no
//! byte copied out of the kernel is left uninitialised.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod errno;
pub mod filter;
pub mod info;
pub mod ioctl;
pub mod kaio;
pub mod rdma;

pub use filter::{EventKind, SlotMode};
pub use info::KqdafsInfo;
pub use kaio::{
    decode_kaio_data, decode_kaio_fflags, encode_kaio_data, kaio_fflags, validate, validate_batch, validate_cancel,
    KaioCancel, KaioCompletion, KaioError, KaioLimits, KaioOp, KaioRequest, KaioResult, KaioSubmit, ValidRequest,
    MAX_BATCH,
};
pub use rdma::{
    decode_rdma_fflags, rdma_fflags, validate_ep_pair, validate_post, validate_rdma, validate_reg_mr, MrAccess,
    RdmaCompletion, RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaError, RdmaOp, RdmaPost, RdmaRegMr, RdmaRequest,
    RdmaResult, ValidRdmaRequest,
};

/// Version of this ABI.  Bumped on any incompatible change; the module
/// reports it in [`KqdafsInfo::abi_version`].
pub const KQDAFS_ABI_VERSION: u32 = 1;

/// Path of the control device.
pub const KQDAFS_DEVICE: &str = "/dev/kqdafs";

/// Root of the module's sysctl tree.
pub const KQDAFS_SYSCTL_ROOT: &str = "kern.kqdafs";
