// SPDX-License-Identifier: BSD-2-Clause
use super::*;
use crate::kaio::VM_MAXUSER_ADDRESS_LA48;
use core::mem::{offset_of, size_of};
use proptest::prelude::*;

fn write_req() -> RdmaRequest {
    RdmaRequest { op: RdmaOp::Write as u32, ep: 1, kq: 3, local_key: 1, remote_key: 2, len: 4096, ..Default::default() }
}

#[test]
fn layouts_have_no_implicit_padding() {
    assert_eq!(size_of::<RdmaRequest>(), 72);
    assert_eq!(offset_of!(RdmaRequest, local_offset), 24);
    assert_eq!(offset_of!(RdmaRequest, reserved), 56);
    assert_eq!(size_of::<RdmaResult>(), 16);
    assert_eq!(size_of::<RdmaPost>(), 32);
    assert_eq!(size_of::<RdmaRegMr>(), 32);
    assert_eq!(size_of::<RdmaDeregMr>(), 8);
    assert_eq!(size_of::<RdmaEpPair>(), 16);
    assert_eq!(size_of::<RdmaEpClose>(), 8);
}

#[test]
fn ops_round_trip_and_fflags_carry_the_rdma_kind() {
    for op in RdmaOp::ALL {
        assert_eq!(RdmaOp::from_raw(op as u32), Some(op));
        assert_eq!(decode_rdma_fflags(rdma_fflags(op)), Some(op));
        assert_eq!(crate::kaio::decode_kaio_fflags(rdma_fflags(op)), None);
    }
    assert_eq!(RdmaOp::from_raw(0), None);
    assert_eq!(RdmaOp::from_raw(5), None);
    assert_eq!(decode_rdma_fflags(crate::kaio::kaio_fflags(crate::KaioOp::Read)), None);
    assert_eq!(decode_rdma_fflags(EventKind::RDMA.bits() | 9), None);
}

#[test]
fn completion_decodes_bytes_and_errors() {
    let c = RdmaCompletion::from_kevent(7, rdma_fflags(RdmaOp::Send), 100, 9).unwrap();
    assert_eq!(c, RdmaCompletion { id: 7, op: RdmaOp::Send, outcome: Ok(100), udata: 9 });
    let c = RdmaCompletion::from_kevent(7, rdma_fflags(RdmaOp::Recv), -i64::from(crate::errno::EMSGSIZE), 0).unwrap();
    assert_eq!(c.outcome, Err(crate::errno::EMSGSIZE));
    assert!(RdmaCompletion::from_kevent(7, 0, 0, 0).is_none());
}

#[test]
fn access_rights_per_op() {
    assert_eq!(RdmaOp::Write.remote_access(), MrAccess::REMOTE_WRITE);
    assert_eq!(RdmaOp::Read.remote_access(), MrAccess::REMOTE_READ);
    assert_eq!(RdmaOp::Read.local_access(), MrAccess::LOCAL_WRITE);
    assert_eq!(RdmaOp::Recv.local_access(), MrAccess::LOCAL_WRITE);
    assert!(RdmaOp::Send.local_access().is_empty() && RdmaOp::Send.remote_access().is_empty());
    assert!(!MrAccess::REMOTE_READ.needs_writable_pages());
    assert!(MrAccess::REMOTE_WRITE.needs_writable_pages());
    assert!(MrAccess::LOCAL_WRITE.needs_writable_pages());
}

#[test]
fn validate_accepts_each_op_in_its_shape() {
    let v = validate_rdma(&write_req()).unwrap();
    assert_eq!((v.op(), v.ep(), v.kq(), v.len(), v.remote_key()), (RdmaOp::Write, 1, 3, 4096, 2));
    let send = RdmaRequest { op: RdmaOp::Send as u32, remote_key: 0, ..write_req() };
    assert_eq!(validate_rdma(&send).unwrap().op(), RdmaOp::Send);
    let empty = RdmaRequest { len: 0, ..write_req() };
    assert!(validate_rdma(&empty).unwrap().is_empty());
}

#[test]
fn validate_reports_the_first_fault_in_table_order() {
    let cases: [(RdmaRequest, RdmaError); 9] = [
        (RdmaRequest { op: 0, ..write_req() }, RdmaError::UnknownOp),
        (RdmaRequest { op: 5, flags: 1, ..write_req() }, RdmaError::UnknownOp),
        (RdmaRequest { flags: 1, kq: -1, ..write_req() }, RdmaError::FlagsSet),
        (RdmaRequest { reserved: [0, 1], kq: -1, ..write_req() }, RdmaError::ReservedSet),
        (RdmaRequest { kq: -1, len: u64::MAX, ..write_req() }, RdmaError::BadKq),
        (RdmaRequest { len: RDMA_MAX_LEN + 1, ..write_req() }, RdmaError::TooLong),
        (RdmaRequest { local_offset: u64::MAX, ..write_req() }, RdmaError::OffsetOverflow),
        (RdmaRequest { remote_offset: u64::MAX - 1, ..write_req() }, RdmaError::OffsetOverflow),
        (
            RdmaRequest { op: RdmaOp::Recv as u32, remote_offset: 1, remote_key: 0, ..write_req() },
            RdmaError::RemoteArgs,
        ),
    ];
    for (req, want) in cases {
        assert_eq!(validate_rdma(&req), Err(want), "{req:?}");
    }
    let send_with_key = RdmaRequest { op: RdmaOp::Send as u32, ..write_req() };
    assert_eq!(validate_rdma(&send_with_key), Err(RdmaError::RemoteArgs));
}

#[test]
fn reg_mr_checks() {
    let ok = RdmaRegMr { addr: 0x1000, len: 8192, access: MrAccess::all().bits(), ..Default::default() };
    assert_eq!(validate_reg_mr(&ok, VM_MAXUSER_ADDRESS_LA48), Ok(MrAccess::all()));
    let bad = [
        (RdmaRegMr { access: 8, ..ok }, RdmaError::UnknownAccess),
        (RdmaRegMr { key: 1, ..ok }, RdmaError::ReservedSet),
        (RdmaRegMr { reserved: 1, ..ok }, RdmaError::ReservedSet),
        (RdmaRegMr { len: 0, ..ok }, RdmaError::RegionLength),
        (RdmaRegMr { len: RDMA_MAX_MR_LEN + 1, ..ok }, RdmaError::RegionLength),
        (RdmaRegMr { addr: 0, ..ok }, RdmaError::RegionRange),
        (RdmaRegMr { addr: u64::MAX - 10, ..ok }, RdmaError::RegionRange),
        (RdmaRegMr { addr: VM_MAXUSER_ADDRESS_LA48 - 4096, ..ok }, RdmaError::RegionRange),
    ];
    for (reg, want) in bad {
        assert_eq!(validate_reg_mr(&reg, VM_MAXUSER_ADDRESS_LA48), Err(want), "{reg:?}");
    }
}

#[test]
fn ep_pair_and_post_checks() {
    assert_eq!(validate_ep_pair(&RdmaEpPair::default()), Ok(()));
    assert_eq!(validate_ep_pair(&RdmaEpPair { flags: 1, ..Default::default() }), Err(RdmaError::FlagsSet));
    assert_eq!(validate_ep_pair(&RdmaEpPair { ep: [0, 3], ..Default::default() }), Err(RdmaError::ReservedSet));
    let ok = RdmaPost { reqs: 0x1000, results: 0x9000, count: 2, ..Default::default() };
    assert_eq!(validate_post(&ok, VM_MAXUSER_ADDRESS_LA48), Ok(2));
    let bad = [
        (RdmaPost { count: 0, ..ok }, RdmaError::BatchCount),
        (RdmaPost { count: RDMA_MAX_BATCH + 1, ..ok }, RdmaError::BatchCount),
        (RdmaPost { flags: 1, ..ok }, RdmaError::BatchFlags),
        (RdmaPost { pad: 1, ..ok }, RdmaError::BatchFlags),
        (RdmaPost { reqs: 0, ..ok }, RdmaError::BatchArray),
        (RdmaPost { results: VM_MAXUSER_ADDRESS_LA48 - 8, ..ok }, RdmaError::BatchArray),
    ];
    for (post, want) in bad {
        assert_eq!(validate_post(&post, VM_MAXUSER_ADDRESS_LA48), Err(want), "{post:?}");
    }
}

#[test]
fn every_error_has_a_real_errno() {
    for e in RdmaError::ALL {
        assert!((1..=crate::errno::ELAST).contains(&e.errno()), "{e:?}");
    }
}

proptest! {
    #[test]
    fn range_in_region_matches_wide_arithmetic(offset in any::<u64>(), len in any::<u64>(), region in any::<u64>()) {
        let wide = u128::from(offset) + u128::from(len) <= u128::from(region);
        prop_assert_eq!(range_in_region(offset, len, region), wide);
    }

    #[test]
    fn validate_never_panics_and_accepts_only_sane_requests(
        op in 0u32..6, flags in 0u32..2, kq in -2i32..4, local_key in any::<u32>(), remote_key in 0u32..3,
        local_offset in any::<u64>(), remote_offset in prop_oneof![Just(0u64), any::<u64>()],
        len in prop_oneof![Just(0u64), 1u64..=RDMA_MAX_LEN + 1, Just(u64::MAX)],
    ) {
        let req = RdmaRequest { op, flags, ep: 1, kq, local_key, remote_key, local_offset, remote_offset, len, udata: 0, reserved: [0; 2] };
        if let Ok(v) = validate_rdma(&req) {
            prop_assert!(v.len() <= RDMA_MAX_LEN && v.kq() >= 0 && flags == 0);
            prop_assert!(local_offset.checked_add(len).is_some());
            if v.op().is_one_sided() {
                prop_assert!(remote_offset.checked_add(len).is_some());
            } else {
                prop_assert!(remote_key == 0 && remote_offset == 0);
            }
        }
    }
}
