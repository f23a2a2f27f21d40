//! Where a run's binaries and logs are, and how its children are started: pinned with `taskset`
//! to the servers' CPU, so the load generator keeps the other one. Apart from [`crate::server`],
//! which starts the servers under test with it, because [`crate::redis`] starts its
//! `redis-server` the same way and the server module in turn starts Redis.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

/// Where the binaries are and how to run them.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// `target/release`.
    pub release_dir: PathBuf,
    /// Where server logs go.
    pub log_dir: PathBuf,
    /// Pin servers to this CPU with `taskset` (None on a one-CPU machine).
    pub pin: Option<usize>,
}

impl Launcher {
    /// `program`, through `taskset` onto the servers' CPU when pinning.
    pub fn pinned(&self, program: impl AsRef<OsStr>) -> Command {
        match self.pin {
            Some(cpu) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(cpu.to_string()).arg(program);
                taskset
            }
            None => Command::new(program),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_programs_go_through_taskset() {
        let launcher = Launcher { release_dir: PathBuf::from("/r"), log_dir: PathBuf::from("/l"), pin: Some(0) };
        assert_eq!(launcher.pinned("redis-server").get_program(), "taskset");
        assert_eq!(launcher.pinned("redis-server").get_args().collect::<Vec<_>>(), ["-c", "0", "redis-server"]);
        let unpinned = Launcher { pin: None, ..launcher };
        assert_eq!(unpinned.pinned("redis-server").get_program(), "redis-server");
        assert_eq!(unpinned.pinned("redis-server").get_args().count(), 0);
    }
}
