// SPDX-License-Identifier: BSD-2-Clause
//! [`Ring`]: the completions a consumer is owed, and its admission
//! accounting — the policy of the upcall dispatcher, with no kernel in it.
//!
//! A consumer admits at most `depth` requests at a time.  A request counts
//! as *outstanding* from its admission ([`Ring::admit`]) until its
//! completion is handed to the consumer: by a direct upcall
//! ([`Ring::handed_over`]), or by being taken out of the ring
//! ([`Ring::pop_batch`]: a delayed upcall or a poll).  Each outstanding
//! request puts at most one completion in the ring, so the ring (of
//! `depth` entries, allocated at create) can never overflow and a
//! completion is never dropped: `queued() <= outstanding() <= depth`.
//!
//! The ring is not synchronised itself; the kernel keeps it under the
//! consumer's mutex (see `docs/upcall.md`), and the loom models below
//! check the protocol under that mutex.

use alloc::vec::Vec;

/// How a consumer wants its completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Upcall in the completion context, one completion per call.
    Direct,
    /// Upcall from the dispatcher thread, up to `batch` per call.
    Delayed,
    /// The consumer polls.
    Poll,
}

impl Delivery {
    /// `KQDAFS_DELIVER_*` (1, 2, 3) to a mode.
    pub fn from_raw(raw: i32) -> Option<Delivery> {
        match raw {
            1 => Some(Delivery::Direct),
            2 => Some(Delivery::Delayed),
            3 => Some(Delivery::Poll),
            _ => None,
        }
    }
}

/// `ca_depth` 0.
pub const DEPTH_DEFAULT: u32 = 64;
/// Largest `ca_depth`.
pub const DEPTH_MAX: u32 = 4096;
/// `ca_batch` 0.
pub const BATCH_DEFAULT: u32 = 16;

/// A consumer's checked parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Delivery mode.
    pub delivery: Delivery,
    /// Most requests outstanding.
    pub depth: u32,
    /// Most completions per delayed upcall (1 for the others).
    pub batch: u32,
}

/// Check `kqdafs_consumer_args`: the mode is known, an upcall is given
/// exactly when the mode calls one, depth and batch are in range (0 picks
/// the default; batch is clipped to depth).  `None`: `EINVAL`.
pub fn params(delivery: i32, has_upcall: bool, depth: u32, batch: u32) -> Option<Params> {
    let delivery = Delivery::from_raw(delivery)?;
    if has_upcall != (delivery != Delivery::Poll) {
        return None;
    }
    let depth = if depth == 0 { DEPTH_DEFAULT } else { depth };
    if depth > DEPTH_MAX {
        return None;
    }
    let batch = match delivery {
        Delivery::Delayed => {
            let b = if batch == 0 { BATCH_DEFAULT } else { batch };
            b.min(depth)
        }
        _ => 1,
    };
    Some(Params { delivery, depth, batch })
}

/// Why [`Ring::admit`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `depth` requests are outstanding (`EAGAIN`).
    Full,
    /// The consumer is being destroyed (`EINVAL`).
    Closing,
}

/// A protocol violation (never in a correct kernel; reported, not
/// panicked, and nothing changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation;

/// See the module documentation.
#[derive(Debug)]
pub struct Ring<T: Copy> {
    slots: Vec<T>,
    head: usize,
    queued: usize,
    outstanding: usize,
    closing: bool,
}

impl<T: Copy> Ring<T> {
    /// A ring over `slots` (its length is the depth: allocate it before,
    /// where allocating may sleep).
    pub fn new(slots: Vec<T>) -> Ring<T> {
        Ring { slots, head: 0, queued: 0, outstanding: 0, closing: false }
    }

    /// Most requests outstanding.
    pub fn depth(&self) -> usize {
        self.slots.len()
    }

    /// Requests admitted whose completion was not handed over yet.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Completions waiting in the ring.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Whether [`Ring::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Admit one more request.
    pub fn admit(&mut self) -> Result<(), Refused> {
        if self.closing {
            Err(Refused::Closing)
        } else if self.outstanding >= self.slots.len() {
            Err(Refused::Full)
        } else {
            self.outstanding += 1;
            Ok(())
        }
    }

    /// An admitted request was not submitted after all.
    pub fn unadmit(&mut self) -> Result<(), Violation> {
        if self.outstanding <= self.queued {
            return Err(Violation);
        }
        self.outstanding -= 1;
        Ok(())
    }

    /// Refuse new requests from now on (destroy).
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Queue the completion of an outstanding request.  Cannot fail for a
    /// request that was admitted and has not queued or handed over its
    /// completion yet.
    pub fn push(&mut self, c: T) -> Result<(), Violation> {
        if self.queued >= self.outstanding || self.queued >= self.slots.len() {
            return Err(Violation);
        }
        let tail = (self.head + self.queued) % self.slots.len();
        self.slots[tail] = c;
        self.queued += 1;
        Ok(())
    }

    /// A direct upcall delivered an outstanding request's completion.
    pub fn handed_over(&mut self) -> Result<(), Violation> {
        self.unadmit()
    }

    /// Take up to `out.len()` completions, oldest first; they are handed
    /// over (no longer outstanding).  Returns how many.
    pub fn pop_batch(&mut self, out: &mut [T]) -> usize {
        let n = out.len().min(self.queued);
        for slot in out.iter_mut().take(n) {
            *slot = self.slots[self.head];
            self.head = (self.head + 1) % self.slots.len();
        }
        self.queued -= n;
        self.outstanding -= n;
        n
    }

    /// Drop every queued completion (destroy of a polling consumer that
    /// did not poll them); how many.
    pub fn discard(&mut self) -> usize {
        let n = self.queued;
        self.head = 0;
        self.queued = 0;
        self.outstanding -= n;
        n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn ring(depth: usize) -> Ring<u64> {
        Ring::new(vec![0; depth])
    }

    #[test]
    fn params_check_their_arguments() {
        assert_eq!(params(1, true, 0, 0), Some(Params { delivery: Delivery::Direct, depth: DEPTH_DEFAULT, batch: 1 }));
        assert_eq!(params(2, true, 8, 0), Some(Params { delivery: Delivery::Delayed, depth: 8, batch: 8 }));
        assert_eq!(params(2, true, 100, 10), Some(Params { delivery: Delivery::Delayed, depth: 100, batch: 10 }));
        assert_eq!(params(3, false, 1, 5), Some(Params { delivery: Delivery::Poll, depth: 1, batch: 1 }));
        assert_eq!(params(0, true, 0, 0), None);
        assert_eq!(params(4, true, 0, 0), None);
        assert_eq!(params(1, false, 0, 0), None, "direct without an upcall");
        assert_eq!(params(3, true, 0, 0), None, "poll with an upcall");
        assert_eq!(params(1, true, DEPTH_MAX + 1, 0), None);
        assert!(params(1, true, DEPTH_MAX, 0).is_some());
    }

    #[test]
    fn admission_stops_at_depth_and_resumes_after_a_pop() {
        let mut r = ring(2);
        assert_eq!(r.admit(), Ok(()));
        assert_eq!(r.admit(), Ok(()));
        assert_eq!(r.admit(), Err(Refused::Full));
        r.push(7).unwrap();
        assert_eq!(r.admit(), Err(Refused::Full), "queued completions still count");
        let mut out = [0u64; 4];
        assert_eq!(r.pop_batch(&mut out), 1);
        assert_eq!(out[0], 7);
        assert_eq!(r.admit(), Ok(()));
    }

    #[test]
    fn push_beyond_outstanding_is_a_violation() {
        let mut r = ring(2);
        assert_eq!(r.push(1), Err(Violation));
        r.admit().unwrap();
        r.push(1).unwrap();
        assert_eq!(r.push(2), Err(Violation));
        assert_eq!(r.unadmit(), Err(Violation), "its completion is queued");
    }

    #[test]
    fn close_refuses_and_discard_empties() {
        let mut r = ring(3);
        r.admit().unwrap();
        r.admit().unwrap();
        r.push(1).unwrap();
        r.close();
        assert_eq!(r.admit(), Err(Refused::Closing));
        assert_eq!(r.discard(), 1);
        assert_eq!(r.outstanding(), 1);
        r.handed_over().unwrap();
        assert_eq!(r.outstanding(), 0);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Admit,
        Unadmit,
        Complete,
        Direct,
        Pop(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Admit),
            Just(Op::Unadmit),
            Just(Op::Complete),
            Just(Op::Direct),
            (0usize..6).prop_map(Op::Pop)
        ]
    }

    proptest! {
        /// Against a model: completions come out in order, exactly once,
        /// nothing is lost, and the bounds always hold.
        #[test]
        fn ring_matches_model(depth in 1usize..8, ops in proptest::collection::vec(op(), 0..200)) {
            let mut r = ring(depth);
            // Admitted requests whose completion is neither queued nor handed over.
            let mut pending = 0usize;
            let mut model: alloc::collections::VecDeque<u64> = alloc::collections::VecDeque::new();
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Admit => {
                        let ok = r.admit().is_ok();
                        prop_assert_eq!(ok, pending + model.len() < depth);
                        if ok { pending += 1; }
                    }
                    Op::Unadmit => {
                        let ok = r.unadmit().is_ok();
                        prop_assert_eq!(ok, pending > 0);
                        if ok { pending -= 1; }
                    }
                    Op::Complete => {
                        let ok = r.push(next).is_ok();
                        prop_assert_eq!(ok, pending > 0);
                        if ok { pending -= 1; model.push_back(next); next += 1; }
                    }
                    Op::Direct => {
                        let ok = r.handed_over().is_ok();
                        prop_assert_eq!(ok, pending > 0);
                        if ok { pending -= 1; }
                    }
                    Op::Pop(n) => {
                        let mut out = vec![u64::MAX; n];
                        let got = r.pop_batch(&mut out);
                        prop_assert_eq!(got, n.min(model.len()));
                        for v in out.iter().take(got) {
                            prop_assert_eq!(Some(*v), model.pop_front());
                        }
                    }
                }
                prop_assert_eq!(r.queued(), model.len());
                prop_assert_eq!(r.outstanding(), pending + model.len());
                prop_assert!(r.queued() <= r.outstanding() && r.outstanding() <= r.depth());
            }
        }
    }
}
