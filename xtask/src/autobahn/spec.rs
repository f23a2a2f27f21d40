//! The fuzzing client's spec file: which server to test, which cases, where the report goes.
//! Pure, so the case selection that CI relies on is pinned by a test.

use std::path::Path;

use serde_json::json;

/// Every case group the suite has…
pub const CASES: &[&str] = &["*"];
/// …but permessage-deflate (groups 12 and 13): the server does not implement compression, since
/// signaling messages are small, and those groups would take about 15 minutes.
pub const EXCLUDED: &[&str] = &["12.*", "13.*"];
/// The name the report files the results under.
pub const AGENT: &str = "connect-signaling";

/// The spec JSON for `wstest -m fuzzingclient -s FILE`, testing the server at `url` and writing
/// the report into `outdir`.
pub fn fuzzing_client_spec(url: &str, outdir: &Path) -> String {
    let spec = json!({
        "outdir": outdir.display().to_string(),
        "servers": [{ "agent": AGENT, "url": url }],
        "cases": CASES,
        "exclude-cases": EXCLUDED,
        "exclude-agent-cases": {},
    });
    // A `Value` built from strings and arrays always serializes.
    serde_json::to_string_pretty(&spec).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn spec_tests_one_server_on_every_group_but_compression() {
        let text = fuzzing_client_spec("ws://127.0.0.1:9001", Path::new("/r/reports"));
        let spec: Value = serde_json::from_str(&text).expect("the spec is JSON");
        assert_eq!(
            spec,
            json!({
                "outdir": "/r/reports",
                "servers": [{"agent": "connect-signaling", "url": "ws://127.0.0.1:9001"}],
                "cases": ["*"],
                "exclude-cases": ["12.*", "13.*"],
                "exclude-agent-cases": {},
            })
        );
    }
}
