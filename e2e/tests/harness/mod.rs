//! The browser-test harness: a [`Stage`] owns the signaling server, the WebDriver servers and
//! every browser session (Chromium or Firefox) of one test; it turns a failed scenario into
//! screenshots, page state and logs of every session before panicking, and closes everything on
//! the way out.
//!
//! Every wait is bounded and every step returns a [`Result`] rather than panicking, so a failure
//! always reaches the diagnostics.

pub mod browser;
pub mod driver;
pub mod server;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::Paths;

pub use browser::Browser;
pub use driver::BrowserKind;
use driver::Driver;
use server::Signaling;

/// Why a scenario step failed, in words a CI log reader can act on.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// Media checks once a call is up.
pub const MEDIA_LIMIT: Duration = Duration::from_secs(10);

/// Every browser reaches `connected` and its remote video plays.
pub async fn connected_with_media(browsers: &[&Browser], limit: Duration) -> Result<()> {
    for browser in browsers {
        browser.wait_for_state("connected", limit).await?;
    }
    for browser in browsers {
        browser.wait_remote_video_playing(MEDIA_LIMIT).await?;
    }
    Ok(())
}

/// The decoder counters grow: frames arrive now, not only before some event.
pub async fn frames_advancing(browsers: &[&Browser]) -> Result<()> {
    for browser in browsers {
        browser.wait_frames_advancing(MEDIA_LIMIT).await?;
    }
    Ok(())
}

/// Clicks `#start-call` on a page showing `/` until the state leaves `idle`: the button does
/// something only once the client's wasm has loaded.
pub async fn press_start_call(a: &Browser, limit: Duration) -> Result<()> {
    poll("#start-call starts a call", limit, Duration::from_millis(300), || async {
        let state = a.state().await?;
        if state != "idle" {
            return Ok(Probe::Ready(()));
        }
        a.click("start-call").await?;
        Ok(Probe::NotYet(format!("state `{state}`, status {:?}", a.status_text().await?)))
    })
    .await
}

/// From the start page: presses Start a call, waits until the page waits for the other person,
/// and returns the link it shows to share.
pub async fn start_waiting(a: &Browser, limit: Duration) -> Result<String> {
    press_start_call(a, limit).await?;
    a.wait_for_state("waiting", limit).await?;
    a.call_link(limit).await
}

/// From the start page: A starts a call, B opens its link, and both are connected with media.
#[allow(dead_code, reason = "each test binary compiles the harness; call_screen.rs and call_screen_tools.rs use this")]
pub async fn start_and_join(a: &Browser, b: &Browser, limit: Duration) -> Result<()> {
    let link = start_waiting(a, limit).await?;
    b.join_by_link(&link, limit).await?;
    connected_with_media(&[a, b], limit).await
}

/// Adds what we were doing to any displayable error.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

/// `Ok(())` if `condition` holds, else a failure saying `message`.
pub fn check(condition: bool, message: impl FnOnce() -> String) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(Failure(message()))
    }
}

/// One observation of a condition being waited for.
pub enum Probe<T> {
    Ready(T),
    /// Not yet; the text says what was seen, for the timeout message.
    NotYet(String),
}

/// Calls `probe` every `every` until it is ready, for at most `limit`. A probe error counts as
/// "not yet" (a page mid-reload has no document to run a script in) and is reported if time runs out.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, every: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>>>,
{
    let started = Instant::now();
    loop {
        let last = match probe().await {
            Ok(Probe::Ready(value)) => return Ok(value),
            Ok(Probe::NotYet(seen)) => seen,
            Err(e) => format!("error: {e}"),
        };
        if started.elapsed() >= limit {
            return Err(Failure(format!("{what}: not within {:.1} s; last seen: {last}", limit.as_secs_f64())));
        }
        tokio::time::sleep(every).await;
    }
}

/// Everything one test runs against; dropping it kills the processes, [`Stage::finish`] also
/// closes the browser sessions politely and reports.
pub struct Stage {
    paths: Paths,
    pub server: Signaling,
    /// Serves every Chromium session of the test.
    chromedriver: Driver,
    /// One per Firefox session, since geckodriver serves one session at a time; killed (with
    /// their Firefox) when the stage is dropped.
    geckodrivers: Vec<Driver>,
    browsers: Vec<Browser>,
    /// Browser profiles, one subdirectory per session; removed when the stage is dropped.
    profiles: tempfile::TempDir,
    test_name: &'static str,
}

impl Stage {
    /// Reads the `CONNECT_*` paths, starts the signaling server (port 0, serving the client) and
    /// chromedriver. Panics with instructions when the environment is not set up: that is not a
    /// failure of the code under test.
    pub async fn start(test_name: &'static str) -> Stage {
        Stage::start_with(test_name, Vec::new()).await
    }

    /// [`Stage::start`] with more flags for the signaling server (e.g. its TURN settings).
    pub async fn start_with(test_name: &'static str, server_args: Vec<String>) -> Stage {
        match Stage::try_start(test_name, server_args).await {
            Ok(stage) => stage,
            Err(e) => panic!("{test_name}: could not set up the stage: {e}"),
        }
    }

    async fn try_start(test_name: &'static str, server_args: Vec<String>) -> Result<Stage> {
        let paths = Paths::from_env().context("reading the test environment")?;
        std::fs::create_dir_all(&paths.artifacts).context(format!("creating {}", paths.artifacts.display()))?;
        let profiles = tempfile::Builder::new().prefix("e2e-profiles-").tempdir().context("creating a profile dir")?;
        let server = Signaling::start(&paths, test_name, server_args).await?;
        let log = paths.artifacts.join(test_name).join("chromedriver.log");
        let chromedriver = Driver::start(&paths, BrowserKind::Chromium, log, profiles.path()).await?;
        let (geckodrivers, browsers) = (Vec::new(), Vec::new());
        Ok(Stage { paths, server, chromedriver, geckodrivers, browsers, profiles, test_name })
    }

    /// A new browser session with a fresh profile; `name` labels its screenshots and logs.
    pub async fn open_browser(&mut self, name: &str) -> Result<Browser> {
        self.open_session(name, true).await
    }

    /// A session of a person with no camera and no microphone.
    #[allow(dead_code, reason = "each test binary compiles the harness; only no_devices.rs uses this")]
    pub async fn open_browser_without_devices(&mut self, name: &str) -> Result<Browser> {
        self.open_session(name, false).await
    }

    /// A headless Firefox session with a fresh profile and fake devices, under a geckodriver of
    /// its own whose log (`geckodriver-<name>.log`) also holds the page's console.
    #[allow(dead_code, reason = "each test binary compiles the harness; only cross_browser.rs uses this")]
    pub async fn open_firefox(&mut self, name: &str) -> Result<Browser> {
        let file = e2e::artifact_file_name(name);
        let log = self.artifacts_dir().join(format!("geckodriver-{file}.log"));
        let profile_root = self.profiles.path().join(&file);
        let driver = Driver::start(&self.paths, BrowserKind::Firefox, log, &profile_root).await?;
        let opened = Browser::open(name, &driver, &self.paths, &profile_root, self.artifacts_dir(), true).await;
        // Kept even if the session failed to open: its log explains why, and drop kills it.
        self.geckodrivers.push(driver);
        let browser = opened?;
        self.browsers.push(browser.clone());
        Ok(browser)
    }

    /// A Chromium session emulating a phone (see [`browser::PHONE`]), with the fake devices.
    #[allow(dead_code, reason = "each test binary compiles the harness; not every test uses a phone")]
    pub async fn open_phone(&mut self, name: &str) -> Result<Browser> {
        let profile = self.profiles.path().join(e2e::artifact_file_name(name));
        let artifacts = self.artifacts_dir();
        let browser = Browser::open_phone(name, &self.chromedriver, &self.paths, &profile, artifacts).await?;
        self.browsers.push(browser.clone());
        Ok(browser)
    }

    /// A Chromium session under the autoplay policy of a phone: a page the person has not
    /// touched may not play sound until they do (headless Chromium otherwise lets every page
    /// play). Chromium lets a page that captures camera or microphone play sound anyway, so the
    /// policy bites a person without devices (`devices: false`).
    #[allow(dead_code, reason = "each test binary compiles the harness; only call_screen.rs uses this")]
    pub async fn open_browser_with_autoplay_policy(&mut self, name: &str, devices: bool) -> Result<Browser> {
        let profile = self.profiles.path().join(e2e::artifact_file_name(name));
        std::fs::create_dir_all(&profile).context(format!("creating {}", profile.display()))?;
        let args = if devices { e2e::chromium_args(&profile) } else { e2e::chromium_args_without_devices(&profile) };
        let args = args
            .into_iter()
            .filter(|arg| !arg.starts_with("--autoplay-policy="))
            .chain(["--autoplay-policy=document-user-activation-required".to_owned()])
            .collect();
        let artifacts = self.artifacts_dir();
        let browser =
            Browser::open_with_args(name, &self.chromedriver.url(), &self.paths.chromium, args, artifacts).await?;
        self.browsers.push(browser.clone());
        Ok(browser)
    }

    async fn open_session(&mut self, name: &str, devices: bool) -> Result<Browser> {
        let profile = self.profiles.path().join(e2e::artifact_file_name(name));
        let artifacts = self.artifacts_dir();
        let browser = Browser::open(name, &self.chromedriver, &self.paths, &profile, artifacts, devices).await?;
        self.browsers.push(browser.clone());
        Ok(browser)
    }

    /// Ends a session before the test does (so it stops taking CPU and stops reconnecting).
    pub async fn close_browser(&mut self, browser: &Browser) -> Result<()> {
        self.browsers.retain(|b| b.name() != browser.name());
        browser.clone().close().await
    }

    /// Where this test's screenshots and logs go: `$CONNECT_ARTIFACTS/<test name>/`.
    pub fn artifacts_dir(&self) -> PathBuf {
        self.paths.artifacts.join(self.test_name)
    }

    /// Reports the scenario's outcome: on failure, screenshots and state of every session and the
    /// server's last log lines, then a panic with the failure; in any case closes every session.
    pub async fn finish(mut self, outcome: Result<()>) {
        if let Err(failure) = &outcome {
            eprintln!("\n===== {} FAILED: {failure}\n", self.test_name);
            for browser in &self.browsers {
                browser.dump_diagnostics("failure").await;
            }
            eprintln!("----- signaling server, last log lines ({}):", self.server.log_path().display());
            for line in self.server.log_tail(40) {
                eprintln!("    {line}");
            }
            eprintln!("----- artifacts: {}", self.artifacts_dir().display());
        }
        for browser in std::mem::take(&mut self.browsers) {
            let name = browser.name().to_owned();
            if let Err(e) = browser.close().await {
                eprintln!("    closing session {name}: {e}");
            }
        }
        if let Err(failure) = outcome {
            panic!("{}: {failure} (screenshots and logs in {})", self.test_name, self.artifacts_dir().display());
        }
        println!("{}: artifacts in {}", self.test_name, self.artifacts_dir().display());
    }
}
