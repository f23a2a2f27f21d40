//! The page as the built-in server (`--web-root`) serves it is as safe as behind nginx:
//! - it carries the same Content-Security-Policy and security headers (generated with nginx's by
//!   `cargo xtask web`), and the call works under them;
//! - a link carrying `?signaling=` for another server cannot send the call elsewhere: the page
//!   ignores it (and says so), talks to its own server, and the link it offers to share has no
//!   `signaling=` at all. The "stranger's server" is a loopback port where nothing listens: a page
//!   that followed the parameter could never start the call.

// This short scenario uses a part of the harness; the rest is compiled for nothing here.
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use e2e::deploy::DeployPaths;
use harness::{check, connected_with_media, press_start_call, Browser, Context as _, Failure, Result, Stage};

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
    b.join_by_link(&format!("{link}&signaling={STRANGER}"), STATE_LIMIT).await?;
    connected_with_media(&[&a, &b], STATE_LIMIT).await?;
    b.screenshot("b-connected-despite-foreign-signaling").await?;
    let snippet_path = DeployPaths::from_env().map_err(|e| Failure::new(e.to_string()))?.csp_snippet;
    let snippet = std::fs::read_to_string(&snippet_path).context(format!("reading {}", snippet_path.display()))?;
    carries_the_security_headers(&a, &snippet).await
}

/// Every header line of nginx's generated snippet, as `fetch('/')` in the page sees it.
async fn carries_the_security_headers(page: &Browser, nginx_snippet: &str) -> Result<()> {
    let seen = page.js_async(JS_HEADERS).await?;
    for line in nginx_snippet.lines().filter(|l| l.starts_with("add_header ")) {
        let rest = line.trim_start_matches("add_header ");
        let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
        let value = value.trim_end_matches(" always;").trim_matches('"');
        let got = seen.get(name.to_ascii_lowercase()).and_then(|v| v.as_str()).unwrap_or_default();
        check(got == value, || format!("{name}: nginx sends {value:?}, the built-in server {got:?}"))?;
    }
    Ok(())
}

const JS_HEADERS: &str = r#"
const done = arguments[arguments.length - 1];
fetch('/', { cache: 'no-store' })
  .then(r => done(Object.fromEntries(r.headers.entries())))
  .catch(e => done({ error: String(e) }));
"#;
