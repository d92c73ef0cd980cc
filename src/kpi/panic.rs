// SPDX-License-Identifier: BSD-2-Clause
//! The Rust panic handler.
//!
//! Rust code in the module is written so that no panic is reachable from
//! user input (fallible allocation, checked arithmetic, errno returns).  If
//! an invariant is broken anyway, continuing would corrupt the kernel: the
//! handler prints where it happened and calls `panic(9)`, which never
//! returns.  Nothing unwinds (`panic-strategy: abort`).

use super::print::LineBuf;
use core::fmt::Write;

#[panic_handler]
fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = LineBuf::new();
    let _ = write!(line, "kqdafs: rust panic: {}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(line, " at {}:{}", loc.file(), loc.line());
    }
    // SAFETY: `line` is NUL-terminated and lives across the call; panic(9)
    // only reads it and does not return.
    unsafe { crate::sys::kqdafs_panic(line.as_cstr_ptr()) }
}
