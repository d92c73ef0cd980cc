// SPDX-License-Identifier: BSD-2-Clause
//! Reading `kern.kqdafs.*` (FreeBSD only).

use std::ffi::CString;
use std::io;

/// Read an integer sysctl of 4 or 8 bytes.
pub fn read_int(name: &str) -> io::Result<i64> {
    let cname = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut buf = [0u8; 8];
    let mut len = buf.len();
    // SAFETY: `buf` is writable for `len` bytes; sysctlbyname writes at
    // most that many and updates `len`.
    let ret = unsafe { libc::sysctlbyname(cname.as_ptr(), buf.as_mut_ptr().cast(), &mut len, std::ptr::null(), 0) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    match len {
        4 => Ok(i64::from(i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]))),
        8 => Ok(i64::from_ne_bytes(buf)),
        _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

/// Read a string sysctl.
pub fn read_string(name: &str) -> io::Result<String> {
    let cname = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut buf = vec![0u8; 256];
    let mut len = buf.len();
    // SAFETY: as in read_int.
    let ret = unsafe { libc::sysctlbyname(cname.as_ptr(), buf.as_mut_ptr().cast(), &mut len, std::ptr::null(), 0) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(len);
    while buf.last() == Some(&0) {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}
