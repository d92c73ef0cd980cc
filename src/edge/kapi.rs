// SPDX-License-Identifier: BSD-2-Clause
//! The consumer API's kernel edge (`kmod/kqdafs_kapi.h`): the Rust side of
//! the exported functions (`kmod/kqdafs_edge_kapi.c` forwards to them).
//! What the module calls on a consumer's behalf (its upcall, the
//! dispatcher's taskqueue, sleeping on its mutex) is outbound:
//! `crate::kpi::dispatch`.
//!
//! Everything a consumer module passes is checked here before it reaches
//! [`crate::upcall`]: null pointers and bad values answer `EINVAL`, never
//! a panic.  What cannot be checked (that a consumer pointer is one that
//! `kqdafs_consumer_create` returned and was not destroyed, that a file
//! pointer is a file the caller holds, that a buffer stays allocated) is
//! the caller's contract, written in `kqdafs_kapi(9)`.

use crate::kpi::dispatch::{Args, Completion, Upcall};
use crate::kpi::file::FileRef;
use crate::kpi::pages::HeldPages;
use crate::kpi::shared::Shared;
use crate::kpi::Errno;
use crate::sys;
use crate::upcall::Consumer;
use core::ffi::{c_int, c_uint, c_void};
use kqdafs_abi::kaio::KaioOp;

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_create(
    args: *const sys::kqdafs_consumer_args,
    cp: *mut *mut sys::kqdafs_consumer,
) -> c_int {
    // SAFETY: by contract `args` is null or a readable
    // kqdafs_consumer_args for the call.
    let Some(raw) = (unsafe { args.as_ref() }) else {
        return Errno::EINVAL.to_raw();
    };
    if cp.is_null() {
        return Errno::EINVAL.to_raw();
    }
    let args = Args {
        delivery: raw.ca_delivery,
        // SAFETY: the consumer's upcall and argument, which by contract
        // accept calls from any thread until it is destroyed.
        upcall: raw.ca_upcall.map(|f| unsafe { Upcall::new(f, raw.ca_arg) }),
        depth: raw.ca_depth,
        batch: raw.ca_batch,
    };
    match Consumer::create(args) {
        Ok(consumer) => {
            // SAFETY: cp is non-null and, by contract, writable.
            unsafe { *cp = consumer.as_raw().cast() };
            consumer.leak();
            0
        }
        Err(e) => e.to_raw(),
    }
}

/// A handle on the consumer behind a pointer `kqdafs_consumer_create`
/// returned (dropping the handle does nothing).
///
/// # Safety
/// `c` is null or a live consumer (created, not destroyed), as the header
/// requires of every caller.
unsafe fn consumer(c: *mut sys::kqdafs_consumer) -> Option<Shared<Consumer>> {
    // SAFETY: per this function's contract, a non-null `c` is the
    // `as_raw` of a live Shared<Consumer>, held by the consumer module
    // until it calls destroy (which no other call may race).
    unsafe { Shared::from_raw(c.cast()) }
}

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_destroy(c: *mut sys::kqdafs_consumer) {
    // SAFETY: the header's contract for kqdafs_consumer_destroy.
    if let Some(consumer) = unsafe { consumer(c) } {
        Consumer::destroy(consumer);
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_poll(c: *mut sys::kqdafs_consumer, out: *mut Completion, max: c_uint) -> c_uint {
    // SAFETY: the header's contract for kqdafs_consumer_poll.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return 0;
    };
    if out.is_null() || max == 0 {
        return 0;
    }
    let Ok(len) = usize::try_from(max) else {
        return 0;
    };
    // SAFETY: by contract `out` has room for `max` completions, writable
    // for the call and not aliased by anything we hold.
    let out = unsafe { core::slice::from_raw_parts_mut(out, len) };
    c_uint::try_from(consumer.get().poll(out)).unwrap_or(0)
}

#[no_mangle]
extern "C" fn kqdafs_rs_kaio_submit(
    c: *mut sys::kqdafs_consumer,
    fp: *mut sys::file,
    op: c_int,
    offset: i64,
    kbuf: *mut c_void,
    len: usize,
    cookie: u64,
    idp: *mut u64,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_kaio_*.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    let op = match op as u32 {
        sys::KQDAFS_IO_READ => KaioOp::Read,
        sys::KQDAFS_IO_WRITE => KaioOp::Write,
        sys::KQDAFS_IO_FSYNC => KaioOp::Fsync,
        _ => return Errno::EINVAL.to_raw(),
    };
    if fp.is_null() || offset < 0 || len > sys::KQDAFS_KAPI_MAX_LEN as usize {
        return Errno::EINVAL.to_raw();
    }
    if op != KaioOp::Fsync && (kbuf.is_null() || len == 0) {
        return Errno::EINVAL.to_raw();
    }
    if offset.checked_add(len as i64).is_none() {
        return Errno::EINVAL.to_raw();
    }
    // SAFETY: by contract fp is a file the caller holds a reference on for
    // the call; hold_raw takes our own.
    let file = match unsafe { FileRef::hold_raw(fp, op) } {
        Ok(f) => f,
        Err(e) => return e.to_raw(),
    };
    let pages = if op == KaioOp::Fsync {
        HeldPages::none()
    } else {
        // SAFETY: by contract the buffer is wired kernel memory that stays
        // allocated until the completion is delivered (kqdafs_kapi(9)).
        match unsafe { HeldPages::borrow_kernel(kbuf as u64, len) } {
            Ok(p) => p,
            Err(e) => return e.to_raw(),
        }
    };
    let req = crate::kaio::KernelRequest { file, op, offset, pages, cookie };
    let publish = |id: u64| {
        // SAFETY: by contract idp is null or writable for the call.
        if let Some(idp) = unsafe { idp.as_mut() } {
            *idp = id;
        }
    };
    match crate::kaio::submit_for_consumer(&consumer, req, publish) {
        Ok(_) => 0,
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_consumer_cancel(c: *mut sys::kqdafs_consumer, id: u64) -> c_int {
    // SAFETY: the header's contract for kqdafs_cancel.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    match consumer.get().cancel(id) {
        Ok(()) => 0,
        Err(e) => e.to_raw(),
    }
}

/// 0 or the errno, for C.
fn answer(r: Result<(), Errno>) -> c_int {
    r.map_or_else(|e| e.to_raw(), |()| 0)
}

// The RDMA constants of kqdafs_kapi.h are the ABI's.
const _: () = {
    use kqdafs_abi::filter::EventKind;
    use kqdafs_abi::rdma::{MrAccess, RdmaOp, RDMA_MAX_ENDPOINTS, RDMA_MAX_LEN, RDMA_MAX_MRS, RDMA_MAX_MR_LEN};
    assert!(sys::KQDAFS_EV_KAIO == EventKind::KAIO.bits());
    assert!(sys::KQDAFS_EV_RDMA == EventKind::RDMA.bits());
    assert!(sys::KQDAFS_RDMA_WRITE == RdmaOp::Write as u32);
    assert!(sys::KQDAFS_RDMA_READ == RdmaOp::Read as u32);
    assert!(sys::KQDAFS_RDMA_SEND == RdmaOp::Send as u32);
    assert!(sys::KQDAFS_RDMA_RECV == RdmaOp::Recv as u32);
    assert!(sys::KQDAFS_MR_LOCAL_WRITE == MrAccess::LOCAL_WRITE.bits());
    assert!(sys::KQDAFS_MR_REMOTE_READ == MrAccess::REMOTE_READ.bits());
    assert!(sys::KQDAFS_MR_REMOTE_WRITE == MrAccess::REMOTE_WRITE.bits());
    assert!(sys::KQDAFS_RDMA_MAX_LEN as u64 == RDMA_MAX_LEN);
    assert!(sys::KQDAFS_RDMA_MAX_MR_LEN as u64 == RDMA_MAX_MR_LEN);
    assert!(sys::KQDAFS_KAPI_RDMA_MAX_MRS == RDMA_MAX_MRS);
    assert!(sys::KQDAFS_KAPI_RDMA_MAX_EPS == RDMA_MAX_ENDPOINTS);
};

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_reg_mr(
    c: *mut sys::kqdafs_consumer,
    kbuf: *mut c_void,
    len: usize,
    access: u32,
    keyp: *mut u32,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_reg_mr.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    if kbuf.is_null() || keyp.is_null() || len == 0 || len as u64 > kqdafs_abi::rdma::RDMA_MAX_MR_LEN {
        return Errno::EINVAL.to_raw();
    }
    // SAFETY: by contract the buffer is wired kernel memory that stays
    // allocated until the region is deregistered or the consumer
    // destroyed (kqdafs_kapi(9)); every transfer that uses the pages is
    // over by then (deregistration answers EBUSY while one names the
    // region; destroy waits for them or cancels them before they start).
    let pages = match unsafe { HeldPages::borrow_kernel(kbuf as u64, len) } {
        Ok(p) => p,
        Err(e) => return e.to_raw(),
    };
    match crate::rdma::reg_mr_for_consumer(consumer.get(), pages, access) {
        Ok(key) => {
            // SAFETY: keyp is non-null and, by contract, writable.
            unsafe { *keyp = key };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_dereg_mr(c: *mut sys::kqdafs_consumer, key: u32) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_dereg_mr.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    answer(consumer.get().rdma().remove_region(key))
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_ep_pair(c: *mut sys::kqdafs_consumer, ep: *mut u32) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_ep_pair.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    if ep.is_null() {
        return Errno::EINVAL.to_raw();
    }
    match consumer.get().rdma().make_pair() {
        Ok(pair) => {
            // SAFETY: by contract ep points to two writable uint32_t.
            unsafe { core::ptr::copy_nonoverlapping(pair.as_ptr(), ep, 2) };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_ep_close(c: *mut sys::kqdafs_consumer, ep: u32) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_ep_close.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    answer(consumer.get().rdma().close_endpoint(ep))
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_ep_connect(
    c: *mut sys::kqdafs_consumer,
    provider: *const core::ffi::c_char,
    conn: u64,
    epp: *mut u32,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_ep_connect.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    // SAFETY: by contract provider is null or a string.
    let Some(name) = (unsafe { super::rdma_provider::read_name(provider) }) else {
        return Errno::EINVAL.to_raw();
    };
    if epp.is_null() {
        return Errno::EINVAL.to_raw();
    }
    match crate::rdma::connect_for_consumer(consumer.get(), &name, conn) {
        Ok(ep) => {
            // SAFETY: epp is non-null and, by contract, writable.
            unsafe { *epp = ep };
            0
        }
        Err(e) => e.to_raw(),
    }
}

#[no_mangle]
extern "C" fn kqdafs_rs_rdma_post(
    c: *mut sys::kqdafs_consumer,
    wr: *const sys::kqdafs_rdma_wr,
    idp: *mut u64,
) -> c_int {
    // SAFETY: the header's contract for kqdafs_rdma_post.
    let Some(consumer) = (unsafe { consumer(c) }) else {
        return Errno::EINVAL.to_raw();
    };
    // SAFETY: by contract `wr` is null or readable for the call.
    let Some(wr) = (unsafe { wr.as_ref() }) else {
        return Errno::EINVAL.to_raw();
    };
    if wr.wr_pad != 0 {
        return Errno::EINVAL.to_raw();
    }
    // The userland request with kq 0 (a kernel consumer has no kqueue)
    // and the cookie in udata: the same checks, in the same order.
    let raw = kqdafs_abi::rdma::RdmaRequest {
        op: wr.wr_op,
        flags: wr.wr_flags,
        ep: wr.wr_ep,
        kq: 0,
        local_key: wr.wr_local_key,
        remote_key: wr.wr_remote_key,
        local_offset: wr.wr_local_offset,
        remote_offset: wr.wr_remote_offset,
        len: wr.wr_len,
        udata: wr.wr_cookie,
        reserved: [0; 2],
    };
    let publish = |id: u64| {
        // SAFETY: by contract idp is null or writable for the call.
        if let Some(idp) = unsafe { idp.as_mut() } {
            *idp = id;
        }
    };
    match crate::rdma::post_for_consumer(&consumer, &raw, publish) {
        Ok(_) => 0,
        Err(e) => e.to_raw(),
    }
}
