// SPDX-License-Identifier: BSD-2-Clause
//! Layout, rule-by-rule and property tests of the KAIO ABI.

use super::*;
use crate::errno::{EALREADY, ECANCELED, ENOENT};
use core::mem::{offset_of, size_of};
use proptest::prelude::*;
use std::vec;

// ---- layout -------------------------------------------------------------

#[test]
fn request_layout_has_no_implicit_padding() {
    assert_eq!(size_of::<KaioRequest>(), 64);
    assert_eq!(offset_of!(KaioRequest, op), 0);
    assert_eq!(offset_of!(KaioRequest, flags), 4);
    assert_eq!(offset_of!(KaioRequest, fd), 8);
    assert_eq!(offset_of!(KaioRequest, kq), 12);
    assert_eq!(offset_of!(KaioRequest, offset), 16);
    assert_eq!(offset_of!(KaioRequest, buf), 24);
    assert_eq!(offset_of!(KaioRequest, len), 32);
    assert_eq!(offset_of!(KaioRequest, udata), 40);
    assert_eq!(offset_of!(KaioRequest, reserved), 48);
    assert_eq!(4 * 4 + 8 * 4 + 8 * 2, size_of::<KaioRequest>(), "fields add up to the size");
}

#[test]
fn result_layout_has_no_implicit_padding() {
    assert_eq!(size_of::<KaioResult>(), 16);
    assert_eq!(offset_of!(KaioResult, id), 0);
    assert_eq!(offset_of!(KaioResult, error), 8);
    assert_eq!(offset_of!(KaioResult, pad), 12);
}

#[test]
fn submit_layout_has_no_implicit_padding() {
    assert_eq!(size_of::<KaioSubmit>(), 32);
    assert_eq!(offset_of!(KaioSubmit, reqs), 0);
    assert_eq!(offset_of!(KaioSubmit, results), 8);
    assert_eq!(offset_of!(KaioSubmit, count), 16);
    assert_eq!(offset_of!(KaioSubmit, flags), 20);
    assert_eq!(offset_of!(KaioSubmit, submitted), 24);
    assert_eq!(offset_of!(KaioSubmit, pad), 28);
}

#[test]
fn cancel_layout_has_no_implicit_padding() {
    assert_eq!(size_of::<KaioCancel>(), 16);
    assert_eq!(offset_of!(KaioCancel, id), 0);
    assert_eq!(offset_of!(KaioCancel, result), 8);
    assert_eq!(offset_of!(KaioCancel, pad), 12);
}

// ---- constants and encodings ---------------------------------------------

#[test]
fn op_values_and_round_trip() {
    assert_eq!(KaioOp::Read as u32, 1);
    assert_eq!(KaioOp::Write as u32, 2);
    assert_eq!(KaioOp::Fsync as u32, 3);
    for op in KaioOp::ALL {
        assert_eq!(KaioOp::from_raw(op as u32), Some(op));
        assert_eq!(op as u32 & !crate::filter::FFLAGS_OP_MASK, 0);
    }
    for raw in [0, 4, 0xff, u32::MAX] {
        assert_eq!(KaioOp::from_raw(raw), None);
    }
    assert!(KaioOp::Read.transfers_data() && KaioOp::Write.transfers_data() && !KaioOp::Fsync.transfers_data());
}

#[test]
fn freebsd_errno_values() {
    // FreeBSD's, not Linux's (EAGAIN 11, EOPNOTSUPP 95, ENOTCAPABLE absent).
    let expect = [
        (KaioError::BadFd, 9),
        (KaioError::UnknownOp, 22),
        (KaioError::NullBuffer, 14),
        (KaioError::LimitExceeded, 35),
        (KaioError::NotCapable, 93),
        (KaioError::NotSeekable, 29),
        (KaioError::NotSupported, 45),
    ];
    for (e, n) in expect {
        assert_eq!(e.errno(), n, "{e:?}");
    }
    assert_eq!((ENOENT, EALREADY, ECANCELED), (2, 37, 85));
    assert_eq!((CANCEL_DONE, CANCEL_ALREADY, CANCEL_NOENT), (0, 37, 2));
}

#[test]
fn every_error_maps_to_its_documented_errno() {
    use KaioError::*;
    for e in KaioError::ALL {
        let want = match e {
            UnknownOp | FlagsSet | ReservedSet | NegativeOffset | OffsetOverflow | TooLong | FsyncArgs | BatchCount
            | BatchFlags | NotRegular => 22,
            BadFd | BadKq | NotOpenForOp | NotKqueue => 9,
            NullBuffer | BufferRange | BatchArray | BufferNotMapped => 14,
            NotCapable => 93,
            NotSeekable => 29,
            NotSupported => 45,
            LimitExceeded => 35,
        };
        assert_eq!(e.errno(), want, "{e:?}");
    }
}

#[test]
fn fflags_carry_kind_and_op() {
    assert_eq!(kaio_fflags(KaioOp::Read), 0x0100_0001);
    assert_eq!(kaio_fflags(KaioOp::Write), 0x0100_0002);
    assert_eq!(kaio_fflags(KaioOp::Fsync), 0x0100_0003);
    for op in KaioOp::ALL {
        assert_eq!(decode_kaio_fflags(kaio_fflags(op)), Some(op));
        assert_eq!(decode_kaio_fflags(EventKind::RDMA.bits() | op as u32), None);
        assert_eq!(decode_kaio_fflags(op as u32), None);
    }
    assert_eq!(decode_kaio_fflags(EventKind::KAIO.bits() | 9), None);
}

#[test]
fn data_encoding_edges() {
    assert_eq!(decode_kaio_data(0), Ok(0));
    assert_eq!(decode_kaio_data(4096), Ok(4096));
    assert_eq!(decode_kaio_data(i64::MAX), Ok(i64::MAX as u64));
    assert_eq!(decode_kaio_data(-22), Err(22));
    assert_eq!(decode_kaio_data(-i64::from(i32::MAX)), Err(i32::MAX));
    assert_eq!(decode_kaio_data(i64::MIN), Err(i32::MAX));
    assert_eq!(encode_kaio_data(Ok(u64::MAX)), i64::MAX);
    assert_eq!(encode_kaio_data(Err(0)), -1);
    assert_eq!(encode_kaio_data(Err(i32::MIN)), -1);
    assert_eq!(encode_kaio_data(Err(ECANCELED)), -85);
}

#[test]
fn completion_from_kevent() {
    let c = KaioCompletion::from_kevent(7, kaio_fflags(KaioOp::Write), 512, 0xdead).unwrap();
    assert_eq!(c, KaioCompletion { id: 7, op: KaioOp::Write, outcome: Ok(512), udata: 0xdead });
    let c = KaioCompletion::from_kevent(8, kaio_fflags(KaioOp::Read), -14, 1).unwrap();
    assert_eq!(c.outcome, Err(14));
    assert!(KaioCompletion::from_kevent(8, EventKind::RDMA.bits() | 1, 0, 0).is_none());
}

#[test]
fn user_address_limits_are_the_amd64_ones() {
    assert_eq!(VM_MAXUSER_ADDRESS_LA48, 1 << 47);
    assert_eq!(VM_MAXUSER_ADDRESS_LA57, 1 << 56);
    assert_eq!(KaioLimits::default(), KaioLimits::DEFAULT);
    assert_eq!(KaioLimits::DEFAULT.max_user_address, VM_MAXUSER_ADDRESS_LA48);
    const { assert!(KAIO_MAX_LEN <= DEFAULT_MAX_PINNED_PER_PROC) };
    assert_eq!(KaioLimits::DEFAULT.max_request_len(), KAIO_MAX_LEN);
}

// ---- validate: one test per rule ------------------------------------------

const L: KaioLimits = KaioLimits::DEFAULT;

fn read() -> KaioRequest {
    KaioRequest { op: 1, fd: 3, kq: 4, offset: 8192, buf: 0x1000_0000, len: 4096, udata: 99, ..Default::default() }
}

fn fsync() -> KaioRequest {
    KaioRequest { op: 3, fd: 3, kq: 4, udata: 5, ..Default::default() }
}

fn err(req: KaioRequest) -> KaioError {
    validate(&req, &L).expect_err("accepted")
}

#[test]
fn valid_requests_pass() {
    for r in [read(), KaioRequest { op: 2, ..read() }, fsync()] {
        let v = validate(&r, &L).unwrap();
        assert_eq!(v.to_request(), r);
    }
}

#[test]
fn unknown_op_is_einval() {
    for op in [0, 4, u32::MAX] {
        assert_eq!(err(KaioRequest { op, ..read() }), KaioError::UnknownOp);
    }
}

#[test]
fn flags_and_reserved_are_einval() {
    assert_eq!(err(KaioRequest { flags: 1, ..read() }), KaioError::FlagsSet);
    assert_eq!(err(KaioRequest { reserved: [1, 0], ..read() }), KaioError::ReservedSet);
    assert_eq!(err(KaioRequest { reserved: [0, 1 << 63], ..fsync() }), KaioError::ReservedSet);
}

#[test]
fn negative_descriptors_are_ebadf() {
    assert_eq!(err(KaioRequest { fd: -1, ..read() }), KaioError::BadFd);
    assert_eq!(err(KaioRequest { kq: i32::MIN, ..fsync() }), KaioError::BadKq);
    assert!(validate(&KaioRequest { fd: 0, kq: 0, ..read() }, &L).is_ok());
}

#[test]
fn negative_offset_is_einval() {
    assert_eq!(err(KaioRequest { offset: -1, ..read() }), KaioError::NegativeOffset);
}

#[test]
fn offset_plus_len_overflow_is_einval() {
    assert_eq!(err(KaioRequest { offset: i64::MAX, len: 1, ..read() }), KaioError::OffsetOverflow);
    assert_eq!(err(KaioRequest { offset: 0, len: u64::MAX, ..read() }), KaioError::OffsetOverflow);
    // Ending exactly at i64::MAX is fine.
    assert!(validate(&KaioRequest { offset: i64::MAX - 4096, ..read() }, &L).is_ok());
}

#[test]
fn too_long_is_einval() {
    assert_eq!(err(KaioRequest { len: KAIO_MAX_LEN + 1, ..read() }), KaioError::TooLong);
    assert!(validate(&KaioRequest { len: KAIO_MAX_LEN, ..read() }, &L).is_ok());
    // A request above the pinned limit could never be admitted.
    let small = KaioLimits { max_pinned: 100, ..L };
    assert_eq!(validate(&KaioRequest { len: 101, ..read() }, &small), Err(KaioError::TooLong));
}

#[test]
fn zero_length_transfer_is_accepted_whatever_buf() {
    for buf in [0, 1, u64::MAX] {
        let v = validate(&KaioRequest { len: 0, buf, ..read() }, &L).unwrap();
        assert!(v.is_empty() && v.buf() == buf);
    }
}

#[test]
fn null_buffer_is_efault() {
    assert_eq!(err(KaioRequest { buf: 0, ..read() }), KaioError::NullBuffer);
    assert_eq!(KaioError::NullBuffer.errno(), 14);
}

#[test]
fn buffer_past_user_space_is_efault() {
    assert_eq!(err(KaioRequest { buf: u64::MAX - 10, len: 4096, ..read() }), KaioError::BufferRange);
    assert_eq!(err(KaioRequest { buf: VM_MAXUSER_ADDRESS_LA48 - 4095, len: 4096, ..read() }), KaioError::BufferRange);
    assert!(validate(&KaioRequest { buf: VM_MAXUSER_ADDRESS_LA48 - 4096, len: 4096, ..read() }, &L).is_ok());
    // A 5-level paging process may use more.
    let la57 = KaioLimits { max_user_address: VM_MAXUSER_ADDRESS_LA57, ..L };
    assert!(validate(&KaioRequest { buf: VM_MAXUSER_ADDRESS_LA48, ..read() }, &la57).is_ok());
}

#[test]
fn fsync_takes_no_range() {
    assert_eq!(err(KaioRequest { offset: 1, ..fsync() }), KaioError::FsyncArgs);
    assert_eq!(err(KaioRequest { offset: -1, ..fsync() }), KaioError::FsyncArgs);
    assert_eq!(err(KaioRequest { buf: 0x1000, ..fsync() }), KaioError::FsyncArgs);
    assert_eq!(err(KaioRequest { len: 1, ..fsync() }), KaioError::FsyncArgs);
    assert_eq!(validate(&fsync(), &L).unwrap().pinned_bytes(), 0);
}

#[test]
fn rules_apply_in_documented_order() {
    let all_wrong = KaioRequest { op: 9, flags: 1, fd: -1, offset: -1, buf: 0, ..read() };
    assert_eq!(err(all_wrong), KaioError::UnknownOp);
    assert_eq!(err(KaioRequest { op: 1, ..all_wrong }), KaioError::FlagsSet);
    assert_eq!(err(KaioRequest { op: 1, flags: 0, ..all_wrong }), KaioError::BadFd);
    assert_eq!(err(KaioRequest { op: 1, flags: 0, fd: 0, ..all_wrong }), KaioError::NegativeOffset);
    assert_eq!(err(KaioRequest { op: 1, flags: 0, fd: 0, offset: 0, ..all_wrong }), KaioError::NullBuffer);
    // EINVAL for length before EFAULT for the buffer.
    assert_eq!(err(KaioRequest { len: u64::MAX, buf: 0, ..read() }), KaioError::OffsetOverflow);
}

// ---- batches, cancel, admission ---------------------------------------------

fn batch() -> KaioSubmit {
    KaioSubmit { reqs: 0x10_0000, results: 0x20_0000, count: 4, ..Default::default() }
}

#[test]
fn batch_rules() {
    assert_eq!(validate_batch(&batch(), &L), Ok(4));
    assert_eq!(validate_batch(&KaioSubmit { submitted: 77, ..batch() }, &L), Ok(4), "submitted is out-only");
    assert_eq!(validate_batch(&KaioSubmit { count: MAX_BATCH, ..batch() }, &L), Ok(MAX_BATCH));
    for (sub, e) in [
        (KaioSubmit { count: 0, ..batch() }, KaioError::BatchCount),
        (KaioSubmit { count: MAX_BATCH + 1, ..batch() }, KaioError::BatchCount),
        (KaioSubmit { count: u32::MAX, ..batch() }, KaioError::BatchCount),
        (KaioSubmit { flags: 1, ..batch() }, KaioError::BatchFlags),
        (KaioSubmit { pad: 1, ..batch() }, KaioError::ReservedSet),
        (KaioSubmit { reqs: 0, ..batch() }, KaioError::BatchArray),
        (KaioSubmit { results: 0, ..batch() }, KaioError::BatchArray),
        (KaioSubmit { reqs: u64::MAX - 64, ..batch() }, KaioError::BatchArray),
        (KaioSubmit { results: VM_MAXUSER_ADDRESS_LA48 - 63, ..batch() }, KaioError::BatchArray),
    ] {
        assert_eq!(validate_batch(&sub, &L), Err(e), "{sub:?}");
    }
    assert_eq!(KaioError::BatchCount.errno(), 22);
    assert_eq!(KaioError::BatchFlags.errno(), 22);
    assert_eq!(KaioError::BatchArray.errno(), 14);
}

#[test]
fn cancel_rules() {
    assert_eq!(validate_cancel(&KaioCancel { id: 5, result: -3, pad: 0 }), Ok(5));
    assert_eq!(validate_cancel(&KaioCancel { id: 5, result: 0, pad: 1 }), Err(KaioError::ReservedSet));
}

#[test]
fn admission_edges() {
    let l = KaioLimits { max_inflight: 2, max_pinned: 100, ..L };
    assert_eq!(l.check_admission(0, 0, 100), Ok(()));
    assert_eq!(l.check_admission(1, 50, 50), Ok(()));
    assert_eq!(l.check_admission(2, 0, 0), Err(KaioError::LimitExceeded));
    assert_eq!(l.check_admission(0, 50, 51), Err(KaioError::LimitExceeded));
    assert_eq!(l.check_admission(u32::MAX, 0, 0), Err(KaioError::LimitExceeded));
    assert_eq!(l.check_admission(0, u64::MAX, 1), Err(KaioError::LimitExceeded));
    let max = KaioLimits { max_inflight: u32::MAX, max_pinned: u64::MAX, ..L };
    assert_eq!(max.check_admission(u32::MAX - 1, u64::MAX - 1, 1), Ok(()));
    assert_eq!(max.check_admission(u32::MAX, 0, 0), Err(KaioError::LimitExceeded));
    assert_eq!(KaioError::LimitExceeded.errno(), 35);
}

// ---- property tests -----------------------------------------------------------

fn limits() -> impl Strategy<Value = KaioLimits> {
    (
        prop_oneof![Just(KAIO_MAX_LEN), 1u64..=1 << 40, Just(u64::MAX)],
        prop_oneof![Just(DEFAULT_MAX_REQUESTS_PER_PROC), any::<u32>()],
        prop_oneof![Just(DEFAULT_MAX_PINNED_PER_PROC), 1u64..=1 << 40, Just(u64::MAX)],
        prop_oneof![Just(VM_MAXUSER_ADDRESS_LA48), Just(VM_MAXUSER_ADDRESS_LA57), 1u64 << 20..=u64::MAX],
    )
        .prop_map(|(max_len, max_inflight, max_pinned, max_user_address)| KaioLimits {
            max_len,
            max_inflight,
            max_pinned,
            max_user_address,
        })
}

/// A well-formed request for `l`.  READ/WRITE have `len` ≥ `min_len`.
fn well_formed(l: KaioLimits, min_len: u64) -> impl Strategy<Value = KaioRequest> {
    // Longest length that also leaves room for a nonzero buffer below the
    // user address limit.
    let max_len = l.max_request_len().min(l.max_user_address - 1).min(i64::MAX as u64);
    let transfer = (1u32..=2, min_len..=max_len)
        .prop_flat_map(move |(op, len)| {
            let offset = 0..=i64::MAX - len as i64;
            let buf = if len == 0 { any::<u64>().boxed() } else { (1..=l.max_user_address - len).boxed() };
            (Just(op), Just(len), offset, buf)
        })
        .prop_map(|(op, len, offset, buf)| KaioRequest { op, offset, buf, len, ..Default::default() });
    let sync = Just(KaioRequest { op: KaioOp::Fsync as u32, ..Default::default() });
    (prop_oneof![3 => transfer, 1 => sync], 0..=i32::MAX, 0..=i32::MAX, any::<u64>())
        .prop_map(|(r, fd, kq, udata)| KaioRequest { fd, kq, udata, ..r })
}

/// How a well-formed request is broken, and the errno that must result.
#[derive(Clone, Debug)]
enum Break {
    Op(u32),
    Flags(u32),
    Reserved(usize, u64),
    Fd(i32),
    Kq(i32),
    Offset(i64),
    /// Push `offset` so that `offset + len` passes `i64::MAX` (by `.0` ≥ 1).
    OffsetOverflow(u64),
    /// Raise `len` above the limit (by `.0` ≥ 1).
    TooLong(u64),
    NullBuffer,
    /// Move `buf` so that `buf + len` ends `.0` ≥ 1 past the limit.
    BufferPast(u64),
    BufferWrap(u64),
    FsyncOffset(i64),
    FsyncBuf(u64),
    FsyncLen(u64),
}

fn breaks() -> impl Strategy<Value = Break> {
    // Each amount is the edge (just past the rule) half the time.
    fn past() -> impl Strategy<Value = u64> {
        prop_oneof![Just(1u64), 1..=1u64 << 62]
    }
    fn negative() -> impl Strategy<Value = i32> {
        prop_oneof![Just(-1), Just(i32::MIN), i32::MIN..0]
    }
    prop_oneof![
        prop_oneof![Just(0u32), Just(4), any::<u32>().prop_filter("unknown op", |op| KaioOp::from_raw(*op).is_none())]
            .prop_map(Break::Op),
        prop_oneof![Just(1u32), 1..=u32::MAX].prop_map(Break::Flags),
        (0usize..2, prop_oneof![Just(1u64), 1..=u64::MAX]).prop_map(|(i, v)| Break::Reserved(i, v)),
        negative().prop_map(Break::Fd),
        negative().prop_map(Break::Kq),
        prop_oneof![Just(-1i64), Just(i64::MIN), i64::MIN..0].prop_map(Break::Offset),
        past().prop_map(Break::OffsetOverflow),
        past().prop_map(Break::TooLong),
        Just(Break::NullBuffer),
        past().prop_map(Break::BufferPast),
        past().prop_map(Break::BufferWrap),
        prop_oneof![Just(1i64), Just(-1), i64::MIN..0, 1..=i64::MAX].prop_map(Break::FsyncOffset),
        prop_oneof![Just(1u64), 1..=u64::MAX].prop_map(Break::FsyncBuf),
        prop_oneof![Just(1u64), 1..=u64::MAX].prop_map(Break::FsyncLen),
    ]
}

/// Apply `b` to the well-formed `r`; `None` when `b` does not apply to this
/// request's op (or cannot be expressed for these limits).
fn apply(mut r: KaioRequest, l: &KaioLimits, b: &Break) -> Option<(KaioRequest, KaioError)> {
    let transfer = r.op != KaioOp::Fsync as u32;
    let e = match *b {
        Break::Op(op) => {
            r.op = op;
            KaioError::UnknownOp
        }
        Break::Flags(f) => {
            r.flags = f;
            KaioError::FlagsSet
        }
        Break::Reserved(i, v) => {
            r.reserved[i] = v;
            KaioError::ReservedSet
        }
        Break::Fd(fd) => {
            r.fd = fd;
            KaioError::BadFd
        }
        Break::Kq(kq) => {
            r.kq = kq;
            KaioError::BadKq
        }
        Break::Offset(o) if transfer => {
            r.offset = o;
            KaioError::NegativeOffset
        }
        Break::OffsetOverflow(by) if transfer && r.len > 0 => {
            // offset = i64::MAX - len + by, with 1 <= by <= len.
            let by = 1 + (by - 1) % r.len;
            r.offset = (i64::MAX as u64 - r.len + by) as i64;
            KaioError::OffsetOverflow
        }
        Break::TooLong(by) if transfer => {
            r.len = l.max_request_len().checked_add(by)?;
            // Keep offset + len in range when possible so TooLong is what
            // fires; otherwise the overflow rule (also EINVAL) does.
            r.offset = 0;
            if r.len > i64::MAX as u64 {
                KaioError::OffsetOverflow
            } else {
                KaioError::TooLong
            }
        }
        Break::NullBuffer if transfer && r.len > 0 => {
            r.buf = 0;
            KaioError::NullBuffer
        }
        Break::BufferPast(by) if transfer && r.len > 0 => {
            r.buf = (l.max_user_address - r.len).checked_add(by)?;
            KaioError::BufferRange
        }
        Break::BufferWrap(by) if transfer && r.len > 0 => {
            // buf + len = 2^64 + by - 1.
            let by = 1 + (by - 1) % r.len;
            r.buf = u64::MAX - r.len + by;
            KaioError::BufferRange
        }
        Break::FsyncOffset(o) if !transfer => {
            r.offset = o;
            KaioError::FsyncArgs
        }
        Break::FsyncBuf(b) if !transfer => {
            r.buf = b;
            KaioError::FsyncArgs
        }
        Break::FsyncLen(n) if !transfer => {
            r.len = n;
            KaioError::FsyncArgs
        }
        _ => return None,
    };
    Some((r, e))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// (1) One broken field: refused, with exactly the documented errno.
    #[test]
    fn malformed_requests_are_rejected_with_their_errno(
        (l, r) in limits().prop_flat_map(|l| (Just(l), well_formed(l, 1))),
        b in breaks(),
    ) {
        let Some((bad, want)) = apply(r, &l, &b) else { return Ok(()) };
        let got = validate(&bad, &l);
        prop_assert_eq!(got, Err(want), "{:?} of {:?}", b, r);
        prop_assert_eq!(got.unwrap_err().errno(), want.errno());
    }

    /// (2) Well-formed requests are accepted and reproduced field by field.
    #[test]
    fn well_formed_requests_are_accepted((l, r) in limits().prop_flat_map(|l| (Just(l), well_formed(l, 0)))) {
        let v = validate(&r, &l);
        prop_assert!(v.is_ok(), "{:?} refused: {:?}", r, v);
        let v = v.unwrap();
        prop_assert_eq!(v.to_request(), r);
        prop_assert_eq!(v.op() as u32, r.op);
        prop_assert_eq!((v.fd(), v.kq(), v.offset(), v.buf(), v.len(), v.udata()),
                        (r.fd, r.kq, r.offset, r.buf, r.len, r.udata));
        prop_assert!(v.len() <= l.max_request_len());
        prop_assert!(v.offset() >= 0 && v.offset().checked_add(v.len() as i64).is_some());
        if !v.is_empty() {
            prop_assert!(v.buf() != 0 && v.buf() + v.len() <= l.max_user_address);
        }
    }

    /// Nothing panics, and whatever is accepted satisfies every rule.
    #[test]
    fn arbitrary_requests_never_panic_and_acceptance_implies_rules(
        op in 0u32..6, flags in prop_oneof![Just(0u32), any::<u32>()],
        reserved in prop_oneof![Just([0u64; 2]), any::<[u64; 2]>()],
        fd in any::<i32>(), kq in any::<i32>(), offset in any::<i64>(), buf in any::<u64>(),
        len in prop_oneof![0u64..=1 << 24, any::<u64>()], udata in any::<u64>(), l in limits(),
    ) {
        let r = KaioRequest { op, flags, fd, kq, offset, buf, len, udata, reserved };
        if let Ok(v) = validate(&r, &l) {
            prop_assert_eq!(v.to_request(), r);
            prop_assert!(flags == 0 && reserved == [0, 0] && fd >= 0 && kq >= 0 && (1..=3).contains(&op));
            if op == 3 {
                prop_assert!(offset == 0 && buf == 0 && len == 0);
            } else {
                prop_assert!(offset >= 0 && (offset as i128 + len as i128) <= i64::MAX as i128);
                prop_assert!(len <= l.max_len && len <= l.max_pinned);
                prop_assert!(len == 0 || (buf != 0 && buf as u128 + len as u128 <= l.max_user_address as u128));
            }
        }
    }

    /// (3) Admission never overflows and never admits beyond the limits.
    #[test]
    fn admission_respects_limits(
        l in limits(),
        inflight in prop_oneof![any::<u32>(), Just(u32::MAX), Just(u32::MAX - 1)],
        pinned in prop_oneof![any::<u64>(), 0u64..=1 << 30, Just(u64::MAX)],
        req_len in prop_oneof![any::<u64>(), 0u64..=1 << 30],
    ) {
        let fits = inflight < l.max_inflight
            && u128::from(pinned) + u128::from(req_len) <= u128::from(l.max_pinned);
        match l.check_admission(inflight, pinned, req_len) {
            Ok(()) => prop_assert!(fits),
            Err(e) => {
                prop_assert!(!fits);
                prop_assert_eq!(e, KaioError::LimitExceeded);
                prop_assert_eq!(e.errno(), 35);
            }
        }
    }

    /// (3) A process admitting requests one after another stays within limits.
    #[test]
    fn admission_accumulates_within_limits(
        max_inflight in 0u32..64, max_pinned in 0u64..1 << 20,
        lens in proptest::collection::vec(0u64..1 << 18, 0..128),
    ) {
        let l = KaioLimits { max_inflight, max_pinned, ..KaioLimits::DEFAULT };
        let (mut inflight, mut pinned) = (0u32, 0u64);
        for len in lens {
            if l.check_admission(inflight, pinned, len).is_ok() {
                inflight += 1;
                pinned += len;
            }
            prop_assert!(inflight <= max_inflight && pinned <= max_pinned);
        }
    }

    /// (4) Bytes and errnos survive the event's `data`.
    #[test]
    fn kaio_data_round_trips(bytes in 0..=i64::MAX as u64, errno in 1..=i32::MAX, data in any::<i64>()) {
        prop_assert_eq!(decode_kaio_data(encode_kaio_data(Ok(bytes))), Ok(bytes));
        prop_assert_eq!(decode_kaio_data(encode_kaio_data(Err(errno))), Err(errno));
        prop_assert!(encode_kaio_data(Ok(bytes)) >= 0 && encode_kaio_data(Err(errno)) < 0);
        // Every value the module produces decodes back to itself.
        if data >= -i64::from(i32::MAX) {
            prop_assert_eq!(encode_kaio_data(decode_kaio_data(data)), data);
        }
    }

    /// Batch checks: accepted exactly when documented.
    #[test]
    fn batch_validation(
        count in prop_oneof![0u32..=MAX_BATCH + 1, any::<u32>()], flags in prop_oneof![Just(0u32), any::<u32>()],
        pad in prop_oneof![Just(0u32), any::<u32>()],
        reqs in prop_oneof![1u64..1 << 46, any::<u64>()], results in prop_oneof![1u64..1 << 46, any::<u64>()],
        l in limits(),
    ) {
        let sub = KaioSubmit { reqs, results, count, flags, submitted: 0, pad };
        let arr = |a: u64, sz: u64| a != 0 && u128::from(a) + u128::from(count) * u128::from(sz) <= u128::from(l.max_user_address);
        let want = if flags != 0 {
            Err(KaioError::BatchFlags)
        } else if pad != 0 {
            Err(KaioError::ReservedSet)
        } else if count == 0 || count > MAX_BATCH {
            Err(KaioError::BatchCount)
        } else if !arr(reqs, 64) || !arr(results, 16) {
            Err(KaioError::BatchArray)
        } else {
            Ok(count)
        };
        prop_assert_eq!(validate_batch(&sub, &l), want);
    }
}
