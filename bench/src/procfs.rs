//! What the kernel says about a server process: on-CPU time summed over its threads
//! (`/proc/PID/task/*/schedstat`), resident memory (`VmRSS`) and open descriptors. The parsers
//! are pure; the readers are thin.

use std::path::Path;

use crate::error::{BenchError, Result};

/// Nanoseconds on CPU: the first field of a `schedstat` line (`on-cpu wait-time timeslices`).
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Bytes of `VmRSS` in the text of `/proc/PID/status` (the kernel reports kB).
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next()? {
        "kB" => Some(value * 1024),
        _ => None,
    }
}

/// On-CPU nanoseconds of every live thread of `pid`, summed. A thread that exited takes its time
/// with it; the servers measured here keep their threads for their whole life.
pub fn cpu_ns(pid: u32) -> Result<u64> {
    let tasks = format!("/proc/{pid}/task");
    let entries = std::fs::read_dir(&tasks).map_err(|e| BenchError::io(format!("listing {tasks}"), e))?;
    let mut total = 0;
    for entry in entries.flatten() {
        // A thread may exit between the listing and the read; it simply is not counted.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) {
            total += parse_schedstat(&text).unwrap_or(0);
        }
    }
    Ok(total)
}

pub fn rss_bytes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("reading {path}"), e))?;
    parse_vm_rss(&status).ok_or_else(|| BenchError::Report(format!("no VmRSS in {path}")))
}

pub fn open_fds(pid: u32) -> Result<usize> {
    let path = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&path).map_err(|e| BenchError::io(format!("listing {path}"), e))?;
    Ok(entries.count())
}

/// Whether `/proc` is there at all (it is on every Linux this runs on).
pub fn available() -> bool {
    Path::new("/proc/self/status").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_first_field_is_on_cpu_ns() {
        assert_eq!(parse_schedstat("123456789 5000 42\n"), Some(123_456_789));
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn vm_rss_in_bytes() {
        let status = "Name:\tsignaling\nVmPeak:\t  99999 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(5120 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss("VmRSS:\t5 MB\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(cpu_ns(pid).unwrap() > 0);
        assert!(rss_bytes(pid).unwrap() > 0);
        assert!(open_fds(pid).unwrap() >= 3);
        assert!(available());
    }
}
