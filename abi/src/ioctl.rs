// SPDX-License-Identifier: BSD-2-Clause
//! ioctl command encoding, as `<sys/ioccom.h>` defines it on FreeBSD.
//!
//! The kernel's generic ioctl path (`sys_ioctl` in `sys/kern/sys_generic.c`)
//! copies `IOCPARM_LEN(cmd)` bytes in for `IOC_IN` and out for `IOC_OUT`,
//! so the size encoded here must be the exact size of the argument struct.

use crate::info::KqdafsInfo;
use crate::kaio::{KaioCancel, KaioSubmit};
use crate::rdma::{RdmaDeregMr, RdmaEpClose, RdmaEpPair, RdmaPost, RdmaRegMr};

/// Parameter length mask (13 bits: at most 8191 bytes by value).
pub const IOCPARM_MASK: u32 = 0x1fff;
/// Copy the parameter out to user space.
pub const IOC_OUT: u32 = 0x4000_0000;
/// Copy the parameter in from user space.
pub const IOC_IN: u32 = 0x8000_0000;
/// Both directions.
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;

/// The ioctl group letter of kqdafs.
pub const KQDAFS_IOC_GROUP: u8 = b'Q';

/// `_IOC(inout, group, num, len)`.
///
/// Fails to compile (in const context) if `len` does not fit the 13-bit field.
pub const fn ioc(inout: u32, group: u8, num: u8, len: usize) -> u32 {
    assert!(len <= IOCPARM_MASK as usize, "ioctl argument too large");
    inout | ((len as u32 & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32
}

/// `_IOR(g, n, t)`: the kernel writes a `t` back.
pub const fn ior<T>(group: u8, num: u8) -> u32 {
    ioc(IOC_OUT, group, num, core::mem::size_of::<T>())
}

/// `_IOW(g, n, t)`: the kernel reads a `t`.
pub const fn iow<T>(group: u8, num: u8) -> u32 {
    ioc(IOC_IN, group, num, core::mem::size_of::<T>())
}

/// `_IOWR(g, n, t)`: both.
pub const fn iowr<T>(group: u8, num: u8) -> u32 {
    ioc(IOC_INOUT, group, num, core::mem::size_of::<T>())
}

/// `IOCPARM_LEN(cmd)`.
pub const fn param_len(cmd: u32) -> usize {
    ((cmd >> 16) & IOCPARM_MASK) as usize
}

/// Query the module's version, filter numbers and limits.
pub const KQDAFS_IOC_INFO: u32 = ior::<KqdafsInfo>(KQDAFS_IOC_GROUP, 1);

/// Submit a batch of KAIO requests ([`KaioSubmit`], read and written back).
pub const KQDAFS_IOC_KAIO_SUBMIT: u32 = iowr::<KaioSubmit>(KQDAFS_IOC_GROUP, 2);

/// Cancel one request of this descriptor, KAIO or RDMA ([`KaioCancel`],
/// read and written back).
pub const KQDAFS_IOC_KAIO_CANCEL: u32 = iowr::<KaioCancel>(KQDAFS_IOC_GROUP, 3);

/// The kind-neutral name of [`KQDAFS_IOC_KAIO_CANCEL`]: request ids are
/// unique over both kinds, and the command cancels either.
pub const KQDAFS_IOC_CANCEL: u32 = KQDAFS_IOC_KAIO_CANCEL;

/// Register a memory region ([`RdmaRegMr`], read and written back).
pub const KQDAFS_IOC_RDMA_REG_MR: u32 = iowr::<RdmaRegMr>(KQDAFS_IOC_GROUP, 4);

/// Deregister a memory region ([`RdmaDeregMr`]).
pub const KQDAFS_IOC_RDMA_DEREG_MR: u32 = iow::<RdmaDeregMr>(KQDAFS_IOC_GROUP, 5);

/// Make two connected loopback endpoints ([`RdmaEpPair`], read and
/// written back).
pub const KQDAFS_IOC_RDMA_EP_PAIR: u32 = iowr::<RdmaEpPair>(KQDAFS_IOC_GROUP, 6);

/// Close an endpoint ([`RdmaEpClose`]).
pub const KQDAFS_IOC_RDMA_EP_CLOSE: u32 = iow::<RdmaEpClose>(KQDAFS_IOC_GROUP, 7);

/// Post a batch of RDMA work requests ([`RdmaPost`], read and written
/// back).
pub const KQDAFS_IOC_RDMA_POST: u32 = iowr::<RdmaPost>(KQDAFS_IOC_GROUP, 8);

/// The commands this ABI version defines.
pub const ALL_COMMANDS: &[u32] = &[
    KQDAFS_IOC_INFO,
    KQDAFS_IOC_KAIO_SUBMIT,
    KQDAFS_IOC_KAIO_CANCEL,
    KQDAFS_IOC_RDMA_REG_MR,
    KQDAFS_IOC_RDMA_DEREG_MR,
    KQDAFS_IOC_RDMA_EP_PAIR,
    KQDAFS_IOC_RDMA_EP_CLOSE,
    KQDAFS_IOC_RDMA_POST,
];

/// What the device does with a command word it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// [`KQDAFS_IOC_INFO`].
    Info,
    /// [`KQDAFS_IOC_KAIO_SUBMIT`].
    KaioSubmit,
    /// [`KQDAFS_IOC_KAIO_CANCEL`] (any request).
    KaioCancel,
    /// [`KQDAFS_IOC_RDMA_REG_MR`].
    RdmaRegMr,
    /// [`KQDAFS_IOC_RDMA_DEREG_MR`].
    RdmaDeregMr,
    /// [`KQDAFS_IOC_RDMA_EP_PAIR`].
    RdmaEpPair,
    /// [`KQDAFS_IOC_RDMA_EP_CLOSE`].
    RdmaEpClose,
    /// [`KQDAFS_IOC_RDMA_POST`].
    RdmaPost,
}

impl Command {
    /// Decode a command word; `None` for anything this ABI does not define
    /// (the device answers `ENOTTY`, as ioctl(2) documents).
    pub const fn decode(cmd: u32) -> Option<Command> {
        match cmd {
            KQDAFS_IOC_INFO => Some(Command::Info),
            KQDAFS_IOC_KAIO_SUBMIT => Some(Command::KaioSubmit),
            KQDAFS_IOC_KAIO_CANCEL => Some(Command::KaioCancel),
            KQDAFS_IOC_RDMA_REG_MR => Some(Command::RdmaRegMr),
            KQDAFS_IOC_RDMA_DEREG_MR => Some(Command::RdmaDeregMr),
            KQDAFS_IOC_RDMA_EP_PAIR => Some(Command::RdmaEpPair),
            KQDAFS_IOC_RDMA_EP_CLOSE => Some(Command::RdmaEpClose),
            KQDAFS_IOC_RDMA_POST => Some(Command::RdmaPost),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_encodes_size_group_and_direction() {
        assert_eq!(param_len(KQDAFS_IOC_INFO), core::mem::size_of::<KqdafsInfo>());
        assert_eq!((KQDAFS_IOC_INFO >> 8) & 0xff, u32::from(b'Q'));
        assert_eq!(KQDAFS_IOC_INFO & 0xff, 1);
        assert_eq!(KQDAFS_IOC_INFO & IOC_INOUT, IOC_OUT);
    }

    #[test]
    fn kaio_commands_encode_size_number_and_both_directions() {
        assert_eq!(param_len(KQDAFS_IOC_KAIO_SUBMIT), core::mem::size_of::<KaioSubmit>());
        assert_eq!(param_len(KQDAFS_IOC_KAIO_CANCEL), core::mem::size_of::<KaioCancel>());
        assert_eq!(KQDAFS_IOC_KAIO_SUBMIT & 0xff, 2);
        assert_eq!(KQDAFS_IOC_KAIO_CANCEL & 0xff, 3);
        for cmd in [KQDAFS_IOC_KAIO_SUBMIT, KQDAFS_IOC_KAIO_CANCEL] {
            assert_eq!(cmd & IOC_INOUT, IOC_INOUT);
            assert_eq!((cmd >> 8) & 0xff, u32::from(KQDAFS_IOC_GROUP));
        }
        assert_eq!(Command::decode(KQDAFS_IOC_KAIO_SUBMIT), Some(Command::KaioSubmit));
        assert_eq!(Command::decode(KQDAFS_IOC_KAIO_CANCEL), Some(Command::KaioCancel));
    }

    #[test]
    fn rdma_commands_encode_their_sizes_and_directions() {
        let cases = [
            (KQDAFS_IOC_RDMA_REG_MR, 4, core::mem::size_of::<RdmaRegMr>(), IOC_INOUT, Command::RdmaRegMr),
            (KQDAFS_IOC_RDMA_DEREG_MR, 5, core::mem::size_of::<RdmaDeregMr>(), IOC_IN, Command::RdmaDeregMr),
            (KQDAFS_IOC_RDMA_EP_PAIR, 6, core::mem::size_of::<RdmaEpPair>(), IOC_INOUT, Command::RdmaEpPair),
            (KQDAFS_IOC_RDMA_EP_CLOSE, 7, core::mem::size_of::<RdmaEpClose>(), IOC_IN, Command::RdmaEpClose),
            (KQDAFS_IOC_RDMA_POST, 8, core::mem::size_of::<RdmaPost>(), IOC_INOUT, Command::RdmaPost),
        ];
        for (cmd, num, len, dir, decoded) in cases {
            assert_eq!(cmd & 0xff, num);
            assert_eq!(param_len(cmd), len);
            assert_eq!(cmd & IOC_INOUT, dir);
            assert_eq!(Command::decode(cmd), Some(decoded));
        }
        assert_eq!(KQDAFS_IOC_CANCEL, KQDAFS_IOC_KAIO_CANCEL);
    }

    #[test]
    fn commands_are_distinct() {
        for (i, a) in ALL_COMMANDS.iter().enumerate() {
            for b in &ALL_COMMANDS[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn decode_rejects_neighbours_of_every_command() {
        for &cmd in ALL_COMMANDS {
            assert!(Command::decode(cmd).is_some());
            // Same number, other direction or other size: not ours.
            assert!(Command::decode(cmd ^ IOC_IN).is_none());
            assert!(Command::decode(cmd + (1 << 16)).is_none());
            assert!(Command::decode(cmd ^ 0x100).is_none());
        }
        assert!(Command::decode(0).is_none());
        assert!(Command::decode(u32::MAX).is_none());
    }
}
