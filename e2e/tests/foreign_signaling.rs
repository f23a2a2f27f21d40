//! A link carrying `?signaling=` for another server cannot send the call elsewhere: the page
//! ignores it (and says so), talks to its own server, and the link it offers to share has no
//! `signaling=` at all. The "stranger's server" is a loopback port where nothing listens: a page
//! that followed the parameter could never start the call.

// This short scenario uses a part of the harness; the rest is compiled for nothing here.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{check, connected_with_media, press_start_call, Result, Stage};

const STATE_LIMIT: Duration = Duration::from_secs(15);
const STRANGER: &str = "ws%3A%2F%2F127.0.0.1%3A1%2Fws";

#[tokio::test]
#[ignore = "needs Chromium and a built dist/: run by `cargo xtask test` (browser step)"]
async fn a_signaling_server_named_in_the_link_is_ignored_unless_it_is_the_pages_own() {
    let mut stage = Stage::start("foreign-signaling").await;
    let outcome = scenario(&mut stage).await;
    stage.finish(outcome).await;
}

async fn scenario(stage: &mut Stage) -> Result<()> {
    let a = stage.open_browser("a").await?;
    let b = stage.open_browser("b").await?;
    a.goto(&format!("{}/?signaling={STRANGER}", stage.server.base_url())).await?;
    press_start_call(&a, STATE_LIMIT).await?;
    a.wait_for_state("waiting", STATE_LIMIT).await?;
    let link = a.call_link(STATE_LIMIT).await?;
    check(!link.contains("signaling"), || format!("the link to share carries a signaling server: {link}"))?;
    let log = a.chat_log().await?;
    check(log.iter().any(|line| line.contains("Ignored the link's signaling server")), || {
        format!("A's page does not say it ignored the parameter; chat log: {log:?}")
    })?;
    // B opens a hostile variant of the link by hand: it too stays on the page's own server.
    b.goto(&format!("{link}&signaling={STRANGER}")).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    b.screenshot("b-connected-despite-foreign-signaling").await?;
    Ok(())
}
