//! Browser end-to-end tests of Connect: real headless Chromium and Firefox peers, driven over
//! WebDriver, calling each other through the real `signaling` binary serving the built client
//! (`dist/`).
//!
//! Layout:
//! - this library: the pure parts of the harness (paths from the environment, Chromium flags,
//!   Firefox preferences in [`firefox`], parsing of log lines, HTTP responses and metrics),
//!   unit-tested by plain `cargo test`
//! - `tests/harness/`: processes (signaling, chromedriver, geckodriver) and browser sessions of
//!   either kind, all I/O
//! - `tests/call.rs`: the scenarios, `#[ignore]`d because they need Chromium and a built client;
//!   `cargo xtask test` runs them in its `browser` step, inside a loopback-only network namespace;
//!   `tests/controls.rs`: the call's controls (camera off and on, screen sharing, copy link); `tests/no_devices.rs`
//!   and `tests/cluster.rs`: a session without devices, and the two browsers on two nodes;
//!   `tests/cross_browser.rs`: Chromium and Firefox calling each other, directly and through coturn
//! - `tests/deploy.rs` and `tests/stack/`: the deployment files themselves — Debian's nginx with
//!   the repository's nginx config and coturn with its `turnserver.conf` — and a call relayed
//!   through both; the pure parts are [`nginx`] (config rewriting), [`coturn`] (command line,
//!   STUN, log), [`http`] (response headers) and [`deploy`] (paths, CSP, signaling log)
//! - `tests/nat.rs` and `tests/netns/`: calls between browsers behind simulated home routers
//!   (network namespaces, nftables NAT) to a server on a simulated internet; the pure part is
//!   [`netns`] (addresses, `ip` commands, nftables rulesets), and `src/bin/netns-bridge.rs` lets
//!   the test reach a chromedriver inside a namespace through a Unix socket

#![forbid(unsafe_code)]

pub mod coturn;
pub mod deploy;
pub mod firefox;
pub mod http;
pub mod netns;
pub mod nginx;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The built client (trunk's `dist/`), served by the signaling server under test.
pub const DIST_VAR: &str = "CONNECT_DIST";
/// The `signaling` binary to start.
pub const SIGNALING_BIN_VAR: &str = "CONNECT_SIGNALING_BIN";
/// Where screenshots and logs go; created if missing.
pub const ARTIFACTS_VAR: &str = "CONNECT_ARTIFACTS";
/// Optional: the Chromium binary (default [`DEFAULT_CHROMIUM`]).
pub const CHROMIUM_VAR: &str = "CONNECT_CHROMIUM";
/// Optional: the chromedriver binary (default [`DEFAULT_CHROMEDRIVER`], looked up on `PATH`).
pub const CHROMEDRIVER_VAR: &str = "CONNECT_CHROMEDRIVER";

/// Debian's `chromium` package.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `chromium-driver` package puts it on `PATH`.
pub const DEFAULT_CHROMEDRIVER: &str = "chromedriver";

/// Flags under which a WebRTC call works headless on loopback (the comments say why each is here); the
/// per-session `--user-data-dir` and the window size are added by [`chromium_args`].
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    // Root in CI and no user namespace for Chromium's sandbox inside our network namespace.
    "--no-sandbox",
    "--disable-gpu",
    // A synthetic camera (a moving pattern) and microphone (a beep), granted without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    // Essential: without it Chromium gathers no ICE candidates on loopback and never connects.
    "--allow-loopback-in-peer-connection",
    // No traffic of Chromium's own: the namespace has no route out, and waiting on it is slow.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
];

/// Big enough for the desktop layout: controls, chat and both videos on screen at once.
pub const WINDOW_SIZE: (u32, u32) = (1280, 800);

/// Every Chromium argument of one session: [`CHROMIUM_FLAGS`], a window size and a profile
/// directory of its own, so sessions share no storage (a resume token in one is not in another).
pub fn chromium_args(profile_dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
    args.push(format!("--window-size={},{}", WINDOW_SIZE.0, WINDOW_SIZE.1));
    args.push(format!("--user-data-dir={}", profile_dir.display()));
    args
}

/// The same, for a person with no camera and no microphone: without the fake devices, headless
/// Chromium on a server finds none, so `getUserMedia` fails with `NotFoundError`.
pub fn chromium_args_without_devices(profile_dir: &Path) -> Vec<String> {
    chromium_args(profile_dir).into_iter().filter(|arg| arg != "--use-fake-device-for-media-stream").collect()
}

/// What the tests need from the outside, read from `CONNECT_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub dist: PathBuf,
    pub signaling_bin: PathBuf,
    pub artifacts: PathBuf,
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    pub firefox: PathBuf,
    pub geckodriver: PathBuf,
}

/// Why [`Paths`] could not be assembled; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathsError {
    Unset { var: &'static str },
    NotFound { var: &'static str, path: PathBuf, expected: &'static str },
}

impl fmt::Display for PathsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathsError::Unset { var } => write!(
                f,
                "{var} is not set; run the browser tests with `cargo xtask test --only web,browser`, \
                 which builds everything and sets {DIST_VAR}, {SIGNALING_BIN_VAR} and {ARTIFACTS_VAR}"
            ),
            PathsError::NotFound { var, path, expected } => {
                write!(f, "{var}={} is not {expected}; run `cargo xtask test --only web,browser`", path.display())
            }
        }
    }
}

impl std::error::Error for PathsError {}

impl Paths {
    /// From the process environment.
    pub fn from_env() -> Result<Paths, PathsError> {
        Paths::from_lookup(|var| std::env::var_os(var).map(PathBuf::from).filter(|p| !p.as_os_str().is_empty()))
    }

    /// From `lookup`, which maps a variable name to its value; checks what can be checked up
    /// front so a wrong path fails with its name, not as a mysterious timeout later.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<PathBuf>) -> Result<Paths, PathsError> {
        let required = |var: &'static str| lookup(var).ok_or(PathsError::Unset { var });
        let dist = required(DIST_VAR)?;
        if !dist.join("index.html").is_file() {
            return Err(PathsError::NotFound { var: DIST_VAR, path: dist, expected: "a directory with index.html" });
        }
        let signaling_bin = required(SIGNALING_BIN_VAR)?;
        if !signaling_bin.is_file() {
            return Err(PathsError::NotFound { var: SIGNALING_BIN_VAR, path: signaling_bin, expected: "a file" });
        }
        let artifacts = required(ARTIFACTS_VAR)?;
        let chromium = lookup(CHROMIUM_VAR).unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM));
        let chromedriver = lookup(CHROMEDRIVER_VAR).unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMEDRIVER));
        let firefox = lookup(firefox::FIREFOX_VAR).unwrap_or_else(|| PathBuf::from(firefox::DEFAULT_FIREFOX));
        let geckodriver =
            lookup(firefox::GECKODRIVER_VAR).unwrap_or_else(|| PathBuf::from(firefox::DEFAULT_GECKODRIVER));
        Ok(Paths { dist, signaling_bin, artifacts, chromium, chromedriver, firefox, geckodriver })
    }
}

/// The address in the server's `listening on ADDR` log line, if this is that line.
/// Colour codes are stripped first, in case the log is coloured.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let plain = strip_ansi(line);
    let (_, rest) = plain.split_once("listening on ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// `text` without ANSI escape sequences (`ESC [ … letter`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// The value of an unlabelled sample `name value` in Prometheus text, e.g. `signaling_peers_joined 2`.
pub fn metric_value(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (metric, value) = line.split_once(' ')?;
        if metric == name {
            value.trim().parse().ok()
        } else {
            None
        }
    })
}

/// An HTTP/1.1 response split into its status code and body; `None` if it is not one.
/// Enough for our own server's small `Connection: close` answers and chromedriver's `/status`.
pub fn parse_http_response(raw: &[u8]) -> Option<(u16, &[u8])> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some((status, &raw[head_end + 4..]))
}

/// Whether `raw` holds a whole response: the head and, when it has a `Content-Length`, that many
/// body bytes. Needed because chromedriver keeps the connection open despite `Connection: close`.
/// Without a `Content-Length` only the peer closing the connection ends the body.
pub fn http_response_complete(raw: &[u8]) -> bool {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let length = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok()).flatten()
    });
    length.is_some_and(|length| raw.len() - (head_end + 4) >= length)
}

/// The parent pid in the text of `/proc/PID/stat` (`pid (comm) state ppid …`); the command name
/// may itself contain spaces and parentheses, so parsing starts after the last `)`.
pub fn stat_parent_pid(stat: &str) -> Option<u32> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// Every descendant of `root` in a list of (pid, parent pid), children before grandchildren.
pub fn descendants(root: u32, processes: &[(u32, u32)]) -> Vec<u32> {
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(processes.iter().filter(|&&(pid, ppid)| ppid == parent && pid != root).map(|&(pid, _)| pid));
        next += 1;
    }
    found.remove(0);
    found
}

/// A file name for an artifact: letters, digits, `-`, `_` and `.` kept, anything else `_`,
/// so a step name like "b reload/after" cannot escape the artifacts directory.
pub fn artifact_file_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    match cleaned.trim_start_matches('.') {
        "" => "unnamed".to_owned(),
        rest => rest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn listening_line_plain_and_coloured() {
        let plain = "2026-01-01T00:00:00Z  INFO signaling: listening on 127.0.0.1:41234 addr=127.0.0.1:41234";
        assert_eq!(listening_addr(plain), Some("127.0.0.1:41234".parse().unwrap()));
        let coloured =
            "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2msignaling\u{1b}[0m\u{1b}[2m:\u{1b}[0m \
                        listening on [::1]:8080 \u{1b}[3maddr\u{1b}[0m\u{1b}[2m=\u{1b}[0m[::1]:8080";
        assert_eq!(listening_addr(coloured), Some("[::1]:8080".parse().unwrap()));
        assert_eq!(listening_addr("INFO stopped"), None);
        assert_eq!(listening_addr("listening on nowhere"), None);
    }

    #[test]
    fn ansi_is_stripped_and_plain_text_kept() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m text"), "red text");
        assert_eq!(strip_ansi("no escapes → kept"), "no escapes → kept");
    }

    #[test]
    fn metric_values_are_found_by_exact_name() {
        let text = "# HELP signaling_peers_joined Seats.\n# TYPE signaling_peers_joined gauge\n\
                    signaling_peers_joined 2\nsignaling_peers_joined_total 9\nsignaling_errors_total{code=\"x\"} 1\n";
        assert_eq!(metric_value(text, "signaling_peers_joined"), Some(2.0));
        assert_eq!(metric_value(text, "signaling_peers_joined_total"), Some(9.0));
        assert_eq!(metric_value(text, "signaling_rooms_open"), None);
    }

    #[test]
    fn http_responses_split_into_status_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(parse_http_response(raw), Some((200, &b"ok"[..])));
        assert_eq!(parse_http_response(b"HTTP/1.0 404 Not Found\r\n\r\n"), Some((404, &b""[..])));
        assert_eq!(parse_http_response(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(parse_http_response(b"SSH-2.0-x\r\n\r\n"), None);
    }

    #[test]
    fn responses_are_complete_at_their_content_length() {
        assert!(http_response_complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
        assert!(!http_response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok"));
        assert!(!http_response_complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"));
        // No length: complete only when the server closes, which the caller sees as EOF.
        assert!(!http_response_complete(b"HTTP/1.1 200 OK\r\n\r\nbody"));
    }

    #[test]
    fn parent_pid_survives_odd_command_names() {
        assert_eq!(stat_parent_pid("4242 (chromium) S 4200 4242 1 0 -1"), Some(4200));
        assert_eq!(stat_parent_pid("77 (a) b (c)) R 12 77 1"), Some(12));
        assert_eq!(stat_parent_pid("garbage"), None);
    }

    #[test]
    fn descendants_are_found_level_by_level() {
        let processes = [(1, 0), (10, 1), (11, 10), (12, 10), (13, 11), (20, 1), (10, 10)];
        assert_eq!(descendants(10, &processes), [11, 12, 13]);
        assert!(descendants(13, &processes).is_empty());
    }

    #[test]
    fn artifact_names_stay_inside_the_directory() {
        assert_eq!(artifact_file_name("a-connected.png"), "a-connected.png");
        assert_eq!(artifact_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(artifact_file_name("b reload/after"), "b_reload_after");
        assert_eq!(artifact_file_name(".."), "unnamed");
    }

    #[test]
    fn chromium_args_add_profile_and_window_to_the_flags() {
        let args = chromium_args(Path::new("/tmp/profile-a"));
        assert_eq!(&args[..CHROMIUM_FLAGS.len()], CHROMIUM_FLAGS);
        assert!(args.contains(&"--allow-loopback-in-peer-connection".to_owned()));
        assert!(args.contains(&"--window-size=1280,800".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some("--user-data-dir=/tmp/profile-a"));
    }

    fn lookup_in(vars: HashMap<&'static str, PathBuf>) -> impl Fn(&str) -> Option<PathBuf> {
        move |var| vars.get(var).cloned()
    }

    #[test]
    fn paths_need_the_three_variables_and_check_them() {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let unset = Paths::from_lookup(lookup_in(HashMap::new()));
        assert_eq!(unset, Err(PathsError::Unset { var: DIST_VAR }));
        assert!(unset.unwrap_err().to_string().contains("cargo xtask test --only web,browser"));

        let no_index = Paths::from_lookup(lookup_in(HashMap::from([(DIST_VAR, manifest.clone())])));
        assert!(matches!(no_index, Err(PathsError::NotFound { var: DIST_VAR, .. })), "{no_index:?}");

        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), "<!doctype html>").unwrap();
        let dist_path = dist.path().to_path_buf();
        let vars = HashMap::from([
            (DIST_VAR, dist_path.clone()),
            (SIGNALING_BIN_VAR, manifest.join("Cargo.toml")),
            (ARTIFACTS_VAR, PathBuf::from("/tmp/artifacts")),
        ]);
        let paths = Paths::from_lookup(lookup_in(vars)).unwrap();
        assert_eq!(paths.dist, dist_path);
        assert_eq!(paths.chromium, Path::new(DEFAULT_CHROMIUM));
        assert_eq!(paths.chromedriver, Path::new(DEFAULT_CHROMEDRIVER));
        assert_eq!(paths.firefox, Path::new(firefox::DEFAULT_FIREFOX));
        assert_eq!(paths.geckodriver, Path::new(firefox::DEFAULT_GECKODRIVER));
    }
}
