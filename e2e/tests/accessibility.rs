//! Accessibility audits at desktop and phone size: axe-core in the page on every screen of a
//! call (landing, waiting, pre-join, connected on both sides, the Invite panel open, a shared
//! screen on both sides, ended), which must report no violation, and Lighthouse's
//! accessibility score of `/` and `/?room=…`, which must be [`MIN_LIGHTHOUSE_SCORE`]. Both
//! tools are pinned npm packages `cargo xtask` installs (xtask/src/audit.rs).

// This scenario uses a part of the harness; the rest is compiled for nothing here.
#[allow(dead_code)]
mod harness;

use std::path::PathBuf;
use std::time::Duration;

use harness::browser::page_tools::Violation;
use harness::{check, poll, press_start_call, Browser, Context as _, Failure, Probe, Result, Stage};

const STATE_LIMIT: Duration = Duration::from_secs(15);

/// Lighthouse accessibility, 0–100: the target.
const MIN_LIGHTHOUSE_SCORE: f64 = 100.0;

#[tokio::test]
#[ignore = "needs Chromium, axe-core and a built dist/: run by `cargo xtask test` (browser step)"]
async fn axe_finds_no_violation_on_any_screen_of_a_call() {
    let mut stage = Stage::start("accessibility-axe").await;
    let outcome = axe_scenario(&mut stage).await;
    stage.finish(outcome).await;
}

async fn axe_scenario(stage: &mut Stage) -> Result<()> {
    let mut found = Vec::new();
    // Each size starts a call and the other joins it: every screen is audited at both sizes.
    let desktop = stage.open_browser("desktop").await?;
    let phone = stage.open_phone("phone").await?;
    for (starter, joiner) in [(&desktop, &phone), (&phone, &desktop)] {
        starter.goto(&stage.server.base_url()).await?;
        starter.wait_for_state("idle", STATE_LIMIT).await?;
        found.extend(audit(starter, "landing").await?);
        press_start_call(starter, STATE_LIMIT).await?;
        starter.wait_for_state("waiting", STATE_LIMIT).await?;
        found.extend(audit(starter, "waiting").await?);
        let link = starter.call_link(STATE_LIMIT).await?;
        joiner.goto(&link).await?;
        joiner.wait_for_state("prejoin", STATE_LIMIT).await?;
        found.extend(audit(joiner, "prejoin").await?);
        joiner.press_join(STATE_LIMIT).await?;
        for page in [starter, joiner] {
            page.wait_for_state("connected", STATE_LIMIT).await?;
        }
        found.extend(audit(starter, "connected").await?);
        found.extend(audit(joiner, "connected").await?);
        found.extend(call_panels(starter, joiner).await?);
        starter.click("hang-up").await?;
        starter.wait_for_state("ended", STATE_LIMIT).await?;
        found.extend(audit(starter, "ended").await?);
        joiner.wait_for_state("peer-left", STATE_LIMIT).await?;
        found.extend(audit(joiner, "peer-left").await?);
    }
    check(found.is_empty(), || format!("axe violations: {found:#?}"))
}

/// The call screen's panels and notes beyond the plain call: the Invite panel open (its
/// link, Copy, QR code), and a shared screen said on both tiles.
async fn call_panels(starter: &Browser, joiner: &Browser) -> Result<Vec<String>> {
    let mut found = Vec::new();
    starter.click("invite-button").await?;
    starter.wait_for_attr("invite-button", "aria-expanded", "true", STATE_LIMIT).await?;
    found.extend(audit(starter, "invite-open").await?);
    starter.click("invite-button").await?;
    starter.wait_for_attr("invite-button", "aria-expanded", "false", STATE_LIMIT).await?;

    joiner.click("share-screen").await?;
    joiner.wait_for_attr("share-screen", "aria-pressed", "true", STATE_LIMIT).await?;
    let what = format!("{}: the other person shares their screen", starter.name());
    poll(&what, STATE_LIMIT, Duration::from_millis(100), || async {
        let sharing = starter.attr_of_body("data-peer-screen").await?;
        Ok(if sharing.as_deref() == Some("true") { Probe::Ready(()) } else { Probe::NotYet(format!("{sharing:?}")) })
    })
    .await?;
    found.extend(audit(starter, "peer-sharing").await?);
    found.extend(audit(joiner, "sharing").await?);
    joiner.click("share-screen").await?;
    joiner.wait_for_attr("share-screen", "aria-pressed", "false", STATE_LIMIT).await?;
    Ok(found)
}

/// Runs axe, prints what it found, saves a screenshot; returns the violations.
async fn audit(page: &Browser, screen: &str) -> Result<Vec<String>> {
    let violations: Vec<Violation> = page.axe_violations().await?;
    println!("axe, {} {screen}: {} violation(s)", page.name(), violations.len());
    for v in &violations {
        println!("    {v}");
    }
    page.screenshot(&format!("{}-{screen}", page.name())).await?;
    Ok(violations.iter().map(|v| format!("{} {screen}: {v}", page.name())).collect())
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
