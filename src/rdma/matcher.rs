// SPDX-License-Identifier: BSD-2-Clause
//! [`Connection`]: the SEND/RECV matcher of one connection (two endpoints).
//!
//! Each SEND meets the **oldest** RECV waiting on the peer endpoint, and
//! each RECV the oldest SEND the peer posted with no RECV to meet (FIFO in
//! each direction).  A SEND longer than the RECV it meets makes a pair
//! that completes, both halves, with `-EMSGSIZE` ([`Posted::Matched`] with
//! `fits: false`).
//!
//! Waiting entries may be cancelled meanwhile; the matcher does not know
//! how.  It hands each candidate to the caller's `live` function, which
//! commits it (returns it) or disposes of a cancelled one (returns
//! `None`), and then the matcher tries the next one.  [`Connection::purge`]
//! runs the same function over every waiting entry, so cancelled ones need
//! not wait for a match to be disposed of.
//!
//! Closing ([`Connection::close`], either endpoint) hands every waiting
//! entry of both sides back exactly once (the caller completes them with
//! `-ECONNRESET`), and every later post gets its entry back
//! ([`Posted::Closed`]).
//!
//! No method allocates except [`Connection::post`], which grows a queue
//! with `try_reserve` ([`Posted::NoMemory`] gives the entry back); nothing
//! panics.

use alloc::collections::VecDeque;

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first endpoint of the pair.
    First = 0,
    /// The second endpoint of the pair.
    Second = 1,
}

impl Side {
    /// The other end.
    pub const fn peer(self) -> Side {
        match self {
            Side::First => Side::Second,
            Side::Second => Side::First,
        }
    }
}

/// Which half of a two-sided transfer an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A SEND (its length is the bytes to move).
    Send = 0,
    /// A RECV (its length is the buffer's size).
    Recv = 1,
}

impl Role {
    /// The role an entry of this role meets.
    pub const fn opposite(self) -> Role {
        match self {
            Role::Send => Role::Recv,
            Role::Recv => Role::Send,
        }
    }
}

/// What the matcher needs to know of an entry.
pub trait Waiter {
    /// Bytes to send (SEND) or the buffer's size (RECV).
    fn bytes(&self) -> u64;
}

/// The answer of [`Connection::post`].
#[derive(Debug, PartialEq, Eq)]
pub enum Posted<T> {
    /// The entry met a live peer entry (already passed through `live`):
    /// run the transfer.  `fits`: the SEND is not longer than the RECV
    /// (otherwise both complete with `-EMSGSIZE` and nothing moves).
    Matched {
        /// The SEND half.
        send: T,
        /// The RECV half.
        recv: T,
        /// `send.bytes() <= recv.bytes()`.
        fits: bool,
    },
    /// No live peer entry: the entry waits in the connection.
    Waiting,
    /// The connection is closed: the entry comes back (`-ECONNRESET`).
    Closed(T),
    /// The queue could not grow: the entry comes back (`-ENOMEM`).
    NoMemory(T),
}

/// See the module documentation.
#[derive(Debug)]
pub struct Connection<T> {
    /// `queues[side][role]`: entries posted on `side` waiting for a match.
    queues: [[VecDeque<T>; 2]; 2],
    closed: bool,
}

impl<T: Waiter> Default for Connection<T> {
    fn default() -> Self {
        Connection::new()
    }
}

impl<T: Waiter> Connection<T> {
    /// An open connection with nothing waiting.
    pub const fn new() -> Connection<T> {
        Connection { queues: [[VecDeque::new(), VecDeque::new()], [VecDeque::new(), VecDeque::new()]], closed: false }
    }

    /// Whether either endpoint was closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Entries of `role` waiting on `side`.
    pub fn waiting(&self, side: Side, role: Role) -> usize {
        self.queues[side as usize][role as usize].len()
    }

    /// Post `entry` of `role` on `side`.  Peer candidates go through
    /// `live` oldest first until one comes back (see the module
    /// documentation).
    pub fn post(&mut self, side: Side, role: Role, entry: T, mut live: impl FnMut(T) -> Option<T>) -> Posted<T> {
        if self.closed {
            return Posted::Closed(entry);
        }
        let peer = &mut self.queues[side.peer() as usize][role.opposite() as usize];
        while let Some(candidate) = peer.pop_front() {
            if let Some(other) = live(candidate) {
                let (send, recv) = match role {
                    Role::Send => (entry, other),
                    Role::Recv => (other, entry),
                };
                let fits = send.bytes() <= recv.bytes();
                return Posted::Matched { send, recv, fits };
            }
        }
        let own = &mut self.queues[side as usize][role as usize];
        if own.try_reserve(1).is_err() {
            return Posted::NoMemory(entry);
        }
        own.push_back(entry);
        Posted::Waiting
    }

    /// Pass every waiting entry through `f`, which keeps it (returns it)
    /// or takes it (returns `None`, e.g. it was cancelled).  Order is
    /// kept; nothing allocates.
    pub fn purge(&mut self, mut f: impl FnMut(T) -> Option<T>) {
        for queue in self.queues.iter_mut().flatten() {
            for _ in 0..queue.len() {
                let Some(entry) = queue.pop_front() else { break };
                if let Some(entry) = f(entry) {
                    // Never grows: the queue is one shorter than it was.
                    queue.push_back(entry);
                }
            }
        }
    }

    /// Close the connection: every waiting entry of both sides, once.
    pub fn close(&mut self) -> Flushed<T> {
        self.closed = true;
        let [[a, b], [c, d]] = core::mem::take(&mut self.queues);
        Flushed { queues: [a, b, c, d], at: 0 }
    }
}

/// The entries a [`Connection::close`] took out, in posting order per
/// side and role.
#[derive(Debug)]
pub struct Flushed<T> {
    queues: [VecDeque<T>; 4],
    at: usize,
}

impl<T> Iterator for Flushed<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while self.at < self.queues.len() {
            if let Some(entry) = self.queues[self.at].pop_front() {
                return Some(entry);
            }
            self.at += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, VecDeque as Model};

    #[derive(Debug, PartialEq, Eq)]
    struct E {
        id: u32,
        len: u64,
    }

    impl Waiter for E {
        fn bytes(&self) -> u64 {
            self.len
        }
    }

    fn e(id: u32, len: u64) -> E {
        E { id, len }
    }

    fn keep(x: E) -> Option<E> {
        Some(x)
    }

    #[test]
    fn a_send_meets_the_oldest_recv_of_the_peer() {
        let mut c = Connection::new();
        assert_eq!(c.post(Side::Second, Role::Recv, e(1, 10), keep), Posted::Waiting);
        assert_eq!(c.post(Side::Second, Role::Recv, e(2, 10), keep), Posted::Waiting);
        // A RECV on the same side as the SEND is not a candidate.
        assert_eq!(c.post(Side::First, Role::Recv, e(3, 10), keep), Posted::Waiting);
        assert_eq!(
            c.post(Side::First, Role::Send, e(4, 10), keep),
            Posted::Matched { send: e(4, 10), recv: e(1, 10), fits: true }
        );
        assert_eq!(
            c.post(Side::First, Role::Send, e(5, 11), keep),
            Posted::Matched { send: e(5, 11), recv: e(2, 10), fits: false },
            "longer than the RECV: EMSGSIZE"
        );
        assert_eq!(c.waiting(Side::First, Role::Recv), 1);
        assert_eq!(c.waiting(Side::Second, Role::Recv), 0);
    }

    #[test]
    fn a_recv_meets_a_waiting_send_in_order() {
        let mut c = Connection::new();
        assert_eq!(c.post(Side::First, Role::Send, e(1, 5), keep), Posted::Waiting);
        assert_eq!(c.post(Side::First, Role::Send, e(2, 0), keep), Posted::Waiting);
        assert_eq!(
            c.post(Side::Second, Role::Recv, e(3, 5), keep),
            Posted::Matched { send: e(1, 5), recv: e(3, 5), fits: true }
        );
        assert_eq!(
            c.post(Side::Second, Role::Recv, e(4, 0), keep),
            Posted::Matched { send: e(2, 0), recv: e(4, 0), fits: true }
        );
    }

    #[test]
    fn cancelled_candidates_are_skipped_and_given_to_live_once() {
        let mut c = Connection::new();
        for id in 1..=3 {
            assert_eq!(c.post(Side::Second, Role::Recv, e(id, 8), keep), Posted::Waiting);
        }
        let mut disposed = Vec::new();
        let got = c.post(Side::First, Role::Send, e(9, 8), |x| {
            if x.id < 3 {
                disposed.push(x.id);
                None
            } else {
                Some(x)
            }
        });
        assert_eq!(got, Posted::Matched { send: e(9, 8), recv: e(3, 8), fits: true });
        assert_eq!(disposed, [1, 2]);
        // Nothing left: the next SEND waits.
        assert_eq!(c.post(Side::First, Role::Send, e(10, 8), |_| None), Posted::Waiting);
    }

    #[test]
    fn purge_takes_what_it_is_given_and_keeps_order() {
        let mut c = Connection::new();
        for id in 1..=5 {
            assert_eq!(c.post(Side::First, Role::Recv, e(id, 1), keep), Posted::Waiting);
        }
        c.purge(|x| (x.id % 2 == 1).then_some(x));
        let left: Vec<u32> = c.close().map(|x| x.id).collect();
        assert_eq!(left, [1, 3, 5]);
    }

    #[test]
    fn close_flushes_both_sides_once_and_refuses_later_posts() {
        let mut c = Connection::new();
        assert_eq!(c.post(Side::First, Role::Recv, e(1, 1), keep), Posted::Waiting);
        assert_eq!(c.post(Side::First, Role::Send, e(2, 9), keep), Posted::Waiting);
        assert_eq!(c.post(Side::First, Role::Send, e(3, 1), keep), Posted::Waiting);
        let mut flushed: Vec<u32> = c.close().map(|x| x.id).collect();
        flushed.sort();
        assert_eq!(flushed, [1, 2, 3]);
        assert!(c.is_closed());
        assert_eq!(c.close().count(), 0, "exactly once");
        assert_eq!(c.post(Side::First, Role::Send, e(4, 1), keep), Posted::Closed(e(4, 1)));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Post {
            side: bool,
            send: bool,
            len: u64,
        },
        /// Cancel the i-th (mod the count) entry posted so far.
        Cancel(usize),
        Purge,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), any::<bool>(), 0u64..4).prop_map(|(side, send, len)| Op::Post { side, send, len }),
            2 => (0usize..64).prop_map(Op::Cancel),
            1 => Just(Op::Purge),
        ]
    }

    proptest! {
        /// Against a model of FIFO matching with cancellation: every
        /// entry ends exactly once (matched, disposed as cancelled, or
        /// flushed by close), matches follow posting order over live
        /// entries, `fits` is `send <= recv`, and no cancelled entry is
        /// ever matched.
        #[test]
        fn matches_fifo_over_live_entries_and_ends_each_entry_once(ops in proptest::collection::vec(op(), 0..80)) {
            let mut c: Connection<E> = Connection::new();
            let mut cancelled = BTreeSet::new();
            let mut ended = BTreeSet::new();
            let mut posted: Vec<u32> = Vec::new();
            // Model: queues[side][role] of live-or-cancelled ids, with lengths.
            let mut model: [[Model<(u32, u64)>; 2]; 2] = Default::default();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Post { side, send, len } => {
                        next += 1;
                        posted.push(next);
                        let (side, role) = (if side { Side::Second } else { Side::First }, if send { Role::Send } else { Role::Recv });
                        // Model: drop cancelled heads of the peer queue, match the first live one.
                        let peer_q = &mut model[side.peer() as usize][role.opposite() as usize];
                        let mut expect = None;
                        while let Some((id, l)) = peer_q.pop_front() {
                            if cancelled.contains(&id) { continue; }
                            expect = Some((id, l));
                            break;
                        }
                        let mut disposed = Vec::new();
                        let got = c.post(side, role, e(next, len), |x| {
                            if cancelled.contains(&x.id) { disposed.push(x.id); None } else { Some(x) }
                        });
                        for id in disposed {
                            prop_assert!(ended.insert(id), "disposed twice");
                        }
                        match (got, expect) {
                            (Posted::Matched { send: s, recv: r, fits }, Some((id, l))) => {
                                let (me, other) = if role == Role::Send { (&s, &r) } else { (&r, &s) };
                                prop_assert_eq!(me.id, next);
                                prop_assert_eq!(other.id, id);
                                prop_assert_eq!(other.len, l);
                                prop_assert_eq!(fits, s.len <= r.len);
                                prop_assert!(!cancelled.contains(&other.id));
                                prop_assert!(ended.insert(s.id));
                                prop_assert!(ended.insert(r.id));
                            }
                            (Posted::Waiting, None) => {
                                model[side as usize][role as usize].push_back((next, len));
                            }
                            (got, expect) => prop_assert!(false, "got {:?}, model {:?}", got, expect),
                        }
                    }
                    Op::Cancel(i) => {
                        if !posted.is_empty() {
                            let id = posted[i % posted.len()];
                            if !ended.contains(&id) {
                                cancelled.insert(id);
                            }
                        }
                    }
                    Op::Purge => {
                        c.purge(|x| {
                            if cancelled.contains(&x.id) { ended.insert(x.id); None } else { Some(x) }
                        });
                        for q in model.iter_mut().flatten() {
                            q.retain(|(id, _)| !cancelled.contains(id));
                        }
                    }
                }
                for side in [Side::First, Side::Second] {
                    for role in [Role::Send, Role::Recv] {
                        prop_assert!(c.waiting(side, role) >= model[side as usize][role as usize].iter().filter(|(id, _)| !cancelled.contains(id)).count());
                    }
                }
            }
            for x in c.close() {
                prop_assert!(ended.insert(x.id), "flushed an entry that had ended");
            }
            prop_assert_eq!(ended.len(), posted.len(), "every entry ends exactly once");
            prop_assert_eq!(c.close().count(), 0);
        }
    }
}
