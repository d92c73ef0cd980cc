// SPDX-License-Identifier: BSD-2-Clause
//! `kqdafs-cases c-header TABLE OUT`: write the C header of case table
//! TABLE (`tests/cases/kaio_errno.cases`, `rdma_errno.cases`) to OUT, for the guest
//! programs (`make guest-tests` runs it).  `kqdafs-cases check TABLE...`
//! parses tables and says what is wrong with them.  A table that does not
//! parse is an error naming the file and line; OUT is then not written.

use std::process::ExitCode;

fn name_of(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".cases").unwrap_or(file)
}

fn header(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    kqdafs_cases::c_header(name_of(path), &text).map_err(|e| format!("{path}: {e}"))
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, table, out] if cmd == "c-header" => {
            let h = header(table)?;
            std::fs::write(out, h).map_err(|e| format!("{out}: {e}"))
        }
        [cmd, tables @ ..] if cmd == "check" && !tables.is_empty() => {
            tables.iter().try_for_each(|t| header(t).map(|_| ()))
        }
        _ => Err("usage: kqdafs-cases c-header TABLE OUT | kqdafs-cases check TABLE...".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kqdafs-cases: {e}");
            ExitCode::FAILURE
        }
    }
}
