//! ioctl command encoding, as `<sys/ioccom.h>` defines it on FreeBSD.
//!
//! The kernel's generic ioctl path (`sys_ioctl` in `sys/kern/sys_generic.c`)
//! copies `IOCPARM_LEN(cmd)` bytes in for `IOC_IN` and out for `IOC_OUT`,
//! so the size encoded here must be the exact size of the argument struct.

use crate::info::KqdafsInfo;
use crate::kaio::{KaioCancel, KaioSubmit};

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

/// Cancel one KAIO request ([`KaioCancel`], read and written back).
pub const KQDAFS_IOC_KAIO_CANCEL: u32 = iowr::<KaioCancel>(KQDAFS_IOC_GROUP, 3);

/// The commands this ABI version defines.
pub const ALL_COMMANDS: &[u32] = &[KQDAFS_IOC_INFO, KQDAFS_IOC_KAIO_SUBMIT, KQDAFS_IOC_KAIO_CANCEL];

/// What the device does with a command word it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// [`KQDAFS_IOC_INFO`].
    Info,
    /// [`KQDAFS_IOC_KAIO_SUBMIT`].
    KaioSubmit,
    /// [`KQDAFS_IOC_KAIO_CANCEL`].
    KaioCancel,
}

impl Command {
    /// Decode a command word; `None` for anything this ABI does not define
    /// (the device answers `ENOTTY`, as ioctl(2) documents).
    pub const fn decode(cmd: u32) -> Option<Command> {
        match cmd {
            KQDAFS_IOC_INFO => Some(Command::Info),
            KQDAFS_IOC_KAIO_SUBMIT => Some(Command::KaioSubmit),
            KQDAFS_IOC_KAIO_CANCEL => Some(Command::KaioCancel),
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
