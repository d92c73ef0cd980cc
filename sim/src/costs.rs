//! KPI costs per request (filled in below).
use std::process::ExitCode;

/// Print the per-request KPI count table.
pub fn print_table() -> ExitCode {
    ExitCode::FAILURE
}
