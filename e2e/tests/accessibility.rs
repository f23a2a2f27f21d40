//! Accessibility audits of the screens before a call, at desktop and phone size: axe-core in the
//! page (the landing page and the waiting screen), and Lighthouse's accessibility score of `/`
//! and `/?room=…`. Both tools are pinned npm packages `cargo xtask` installs (xtask/src/audit.rs).
//!
//! Today's pages still break a few rules (the call screen's colours are being reworked): the
//! axe test prints every violation and fails only on rules outside [`KNOWN_TODAY`]; once they
//! are fixed, emptying that list makes it "no violation at all". Lighthouse's score is printed
//! and must reach [`MIN_LIGHTHOUSE_SCORE`].

// This scenario uses a part of the harness; the rest is compiled for nothing here.
#[allow(dead_code)]
mod harness;

use std::path::PathBuf;
use std::time::Duration;

use harness::browser::page_tools::Violation;
use harness::{check, press_start_call, Browser, Context as _, Failure, Result, Stage};

const STATE_LIMIT: Duration = Duration::from_secs(15);

/// axe rules the pages are known to break today; anything else fails the test.
const KNOWN_TODAY: &[&str] = &["color-contrast"];

/// Lighthouse accessibility, 0–100. The target is 100.
const MIN_LIGHTHOUSE_SCORE: f64 = 90.0;

#[tokio::test]
#[ignore = "needs Chromium, axe-core and a built dist/: run by `cargo xtask test` (browser step)"]
async fn axe_finds_only_known_violations_on_the_landing_and_waiting_screens() {
    let mut stage = Stage::start("accessibility-axe").await;
    let outcome = axe_scenario(&mut stage).await;
    stage.finish(outcome).await;
}

async fn axe_scenario(stage: &mut Stage) -> Result<()> {
    let desktop = stage.open_browser("desktop").await?;
    let phone = stage.open_phone("phone").await?;
    let mut unexpected = Vec::new();
    for page in [&desktop, &phone] {
        page.goto(&stage.server.base_url()).await?;
        page.wait_for_state("idle", STATE_LIMIT).await?;
        unexpected.extend(audit(page, "landing").await?);
        press_start_call(page, STATE_LIMIT).await?;
        page.wait_for_state("waiting", STATE_LIMIT).await?;
        unexpected.extend(audit(page, "waiting").await?);
    }
    check(unexpected.is_empty(), || format!("axe violations beyond the known ones: {unexpected:#?}"))
}

/// Runs axe, prints what it found, saves a screenshot; returns the violations not known today.
async fn audit(page: &Browser, screen: &str) -> Result<Vec<String>> {
    let violations: Vec<Violation> = page.axe_violations().await?;
    println!("axe, {} {screen}: {} violation(s)", page.name(), violations.len());
    for v in &violations {
        println!("    {v}");
    }
    page.screenshot(&format!("{}-{screen}", page.name())).await?;
    Ok(violations
        .iter()
        .filter(|v| !KNOWN_TODAY.contains(&v.id.as_str()))
        .map(|v| format!("{} {screen}: {v}", page.name()))
        .collect())
}

#[tokio::test]
#[ignore = "needs Chromium, Lighthouse and a built dist/: run by `cargo xtask test` (browser step)"]
async fn lighthouse_accessibility_of_the_start_page_and_an_invite_link() {
    let stage = Stage::start("accessibility-lighthouse").await;
    let outcome = lighthouse_scenario(&stage).await;
    stage.finish(outcome).await;
}

async fn lighthouse_scenario(stage: &Stage) -> Result<()> {
    let cli = PathBuf::from(
        std::env::var_os("CONNECT_LIGHTHOUSE")
            .ok_or_else(|| Failure::new("CONNECT_LIGHTHOUSE is not set: run through `cargo xtask test`"))?,
    );
    let chromium = e2e::Paths::from_env().context("reading the test environment")?.chromium;
    let chromium = chromium.to_string_lossy().into_owned();
    let base = stage.server.base_url();
    let mut low = Vec::new();
    for (label, url, form) in [
        ("start-desktop", base.clone(), "desktop"),
        ("start-phone", base.clone(), "mobile"),
        ("invite-desktop", format!("{base}?room=Lighthouse-test1"), "desktop"),
        ("invite-phone", format!("{base}?room=Lighthouse-test1"), "mobile"),
    ] {
        let score = lighthouse(stage, &cli, &chromium, label, &url, form).await?;
        println!("lighthouse accessibility, {label} ({url}): {score:.0}");
        if score < MIN_LIGHTHOUSE_SCORE {
            low.push(format!("{label}: {score:.0}"));
        }
    }
    check(low.is_empty(), || format!("Lighthouse accessibility below {MIN_LIGHTHOUSE_SCORE}: {low:?}"))
}

/// One Lighthouse run (accessibility only) against `url`; its JSON report is kept in the artifacts.
async fn lighthouse(
    stage: &Stage,
    cli: &std::path::Path,
    chromium: &str,
    label: &str,
    url: &str,
    form_factor: &str,
) -> Result<f64> {
    let report = stage.artifacts_dir().join(format!("lighthouse-{label}.json"));
    let profile = tempfile::Builder::new().prefix("lighthouse-").tempdir().context("creating a profile dir")?;
    let flags = format!(
        "--headless=new --no-sandbox --disable-gpu --disable-background-networking --no-first-run --user-data-dir={}",
        profile.path().display()
    );
    let mut command = tokio::process::Command::new(cli);
    command
        .arg(url)
        .arg("--only-categories=accessibility")
        .arg("--output=json")
        .arg(format!("--output-path={}", report.display()))
        .arg(format!("--chrome-flags={flags}"))
        .arg(format!("--form-factor={form_factor}"))
        .arg("--quiet")
        .env("CHROME_PATH", chromium)
        .kill_on_drop(true);
    if form_factor == "desktop" {
        command.arg("--preset=desktop");
    }
    let status = tokio::time::timeout(Duration::from_secs(120), command.status())
        .await
        .map_err(|_| Failure::new(format!("lighthouse {label}: not done within 120 s")))?
        .context(format!("running {}", cli.display()))?;
    check(status.success(), || format!("lighthouse {label} exited with {status}"))?;
    let text = std::fs::read_to_string(&report).context(format!("reading {}", report.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).context(format!("parsing {}", report.display()))?;
    let score = json["categories"]["accessibility"]["score"]
        .as_f64()
        .ok_or_else(|| Failure::new(format!("{}: no accessibility score", report.display())))?;
    Ok(score * 100.0)
}
