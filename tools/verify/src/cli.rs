// SPDX-License-Identifier: BSD-2-Clause
//! Command-line parsing and the three commands: verify `.ko` files,
//! generate the KPI list (`kpi-list`) and a module's export list from its
//! headers (`exports-list`). Plain std argument handling.

use crate::{kpi_gen, verify_file, Config, KpiList, KpiMode};
use std::io::Write;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: kqdafs-verify [--kpi FILE [--provider DEP.ko]... | --no-kpi] [--module NAME]
                     [--exports FILE | --no-exports] FILE.ko...
       kqdafs-verify kpi-list --headers HEADER [--clang-arg ARG]... -o OUT
       kqdafs-verify exports-list --headers HEADER... [--clang-arg ARG]... -o OUT

--provider DEP.ko: the global symbols DEP.ko defines may also be left
undefined (a module that MODULE_DEPENDs on DEP resolves them from it).
--exports FILE: the module must define exactly the global symbols listed
(one per line, # comments), e.g. the list `exports-list` derives from the
headers other modules include; --no-exports: it must define none.

Exit status: 0 all files OK, 1 problems found, 2 usage or I/O error.";

/// Exit status: every file passed.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one problem.
pub const EXIT_PROBLEMS: i32 = 1;
/// Exit status: usage or I/O error.
pub const EXIT_ERROR: i32 = 2;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Verify {
        kpi: Option<PathBuf>,
        no_kpi: bool,
        providers: Vec<PathBuf>,
        module: Option<String>,
        exports: Exports,
        files: Vec<PathBuf>,
    },
    KpiList {
        headers: PathBuf,
        clang_args: Vec<String>,
        output: PathBuf,
    },
    ExportsList {
        headers: Vec<PathBuf>,
        clang_args: Vec<String>,
        output: PathBuf,
    },
}

/// What `--exports`/`--no-exports` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Exports {
    /// Neither: the exported set is not checked.
    #[default]
    Unchecked,
    /// `--exports FILE`.
    List(PathBuf),
    /// `--no-exports`: no global symbol may be defined.
    None,
}

/// Take the value of option `name`: either `--name=value` in `arg`, or the
/// next argument.
fn value<I: Iterator<Item = String>>(arg: &str, name: &str, rest: &mut I) -> Result<Option<String>, String> {
    if arg == name {
        return rest.next().map(Some).ok_or_else(|| format!("{name} needs an argument"));
    }
    Ok(arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')).map(str::to_string))
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("kpi-list") {
        return parse_kpi_list(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("exports-list") {
        return parse_exports_list(&args[1..]);
    }
    let mut kpi = None;
    let mut no_kpi = false;
    let mut exports = Exports::Unchecked;
    let mut exports_given = 0;
    let mut module = None;
    let mut providers = Vec::new();
    let mut files = Vec::new();
    let mut it = args.iter().cloned();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        if options_done || !arg.starts_with('-') || arg == "-" {
            files.push(PathBuf::from(arg));
        } else if arg == "--" {
            options_done = true;
        } else if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        } else if arg == "--no-kpi" {
            no_kpi = true;
        } else if arg == "--no-exports" {
            exports = Exports::None;
            exports_given += 1;
        } else if let Some(v) = value(&arg, "--exports", &mut it)? {
            exports = Exports::List(PathBuf::from(v));
            exports_given += 1;
        } else if let Some(v) = value(&arg, "--kpi", &mut it)? {
            kpi = Some(PathBuf::from(v));
        } else if let Some(v) = value(&arg, "--module", &mut it)? {
            module = Some(v);
        } else if let Some(v) = value(&arg, "--provider", &mut it)? {
            providers.push(PathBuf::from(v));
        } else {
            return Err(format!("unknown option {arg}"));
        }
    }
    if kpi.is_some() && no_kpi {
        return Err("--kpi and --no-kpi are mutually exclusive".into());
    }
    if !providers.is_empty() && kpi.is_none() {
        return Err("--provider needs --kpi".into());
    }
    if exports_given > 1 {
        return Err("give one of --exports FILE and --no-exports, once".into());
    }
    if files.is_empty() {
        return Err("no input files".into());
    }
    Ok(Command::Verify { kpi, no_kpi, providers, module, exports, files })
}

fn parse_exports_list(args: &[String]) -> Result<Command, String> {
    let mut headers = Vec::new();
    let mut output = None;
    let mut clang_args = Vec::new();
    let mut it = args.iter().cloned();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        } else if let Some(v) = value(&arg, "--headers", &mut it)? {
            headers.push(PathBuf::from(v));
        } else if let Some(v) = value(&arg, "--clang-arg", &mut it)? {
            clang_args.push(v);
        } else if let Some(v) = value(&arg, "-o", &mut it)? {
            output = Some(PathBuf::from(v));
        } else {
            return Err(format!("exports-list: unexpected argument {arg}"));
        }
    }
    if headers.is_empty() {
        return Err("exports-list: --headers is required".into());
    }
    Ok(Command::ExportsList { headers, clang_args, output: output.ok_or("exports-list: -o OUT is required")? })
}

fn parse_kpi_list(args: &[String]) -> Result<Command, String> {
    let mut headers = None;
    let mut output = None;
    let mut clang_args = Vec::new();
    let mut it = args.iter().cloned();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        } else if let Some(v) = value(&arg, "--headers", &mut it)? {
            headers = Some(PathBuf::from(v));
        } else if let Some(v) = value(&arg, "--clang-arg", &mut it)? {
            clang_args.push(v);
        } else if let Some(v) = value(&arg, "-o", &mut it)? {
            output = Some(PathBuf::from(v));
        } else {
            return Err(format!("kpi-list: unexpected argument {arg}"));
        }
    }
    Ok(Command::KpiList {
        headers: headers.ok_or("kpi-list: --headers is required")?,
        clang_args,
        output: output.ok_or("kpi-list: -o OUT is required")?,
    })
}

/// Run the command line `args` (without the program name); returns the exit
/// status.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let command = match parse(args) {
        Ok(c) => c,
        Err(msg) => {
            let _ = writeln!(err, "kqdafs-verify: {msg}\n{USAGE}");
            return EXIT_ERROR;
        }
    };
    match command {
        Command::Help => {
            let _ = writeln!(out, "{USAGE}");
            EXIT_OK
        }
        Command::KpiList { headers, clang_args, output } => run_kpi_list(&headers, &clang_args, &output, out, err),
        Command::ExportsList { headers, clang_args, output } => {
            run_exports_list(&headers, &clang_args, &output, out, err)
        }
        Command::Verify { kpi, no_kpi, providers, module, exports, files } => {
            let kpi = match (kpi, no_kpi) {
                (Some(path), _) => match KpiList::load(&path) {
                    Ok(mut list) => {
                        for provider in &providers {
                            match crate::provided_symbols_of(provider) {
                                Ok(names) => list.extend(names),
                                Err(e) => {
                                    let _ = writeln!(err, "kqdafs-verify: {}: {e}", provider.display());
                                    return EXIT_ERROR;
                                }
                            }
                        }
                        KpiMode::List(list)
                    }
                    Err(e) => {
                        let _ = writeln!(err, "kqdafs-verify: {}: {e}", path.display());
                        return EXIT_ERROR;
                    }
                },
                (None, true) => KpiMode::Disabled,
                (None, false) => KpiMode::Missing,
            };
            let exports = match exports {
                Exports::Unchecked => None,
                Exports::None => Some(KpiList::default()),
                Exports::List(path) => match KpiList::load(&path) {
                    Ok(list) => Some(list),
                    Err(e) => {
                        let _ = writeln!(err, "kqdafs-verify: {}: {e}", path.display());
                        return EXIT_ERROR;
                    }
                },
            };
            let config = Config { kpi, module, exports };
            run_verify(&files, &config, out, err)
        }
    }
}

fn run_verify(files: &[PathBuf], config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut status = EXIT_OK;
    for file in files {
        match verify_file(file, config) {
            Ok(report) => {
                let _ = write!(out, "{report}");
                if !report.is_ok() && status == EXIT_OK {
                    status = EXIT_PROBLEMS;
                }
            }
            Err(e) => {
                let _ = writeln!(err, "kqdafs-verify: {}: {e}", file.display());
                status = EXIT_ERROR;
            }
        }
    }
    status
}

fn run_kpi_list(
    headers: &std::path::Path,
    clang_args: &[String],
    output: &std::path::Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let names = match kpi_gen::generate(headers, clang_args) {
        Ok(n) => n,
        Err(msg) => {
            let _ = writeln!(err, "kqdafs-verify: kpi-list: {msg}");
            return EXIT_ERROR;
        }
    };
    let text = kpi_gen::render(&names, headers, clang_args);
    if let Err(e) = std::fs::write(output, text) {
        let _ = writeln!(err, "kqdafs-verify: {}: {e}", output.display());
        return EXIT_ERROR;
    }
    let _ = writeln!(out, "kqdafs-verify: kpi-list: {} symbols written to {}", names.len(), output.display());
    EXIT_OK
}

fn run_exports_list(
    headers: &[PathBuf],
    clang_args: &[String],
    output: &std::path::Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let names = match kpi_gen::generate_declared_in(headers, clang_args) {
        Ok(n) => n,
        Err(msg) => {
            let _ = writeln!(err, "kqdafs-verify: exports-list: {msg}");
            return EXIT_ERROR;
        }
    };
    if let Err(e) = std::fs::write(output, kpi_gen::render_exports(&names, headers)) {
        let _ = writeln!(err, "kqdafs-verify: {}: {e}", output.display());
        return EXIT_ERROR;
    }
    let _ = writeln!(out, "kqdafs-verify: exports-list: {} symbols written to {}", names.len(), output.display());
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn verify_options() {
        let c = parse(&args(&["--kpi", "k.txt", "--module=kqdafs", "a.ko", "b.ko"])).unwrap();
        assert_eq!(
            c,
            Command::Verify {
                kpi: Some("k.txt".into()),
                no_kpi: false,
                providers: vec![],
                module: Some("kqdafs".into()),
                exports: Exports::Unchecked,
                files: vec!["a.ko".into(), "b.ko".into()],
            }
        );
    }

    #[test]
    fn provider_options_accumulate() {
        let c = parse(&args(&["--kpi=k", "--provider", "a.ko", "--provider=b.ko", "c.ko"])).unwrap();
        let Command::Verify { providers, files, .. } = c else { panic!("{c:?}") };
        assert_eq!(providers, vec![PathBuf::from("a.ko"), PathBuf::from("b.ko")]);
        assert_eq!(files, vec![PathBuf::from("c.ko")]);
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&args(&[])).is_err());
        assert!(parse(&args(&["--kpi"])).is_err());
        assert!(parse(&args(&["--bogus", "a.ko"])).is_err());
        assert!(parse(&args(&["--kpi", "k", "--no-kpi", "a.ko"])).is_err());
        assert!(parse(&args(&["kpi-list", "--headers", "h.h"])).is_err());
        assert!(parse(&args(&["--provider", "p.ko", "a.ko"])).is_err(), "--provider without --kpi");
        assert!(parse(&args(&["--no-kpi", "--provider", "p.ko", "a.ko"])).is_err());
        assert!(parse(&args(&["--no-kpi", "--exports", "e", "--no-exports", "a.ko"])).is_err());
        assert!(parse(&args(&["--no-kpi", "--exports"])).is_err());
        assert!(parse(&args(&["exports-list", "-o", "out"])).is_err(), "no headers");
        assert!(parse(&args(&["exports-list", "--headers", "a.h"])).is_err(), "no -o");
    }

    #[test]
    fn exports_options() {
        let c = parse(&args(&["--no-kpi", "--exports=e.txt", "a.ko"])).unwrap();
        let Command::Verify { exports, .. } = c else { panic!("{c:?}") };
        assert_eq!(exports, Exports::List("e.txt".into()));
        let c = parse(&args(&["--no-kpi", "--no-exports", "a.ko"])).unwrap();
        let Command::Verify { exports, .. } = c else { panic!("{c:?}") };
        assert_eq!(exports, Exports::None);
        let c = parse(&args(&["exports-list", "--headers", "a.h", "--headers=b.h", "--clang-arg", "-DX", "-o", "o"]))
            .unwrap();
        assert_eq!(
            c,
            Command::ExportsList {
                headers: vec!["a.h".into(), "b.h".into()],
                clang_args: args(&["-DX"]),
                output: "o".into()
            }
        );
    }

    #[test]
    fn kpi_list_options() {
        let c = parse(&args(&[
            "kpi-list",
            "--headers",
            "u.h",
            "--clang-arg",
            "-target",
            "--clang-arg=x86_64-unknown-freebsd15.0",
            "-o",
            "out.txt",
        ]))
        .unwrap();
        assert_eq!(
            c,
            Command::KpiList {
                headers: "u.h".into(),
                clang_args: args(&["-target", "x86_64-unknown-freebsd15.0"]),
                output: "out.txt".into(),
            }
        );
    }
}
