//! Headless Firefox as the second browser of the cross-browser calls: the preferences that make a
//! WebRTC call work inside a loopback-only network namespace, and geckodriver's command line.
//! Each preference below was found necessary (or is harmless and noted so) by removing it in turn.

use std::path::Path;

/// Optional: the Firefox binary (default [`DEFAULT_FIREFOX`]).
pub const FIREFOX_VAR: &str = "CONNECT_FIREFOX";
/// Optional: the geckodriver binary (default [`DEFAULT_GECKODRIVER`], looked up on `PATH`).
pub const GECKODRIVER_VAR: &str = "CONNECT_GECKODRIVER";
/// Debian's `firefox-esr` package.
pub const DEFAULT_FIREFOX: &str = "/usr/bin/firefox-esr";
/// Not a Debian package: `cargo install --locked geckodriver` (the ensure step does) puts it on `PATH`.
pub const DEFAULT_GECKODRIVER: &str = "geckodriver";

/// A preference value, as `moz:firefoxOptions.prefs` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pref {
    Bool(bool),
    Int(i64),
}

/// The preferences of every Firefox session.
pub const PREFS: &[(&str, Pref)] = &[
    // A synthetic camera and microphone: headless Firefox on a server has neither.
    ("media.navigator.streams.fake", Pref::Bool(true)),
    // Without it Firefox gathers no ICE candidate at all on loopback, not even a relayed one.
    ("media.peerconnection.ice.loopback", Pref::Bool(true)),
    // A remembered permission: without one Firefox gathers only the default route's address, and
    // the namespace has no default route, so zero candidates.
    ("permissions.default.camera", Pref::Int(1)),
    ("permissions.default.microphone", Pref::Int(1)),
    // No permission prompt (harmless with the two above).
    ("media.navigator.permission.disabled", Pref::Bool(true)),
    // Remote video with sound may start without a click (0 = allow all autoplay).
    ("media.autoplay.default", Pref::Int(0)),
    // The page's console goes to Firefox's stdout, which is geckodriver's log: the harness reads
    // it there, since geckodriver has no endpoint for the console.
    ("devtools.console.stdout.content", Pref::Bool(true)),
];

/// Firefox's own arguments. The window is sized over WebDriver once the session is open: Firefox
/// ESR 153 sizes a headless window by `-width`/`-height` but also logs them as unrecognized flags.
pub const FIREFOX_ARGS: &[&str] = &["-headless"];

/// geckodriver serving one session on `port` (it serves one session at a time), with BiDi on
/// `websocket_port` so two geckodrivers never want the same default 9222, and the session's
/// fresh profile created under `profile_root`.
pub fn geckodriver_args(port: u16, websocket_port: u16, profile_root: &Path) -> Vec<String> {
    vec![
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--websocket-port".to_owned(),
        websocket_port.to_string(),
        "--profile-root".to_owned(),
        profile_root.display().to_string(),
    ]
}

/// The page's console lines in a geckodriver log (`console.log: …`, `console.error: …`), for
/// failure reports.
pub fn console_lines(geckodriver_log: &str) -> Vec<String> {
    geckodriver_log.lines().filter(|line| line.starts_with("console.")).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_hold_each_needed_setting_once() {
        let names: Vec<&str> = PREFS.iter().map(|(name, _)| *name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let value = |name: &str| PREFS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert_eq!(value("media.navigator.streams.fake"), Some(Pref::Bool(true)));
        assert_eq!(value("media.peerconnection.ice.loopback"), Some(Pref::Bool(true)));
        assert_eq!(value("permissions.default.camera"), Some(Pref::Int(1)));
        assert_eq!(value("permissions.default.microphone"), Some(Pref::Int(1)));
    }

    #[test]
    fn geckodriver_gets_its_own_ports_and_profile_root() {
        assert_eq!(
            geckodriver_args(4444, 9333, Path::new("/tmp/profiles")),
            ["--host", "127.0.0.1", "--port", "4444", "--websocket-port", "9333", "--profile-root", "/tmp/profiles"]
        );
    }

    #[test]
    fn console_lines_are_picked_from_the_driver_log() {
        let log = "1700000000000\tgeckodriver\tINFO\tListening on 127.0.0.1:4444\n\
                   console.log: \"connect: joined\"\n\
                   console.error: \"ICE failed\"\n\
                   JavaScript error: x\n";
        assert_eq!(console_lines(log), ["console.log: \"connect: joined\"", "console.error: \"ICE failed\""]);
    }
}
