//! Userland side of kqdafs: open `/dev/kqdafs`, learn the module's filter
//! numbers and limits, and decode its events.
//!
//! The device and sysctl calls exist only on FreeBSD; event decoding is
//! portable (and tested on the build host).

#[cfg(target_os = "freebsd")]
pub mod device;
pub mod event;
#[cfg(target_os = "freebsd")]
pub mod sysctl;

pub use event::{Filters, KqdafsEvent};
