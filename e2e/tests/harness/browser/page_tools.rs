//! Tools any browser test may use on a page: a script run before the page's own (Chromium's
//! DevTools protocol through chromedriver), and an axe-core accessibility audit. A child of
//! `browser` so it may use the session's private parts.

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{json, Value};

use super::Browser;
use crate::harness::{Context as _, Failure, Result};

/// The environment variable naming axe-core's `axe.min.js` (the `browser` step sets it to the
/// pinned copy `cargo xtask` installs under the target directory).
pub const AXE_ENV: &str = "CONNECT_AXE";

/// One axe-core rule the page breaks, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The rule, e.g. `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    pub help: String,
    /// A CSS selector of each element that breaks it.
    pub targets: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {} at {}", self.id, self.impact, self.help, self.targets.join(", "))
    }
}

/// Whether axe is loaded in this document.
const JS_HAS_AXE: &str = "return typeof window.axe === 'object';";

/// Runs axe on the document and returns `{violations:[…]}` or `{error}`.
const JS_AXE: &str = r#"
const done = arguments[arguments.length - 1];
try {
  window.axe.run(document, { resultTypes: ['violations'] })
    .then(r => done({ violations: r.violations.map(v => ({
      id: v.id, impact: v.impact || '', help: v.help,
      targets: v.nodes.map(n => n.target.join(' ')) })) }))
    .catch(e => done({ error: String(e) }));
} catch (e) { done({ error: String(e) }); }
"#;

impl Browser {
    /// Makes Chromium run `source` in every document this session opens from now on, before the
    /// page's own scripts (DevTools `Page.addScriptToEvaluateOnNewDocument`). For tests that
    /// take something away from the browser (`delete window.WebAssembly`) or slow it down.
    pub async fn run_before_load(&self, source: &str) -> Result<()> {
        let command = Cdp { cmd: "Page.addScriptToEvaluateOnNewDocument", params: json!({ "source": source }) };
        self.client.issue_cmd(command).await.context(format!("{}: adding a script before load", self.name))?;
        Ok(())
    }

    /// axe-core's violations of the page as it is now (every rule axe runs by default: WCAG 2.x
    /// A and AA and best practices). axe comes from the file named by [`AXE_ENV`].
    pub async fn axe_violations(&self) -> Result<Vec<Violation>> {
        let path = std::env::var_os(AXE_ENV)
            .ok_or_else(|| Failure::new(format!("{AXE_ENV} is not set: run through `cargo xtask test`")))?;
        if self.js(JS_HAS_AXE, vec![]).await? != Value::Bool(true) {
            // The library's own text as a WebDriver script: it runs as the browser's, so the
            // page's CSP (no inline script, no eval) does not stop it; it sets `window.axe`.
            let axe = std::fs::read_to_string(&path).context(format!("reading {}", path.to_string_lossy()))?;
            self.js(&axe, vec![]).await?;
        }
        let result = self.client.execute_async(JS_AXE, vec![]).await.context(format!("{}: running axe", self.name))?;
        if let Some(error) = result.get("error") {
            return Err(Failure::new(format!("{}: axe failed: {error}", self.name)));
        }
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let violations = result.get("violations").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(violations
            .iter()
            .map(|v| Violation {
                id: text(v, "id"),
                impact: text(v, "impact"),
                help: text(v, "help"),
                targets: v
                    .get("targets")
                    .and_then(Value::as_array)
                    .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one DevTools protocol command (not
/// part of W3C WebDriver, so not in fantoccini).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}
