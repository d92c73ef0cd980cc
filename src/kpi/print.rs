// SPDX-License-Identifier: BSD-2-Clause
//! `printf(9)` from Rust: format into a bounded stack buffer, then print.

use core::fmt::{self, Write};

/// A fixed buffer that formats a line and always stays NUL-terminated.
/// Output that does not fit is cut, never an error.
pub struct LineBuf {
    buf: [u8; LineBuf::CAPACITY],
    len: usize,
}

impl LineBuf {
    /// Bytes of text a line can hold (one more for the NUL).
    pub const CAPACITY: usize = 256;

    /// An empty line.
    pub const fn new() -> Self {
        LineBuf { buf: [0; LineBuf::CAPACITY], len: 0 }
    }

    /// The text as a C string.
    pub fn as_cstr_ptr(&self) -> *const core::ffi::c_char {
        self.buf.as_ptr().cast()
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        LineBuf::new()
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Keep the last byte for the terminating NUL; drop interior NULs.
            if self.len + 1 >= LineBuf::CAPACITY {
                break;
            }
            if b != 0 {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Print one line to the console and the message buffer (`dmesg`).
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = LineBuf::new();
    let _ = line.write_fmt(args);
    // SAFETY: `line` is NUL-terminated (the writer never fills the last
    // byte) and outlives the call; kqdafs_printf only reads it.
    unsafe { crate::sys::kqdafs_printf(line.as_cstr_ptr()) };
}

/// `printf(9)` with Rust formatting; a newline is added.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::kpi::print::print_line(format_args!($($arg)*))
    };
}
