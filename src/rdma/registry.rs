// SPDX-License-Identifier: BSD-2-Clause
//! The kernel-independent policy of the NIC provider interface
//! (`kmod/kqdafs_rdma_provider.h`, `kqdafs_rdma_provider(9)`): provider
//! names, the registry that finds a provider by name, and what a
//! provider's completion `(error, bytes)` means for a transfer.
//! Host-tested; the kernel keeps one [`Registry`] of registered providers
//! (`nic.rs`).

/// Longest provider name, in bytes (the C buffer has one more for the
/// NUL).
pub const NAME_MAX: usize = 31;
/// Most providers registered at once.
pub const MAX_PROVIDERS: usize = 16;
/// `EIO`: what a provider's nonsensical completion becomes.
pub const EIO: i32 = 5;
/// Largest errno a provider may report (FreeBSD's `ELAST` is below it).
pub const ERRNO_MAX: i32 = 255;

/// A provider's name: 1 to [`NAME_MAX`] printable ASCII bytes, no space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; NAME_MAX],
    len: u8,
}

impl Name {
    /// `name` if it is valid.
    pub fn new(name: &[u8]) -> Option<Name> {
        if name.is_empty() || name.len() > NAME_MAX || !name.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0u8; NAME_MAX];
        bytes[..name.len()].copy_from_slice(name);
        Some(Name { bytes, len: name.len() as u8 })
    }

    /// The bytes of the name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Why a registration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryError {
    /// A provider of that name is registered (`EEXIST`).
    Exists,
    /// [`MAX_PROVIDERS`] are registered (`ENOSPC`).
    Full,
    /// The table could not grow (`ENOMEM`).
    NoMemory,
}

/// Registered providers by name: a fixed array, so that the kernel's
/// registry lock (a `crate::spinlock::SpinLock`, under which nothing may
/// allocate or free) never allocates.
#[derive(Debug)]
pub struct Registry<T> {
    entries: [Option<(Name, T)>; MAX_PROVIDERS],
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry::new()
    }
}

impl<T> Registry<T> {
    /// Empty.
    pub const fn new() -> Registry<T> {
        Registry { entries: [const { None }; MAX_PROVIDERS] }
    }

    /// Register `value` as `name`; the value comes back on refusal.
    /// Never allocates.
    pub fn insert(&mut self, name: Name, value: T) -> Result<(), (RegistryError, T)> {
        if self.find(name.as_bytes()).is_some() {
            return Err((RegistryError::Exists, value));
        }
        match self.entries.iter_mut().find(|e| e.is_none()) {
            Some(free) => {
                *free = Some((name, value));
                Ok(())
            }
            None => Err((RegistryError::Full, value)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &(Name, T)> {
        self.entries.iter().flatten()
    }

    /// The provider named `name`.
    pub fn find(&self, name: &[u8]) -> Option<&T> {
        self.iter().find(|(n, _)| n.as_bytes() == name).map(|(_, v)| v)
    }

    /// The first provider `pred` accepts.
    pub fn find_by(&self, pred: impl Fn(&T) -> bool) -> Option<&T> {
        self.iter().map(|(_, v)| v).find(|v| pred(v))
    }

    /// Take out the first provider `pred` accepts (the caller drops it,
    /// outside the lock).
    pub fn remove_by(&mut self, pred: impl Fn(&T) -> bool) -> Option<T> {
        let slot = self.entries.iter_mut().find(|e| e.as_ref().is_some_and(|(_, v)| pred(v)))?;
        slot.take().map(|(_, v)| v)
    }

    /// Providers registered.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a provider's `kqdafs_rdma_provider_complete(token, error, bytes)`
/// means for a transfer of `len` bytes: `Ok(bytes)`, or `Err(errno)`.
/// An error outside `1..=ERRNO_MAX`, or more bytes than the transfer has,
/// is a provider bug and becomes `EIO` (never a success).
pub fn provider_outcome(len: u64, error: i32, bytes: u64) -> Result<u64, i32> {
    match error {
        0 if bytes <= len => Ok(bytes),
        0 => Err(EIO),
        e if (1..=ERRNO_MAX).contains(&e) => Err(e),
        _ => Err(EIO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_short_printable_and_nonempty() {
        assert!(Name::new(b"mlx0").is_some());
        assert!(Name::new(&[b'a'; NAME_MAX]).is_some());
        assert!(Name::new(&[b'a'; NAME_MAX + 1]).is_none());
        assert!(Name::new(b"").is_none());
        assert!(Name::new(b"a b").is_none());
        assert!(Name::new(b"a\0").is_none());
        assert_eq!(Name::new(b"nic").unwrap().as_bytes(), b"nic");
    }

    #[test]
    fn registry_finds_refuses_duplicates_and_bounds() {
        let mut r = Registry::new();
        r.insert(Name::new(b"a").unwrap(), 1).unwrap();
        assert_eq!(r.insert(Name::new(b"a").unwrap(), 2), Err((RegistryError::Exists, 2)));
        assert_eq!(r.find(b"a"), Some(&1));
        assert_eq!(r.find(b"b"), None);
        for i in 1..MAX_PROVIDERS {
            r.insert(Name::new(format!("p{i}").as_bytes()).unwrap(), i + 1).unwrap();
        }
        assert_eq!(r.insert(Name::new(b"last").unwrap(), 0), Err((RegistryError::Full, 0)));
        assert_eq!(r.remove_by(|v| *v == 1), Some(1));
        assert_eq!(r.find(b"a"), None);
        assert_eq!(r.find_by(|v| *v == 3), Some(&3));
        r.insert(Name::new(b"a").unwrap(), 9).unwrap();
        assert_eq!(r.len(), MAX_PROVIDERS);
    }

    #[test]
    fn outcomes() {
        assert_eq!(provider_outcome(10, 0, 10), Ok(10));
        assert_eq!(provider_outcome(10, 0, 3), Ok(3), "a RECV may get a shorter message");
        assert_eq!(provider_outcome(10, 0, 11), Err(EIO));
        assert_eq!(provider_outcome(10, 54, 0), Err(54));
        assert_eq!(provider_outcome(10, -1, 0), Err(EIO));
        assert_eq!(provider_outcome(10, 100_000, 0), Err(EIO));
    }

    proptest! {
        /// Never a success with more bytes than the transfer has, never an
        /// error outside 1..=ERRNO_MAX.
        #[test]
        fn outcome_is_always_sane(len in any::<u64>(), error in any::<i32>(), bytes in any::<u64>()) {
            match provider_outcome(len, error, bytes) {
                Ok(b) => prop_assert!(error == 0 && b == bytes && b <= len),
                Err(e) => prop_assert!((1..=ERRNO_MAX).contains(&e)),
            }
        }
    }
}
