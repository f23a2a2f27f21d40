//! An axe-core accessibility audit any browser test may run on a page (scripts run before the
//! page's own are `Browser::before_page_scripts`). A child of `browser` so it may use the
//! session's private parts.

use serde_json::Value;

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
