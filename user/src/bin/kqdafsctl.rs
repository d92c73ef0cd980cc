// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafsctl`: inspect the kqdafs module from the shell.
//!
//! * `kqdafsctl info`: query `/dev/kqdafs` and print the module's version,
//!   filter numbers and limits, one `key=value` per line; check that they
//!   agree with `sysctl kern.kqdafs.*`.
//! * `kqdafsctl hold SECONDS`: keep the device open (used by the VM suite
//!   to test that unload is refused while a handle exists).
//! * `kqdafsctl badioctl`: send malformed commands and check each is
//!   refused with the documented errno.
//! * `kqdafsctl useradd`: try to add a knote of the module's filter from
//!   user space with `kevent(EV_ADD)`; it must be refused with `EPERM`.
//! * `kqdafsctl rdma-selftest`: register memory regions, make a connected
//!   endpoint pair, WRITE, READ, SEND/RECV (also a SEND posted before its
//!   RECV, a zero-length one and one too long for its RECV), check every
//!   byte and event, deregister; prints one line, `rdma-selftest: ok ...`
//!   or `rdma-selftest: FAILED: ...`, and exits 0 or 1.

#[cfg(target_os = "freebsd")]
fn main() {
    std::process::exit(freebsd::run(std::env::args().skip(1).collect()));
}

#[cfg(not(target_os = "freebsd"))]
fn main() {
    eprintln!("kqdafsctl: runs on FreeBSD only");
    std::process::exit(69);
}

#[cfg(target_os = "freebsd")]
#[path = "kqdafsctl/rdma.rs"]
mod rdma;

#[cfg(target_os = "freebsd")]
mod freebsd {
    use super::rdma;
    use kqdafs_abi::ioctl::{ioc, IOC_IN, IOC_INOUT, KQDAFS_IOC_GROUP, KQDAFS_IOC_INFO};
    use kqdafs_user::device::Device;
    use kqdafs_user::sysctl;
    use kqdafs_user::Filters;

    pub fn run(args: Vec<String>) -> i32 {
        let result = match args.first().map(String::as_str) {
            Some("info") => info(),
            Some("hold") => hold(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30)),
            Some("badioctl") => badioctl(),
            Some("useradd") => useradd(),
            Some("rdma-selftest") => return rdma::selftest(),
            _ => {
                eprintln!("usage: kqdafsctl info | hold SECONDS | badioctl | useradd | rdma-selftest");
                return 64;
            }
        };
        match result {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("kqdafsctl: {msg}");
                1
            }
        }
    }

    fn info() -> Result<(), String> {
        let dev = Device::open().map_err(|e| format!("open /dev/kqdafs: {e}"))?;
        let info = dev.info().map_err(|e| format!("KQDAFS_IOC_INFO: {e}"))?;
        let filters = Filters::from_info(&info).ok_or_else(|| format!("inconsistent info: {info:?}"))?;
        println!("abi_version={}", info.abi_version);
        println!("module_version={}", info.module_version);
        println!("filter_kaio={}", filters.kaio());
        println!("filter_rdma={}", filters.rdma());
        println!("slot_mode={}", filters.mode().name());
        println!("max_batch={}", info.max_batch);
        println!("max_requests_per_proc={}", info.max_requests_per_proc);
        println!("max_pinned_per_proc={}", info.max_pinned_per_proc);
        let sys_kaio = sysctl::read_int("kern.kqdafs.filter_kaio").map_err(|e| e.to_string())?;
        let sys_rdma = sysctl::read_int("kern.kqdafs.filter_rdma").map_err(|e| e.to_string())?;
        let sys_mode = sysctl::read_string("kern.kqdafs.slot_mode").map_err(|e| e.to_string())?;
        if sys_kaio != i64::from(filters.kaio())
            || sys_rdma != i64::from(filters.rdma())
            || sys_mode != filters.mode().name()
        {
            return Err(format!("sysctl disagrees with ioctl: {sys_kaio} {sys_rdma} {sys_mode}"));
        }
        if info.reserved != [0; 4] {
            return Err("reserved fields are not zero".into());
        }
        Ok(())
    }

    fn hold(seconds: u64) -> Result<(), String> {
        let _dev = Device::open().map_err(|e| format!("open /dev/kqdafs: {e}"))?;
        println!("holding /dev/kqdafs for {seconds}s");
        std::thread::sleep(std::time::Duration::from_secs(seconds));
        Ok(())
    }

    /// Each malformed command must fail with its errno and leave the
    /// buffer untouched.
    fn badioctl() -> Result<(), String> {
        let dev = Device::open().map_err(|e| format!("open /dev/kqdafs: {e}"))?;
        let size = kqdafs_abi::ioctl::param_len(KQDAFS_IOC_INFO);
        let cases: [(&str, u32, i32); 4] = [
            ("unknown number", ioc(IOC_INOUT, KQDAFS_IOC_GROUP, 99, 8), libc::ENOTTY),
            ("other group", KQDAFS_IOC_INFO ^ (1 << 8), libc::ENOTTY),
            ("wrong size", ioc(kqdafs_abi::ioctl::IOC_OUT, KQDAFS_IOC_GROUP, 1, size - 8), libc::ENOTTY),
            ("wrong direction", ioc(IOC_IN, KQDAFS_IOC_GROUP, 1, size), libc::ENOTTY),
        ];
        for (what, cmd, errno) in cases {
            let mut buf = vec![0xa5u8; 8192];
            // SAFETY: none of these commands is one the module accepts (each
            // has a wrong number, group, size or direction), so the kernel
            // takes no address from `buf`; the buffer is larger than any
            // size the commands encode.
            match unsafe { dev.raw_ioctl(cmd, &mut buf) } {
                Ok(()) => return Err(format!("{what}: accepted")),
                Err(e) if e.raw_os_error() == Some(errno) => {}
                Err(e) => return Err(format!("{what}: {e}, expected errno {errno}")),
            }
            if buf.iter().any(|&b| b != 0xa5) {
                return Err(format!("{what}: buffer was written"));
            }
            println!("ok: {what}: errno {errno}");
        }
        Ok(())
    }

    fn useradd() -> Result<(), String> {
        let dev = Device::open().map_err(|e| format!("open /dev/kqdafs: {e}"))?;
        let info = dev.info().map_err(|e| format!("KQDAFS_IOC_INFO: {e}"))?;
        let filters = Filters::from_info(&info).ok_or("module reports no filters")?;
        for filter in [filters.kaio(), filters.rdma()] {
            // SAFETY: kqueue(2) takes no arguments.
            let kq = unsafe { libc::kqueue() };
            if kq == -1 {
                return Err(format!("kqueue: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: an all-zero kevent is a valid value of the C struct.
            let mut change: libc::kevent = unsafe { std::mem::zeroed() };
            change.ident = 1;
            change.filter = filter;
            change.flags = libc::EV_ADD;
            // SAFETY: one valid change, no event buffer, no timeout.
            let ret = unsafe { libc::kevent(kq, &change, 1, std::ptr::null_mut(), 0, std::ptr::null()) };
            let err = std::io::Error::last_os_error();
            // SAFETY: `kq` is our descriptor, closed once.
            unsafe { libc::close(kq) };
            if ret != -1 || err.raw_os_error() != Some(libc::EPERM) {
                return Err(format!("EV_ADD on filter {filter}: ret {ret}, {err}; expected EPERM"));
            }
            println!("ok: EV_ADD on filter {filter} refused with EPERM");
        }
        Ok(())
    }
}
