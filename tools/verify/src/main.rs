// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafs-verify`: statically verify FreeBSD/amd64 kernel module files, or
//! generate the kernel KPI symbol list (`kpi-list`). See `cli::USAGE`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let status = kqdafs_verify::cli::run(&args, &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(u8::try_from(status).unwrap_or(2))
}
