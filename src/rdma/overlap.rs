// SPDX-License-Identifier: BSD-2-Clause
//! The direction of a loopback copy ([`copy_backward`]): a WRITE or READ
//! whose local and remote regions are one region may have a destination
//! range that starts inside its source range; the copy (chunk by chunk,
//! at page ends, `kqdafs_pages_copy`) must then run from the end, as
//! `memmove(3)` does, or it would read bytes it already overwrote.

/// Whether a copy of `len` bytes from `src_off` to `dst_off` must run
/// backward: the two ranges are in one page array (`same_pages`) and the
/// destination starts after the source's start and before its end.  Any
/// other pair of ranges is copied forward (they are disjoint, or the
/// destination starts at or before the source, which a forward copy
/// handles).  Offsets and length are as posted (checked at post to lie
/// inside the region; this never overflows for any input).
pub fn copy_backward(same_pages: bool, src_off: u64, dst_off: u64, len: u64) -> bool {
    same_pages && dst_off > src_off && dst_off - src_off < len
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::copy_backward;
    use proptest::prelude::*;

    /// The chunked copy of `kqdafs_pages_copy`, over one byte array cut
    /// into pages of `page` bytes, in the direction [`copy_backward`]
    /// chooses.
    fn chunked_copy(mem: &mut [u8], page: usize, spos: usize, dpos: usize, len: usize) {
        let backward = copy_backward(true, spos as u64, dpos as u64, len as u64);
        let (mut s, mut d, mut left) = (spos, dpos, len);
        if backward {
            s += left;
            d += left;
            while left > 0 {
                let chunk = left.min((s - 1) % page + 1).min((d - 1) % page + 1);
                s -= chunk;
                d -= chunk;
                left -= chunk;
                mem.copy_within(s..s + chunk, d);
            }
        } else {
            while left > 0 {
                let chunk = left.min(page - s % page).min(page - d % page);
                mem.copy_within(s..s + chunk, d);
                s += chunk;
                d += chunk;
                left -= chunk;
            }
        }
    }

    #[test]
    fn direction() {
        // Another region: always forward.
        assert!(!copy_backward(false, 0, 10, 100));
        // Destination inside the source, after its start.
        assert!(copy_backward(true, 0, 1, 2));
        assert!(copy_backward(true, 100, 4195, 8192));
        // Destination at or before the source, or past its end.
        assert!(!copy_backward(true, 10, 10, 100));
        assert!(!copy_backward(true, 10, 0, 100));
        assert!(!copy_backward(true, 0, 100, 100));
        assert!(!copy_backward(true, 0, 0, 0));
        // Extremes do not overflow.
        assert!(copy_backward(true, 1, u64::MAX, u64::MAX));
        assert!(!copy_backward(true, 0, u64::MAX, u64::MAX));
        assert!(!copy_backward(true, u64::MAX, 0, u64::MAX));
    }

    #[test]
    fn a_dst_inside_src_spanning_pages_is_copied_exactly() {
        // The K5 case: a WRITE within one region, destination one byte
        // (and a page and a bit) after the source, over several pages.
        for (spos, dpos, len) in [(0, 1, 3 * 16), (5, 21, 40), (3, 4, 61), (17, 3, 40)] {
            let mut mem: Vec<u8> = (0..128u8).collect();
            let want = {
                let mut m = mem.clone();
                m.copy_within(spos..spos + len, dpos);
                m
            };
            chunked_copy(&mut mem, 16, spos, dpos, len);
            assert_eq!(mem, want, "spos {spos} dpos {dpos} len {len}");
        }
    }

    proptest! {
        #[test]
        fn chunked_copy_is_memmove(page in 1usize..40, spos in 0usize..200, dpos in 0usize..200, len in 0usize..200) {
            let mut mem: Vec<u8> = (0..400).map(|i| (i * 7 + 3) as u8).collect();
            let mut want = mem.clone();
            want.copy_within(spos..spos + len, dpos);
            chunked_copy(&mut mem, page, spos, dpos, len);
            prop_assert_eq!(mem, want);
        }
    }
}
