//! The machine a run was measured on, for the report: CPU, cores, kernel, compiler, Redis, load.

use std::process::Command;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub rustc: String,
    /// `redis-server`'s version, once the run has checked that it is installed.
    pub redis: String,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages.
    pub load: String,
    pub date: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu, cores) = parse_cpuinfo(&cpuinfo);
        Machine {
            cpu,
            cores,
            kernel: first_line(&std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default()),
            rustc: output(Command::new("rustc").arg("--version")),
            redis: "unknown".to_owned(),
            load: load_average(),
            date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
        }
    }
}

/// The commit the servers were built from, marked when `signaling/` or `shared/` had uncommitted
/// changes (then the figures belong to no commit exactly).
pub fn revision(root: &std::path::Path) -> String {
    let mut head = Command::new("git");
    head.current_dir(root).args(["rev-parse", "--short", "HEAD"]);
    let mut status = Command::new("git");
    status.current_dir(root).args([
        "status",
        "--porcelain",
        "--",
        "signaling/src",
        "signaling/examples",
        "signaling/Cargo.toml",
        "shared",
    ]);
    let dirty = status.output().map(|out| !out.stdout.is_empty()).unwrap_or(false);
    let head = output(&mut head);
    if dirty {
        format!("{head} with uncommitted changes to signaling/ or shared/")
    } else {
        head
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The online CPUs as `taskset -c` reads them (`0-1`), and how many that is.
pub fn online_cpus() -> (String, usize) {
    let list = first_line(&std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default());
    let count = count_cpus(&list);
    if count == 0 {
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        return (format!("0-{}", n - 1), n);
    }
    (list, count)
}

/// `0-3,6` → 5.
fn count_cpus(list: &str) -> usize {
    list.split(',')
        .filter_map(|range| match range.split_once('-') {
            Some((a, b)) => Some(b.trim().parse::<usize>().ok()? + 1 - a.trim().parse::<usize>().ok()?),
            None => range.trim().parse::<usize>().ok().map(|_| 1),
        })
        .sum()
}

/// The model name and the number of processors in `/proc/cpuinfo`.
fn parse_cpuinfo(text: &str) -> (String, usize) {
    let model = text
        .lines()
        .find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, v)| v.trim()))
        .unwrap_or("unknown")
        .to_owned();
    let cores = text.lines().filter(|line| line.starts_with("processor")).count();
    (model, cores)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_owned()
}

fn output(command: &mut Command) -> String {
    match command.output() {
        Ok(out) if out.status.success() => first_line(&String::from_utf8_lossy(&out.stdout)),
        _ => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_model_and_count() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t: x\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n";
        assert_eq!(parse_cpuinfo(text), ("AMD EPYC".to_owned(), 2));
        assert_eq!(parse_cpuinfo(""), ("unknown".to_owned(), 0));
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(count_cpus("0-1"), 2);
        assert_eq!(count_cpus("0-3,6"), 5);
        assert_eq!(count_cpus("0"), 1);
        assert_eq!(count_cpus(""), 0);
    }
}
