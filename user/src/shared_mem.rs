// SPDX-License-Identifier: BSD-2-Clause
//! Copies into and out of memory the kernel may read or write at any time
//! (registered RDMA regions): volatile accesses through raw pointers only,
//! never a reference to those bytes.
//!
//! Words are moved where the shared side is 8-byte aligned, single bytes
//! elsewhere (at most 7 at each end).  What this does and does not
//! guarantee is said in [`crate::rdma`] ("Reading and writing a region").

const WORD: usize = core::mem::size_of::<u64>();

/// Bytes before `p` is word-aligned, at most `n`.
fn head(p: *const u8, n: usize) -> usize {
    p.align_offset(WORD).min(n)
}

/// Copy `dst.len()` bytes at `src` into `dst`.
///
/// # Safety
///
/// `src` is valid for reads of `dst.len()` bytes, and no Rust reference to
/// them exists (other parties may write them meanwhile).
pub(crate) unsafe fn copy_out(src: *const u8, dst: &mut [u8]) {
    let n = dst.len();
    let d = dst.as_mut_ptr();
    let h = head(src, n);
    let words = (n - h) / WORD;
    // SAFETY (all three loops): every offset is below `n`, in range of
    // both `src` (the caller's promise) and `dst`; the word reads are at
    // `src + h + WORD * i`, word-aligned since `src + h` is.
    unsafe {
        for i in 0..h {
            d.add(i).write(src.add(i).read_volatile());
        }
        for i in 0..words {
            let at = h + i * WORD;
            let w = src.add(at).cast::<u64>().read_volatile();
            d.add(at).cast::<u64>().write_unaligned(w);
        }
        for i in h + words * WORD..n {
            d.add(i).write(src.add(i).read_volatile());
        }
    }
}

/// Copy `src` to the `src.len()` bytes at `dst`.
///
/// # Safety
///
/// `dst` is valid for writes of `src.len()` bytes, and no Rust reference
/// to them exists (other parties may read or write them meanwhile).
pub(crate) unsafe fn copy_in(src: &[u8], dst: *mut u8) {
    let n = src.len();
    let s = src.as_ptr();
    let h = head(dst, n);
    let words = (n - h) / WORD;
    // SAFETY: as in copy_out, with the roles swapped.
    unsafe {
        for i in 0..h {
            dst.add(i).write_volatile(s.add(i).read());
        }
        for i in 0..words {
            let at = h + i * WORD;
            let w = s.add(at).cast::<u64>().read_unaligned();
            dst.add(at).cast::<u64>().write_volatile(w);
        }
        for i in h + words * WORD..n {
            dst.add(i).write_volatile(s.add(i).read());
        }
    }
}

/// Set the `n` bytes at `dst` to `byte`.
///
/// # Safety
///
/// As [`copy_in`] for `n` bytes.
pub(crate) unsafe fn fill(dst: *mut u8, byte: u8, n: usize) {
    let h = head(dst, n);
    let words = (n - h) / WORD;
    let w = u64::from_ne_bytes([byte; WORD]);
    // SAFETY: as in copy_in.
    unsafe {
        for i in 0..h {
            dst.add(i).write_volatile(byte);
        }
        for i in 0..words {
            dst.add(h + i * WORD).cast::<u64>().write_volatile(w);
        }
        for i in h + words * WORD..n {
            dst.add(i).write_volatile(byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alignment_and_length_copies_exactly() {
        let pattern: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(1)).collect();
        for off in 0..17 {
            for n in 0..41 {
                let mut shared = vec![0u64; 16];
                let base = shared.as_mut_ptr().cast::<u8>();
                // SAFETY: `off + n <= 57 < 128` bytes of `shared`, reached
                // through the raw pointer only while the copies run.
                unsafe { copy_in(&pattern[..n], base.add(off)) };
                let mut out = vec![0xeeu8; n];
                // SAFETY: as above.
                unsafe { copy_out(base.add(off), &mut out) };
                assert_eq!(out, pattern[..n], "off {off} n {n}");
                // SAFETY: as above; then `shared` is read as a whole again.
                unsafe { fill(base.add(off).add(n), 0x77, 3) };
                let bytes: Vec<u8> = shared.iter().flat_map(|w| w.to_ne_bytes()).collect();
                assert!(bytes[..off].iter().all(|&b| b == 0), "nothing before: off {off} n {n}");
                assert_eq!(bytes[off..off + n], pattern[..n]);
                assert_eq!(bytes[off + n..off + n + 3], [0x77; 3]);
                assert!(bytes[off + n + 3..].iter().all(|&b| b == 0), "nothing after: off {off} n {n}");
            }
        }
    }
}
