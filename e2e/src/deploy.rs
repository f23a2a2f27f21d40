//! What the deployment tests (`tests/deploy.rs`) need beyond [`crate::Paths`]: the repository's
//! deployment files, the generated CSP snippet, and readers for the headers and logs they check.

use std::fmt;
use std::path::{Path, PathBuf};

/// The nginx snippet `cargo xtask web` generates (`target/web/connect-csp.conf`); the web image
/// copies it to `/etc/nginx/snippets/connect-csp.conf`.
pub const CSP_SNIPPET_VAR: &str = "CONNECT_CSP_SNIPPET";

/// Where the deployment files and the generated snippet are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployPaths {
    /// The repository root: `nginx/`, `turn/` and the compose files are read from here.
    pub repo: PathBuf,
    pub csp_snippet: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployPathsError {
    Unset,
    NotAFile(PathBuf),
}

impl fmt::Display for DeployPathsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = "run `cargo xtask test --only web,browser`, which writes it and sets the variable";
        match self {
            DeployPathsError::Unset => write!(f, "{CSP_SNIPPET_VAR} is not set; {how}"),
            DeployPathsError::NotAFile(path) => write!(f, "{CSP_SNIPPET_VAR}={} is not a file; {how}", path.display()),
        }
    }
}

impl std::error::Error for DeployPathsError {}

impl DeployPaths {
    pub fn from_env() -> Result<DeployPaths, DeployPathsError> {
        DeployPaths::from_lookup(|var| std::env::var_os(var).map(PathBuf::from).filter(|p| !p.as_os_str().is_empty()))
    }

    /// The repository is this crate's parent, fixed at compile time like xtask's workspace root.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<PathBuf>) -> Result<DeployPaths, DeployPathsError> {
        let csp_snippet = lookup(CSP_SNIPPET_VAR).ok_or(DeployPathsError::Unset)?;
        if !csp_snippet.is_file() {
            return Err(DeployPathsError::NotAFile(csp_snippet));
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("..")).to_path_buf();
        Ok(DeployPaths { repo, csp_snippet })
    }
}

/// The sources of one Content-Security-Policy directive (`script-src` → `['self', …]`).
pub fn csp_directive<'a>(policy: &'a str, name: &str) -> Option<Vec<&'a str>> {
    policy.split(';').find_map(|directive| {
        let mut words = directive.split_whitespace();
        words.next().filter(|n| n.eq_ignore_ascii_case(name)).map(|_| words.collect())
    })
}

/// The allowlist of one Permissions-Policy feature (`camera=(self)` → `(self)`).
pub fn permissions_policy<'a>(header: &'a str, feature: &str) -> Option<&'a str> {
    header.split(',').find_map(|item| {
        let (name, allowlist) = item.split_once('=')?;
        (name.trim() == feature).then(|| allowlist.trim())
    })
}

/// The first `/….ext` path the page references, e.g. trunk's hashed wasm or JS, as an absolute path.
pub fn asset_path(page: &str, ext: &str) -> Option<String> {
    let end = [format!("{ext}'"), format!("{ext}\"")].iter().filter_map(|quoted| page.find(quoted.as_str())).min()?
        + ext.len();
    let start = page[..end].rfind(['"', '\''])? + 1;
    let path = page[start..end].trim_start_matches("./");
    Some(if path.starts_with('/') { path.to_owned() } else { format!("/{path}") })
}

/// The peer ids the signaling server seated, in order, from its `joined … peer="…"` log lines.
pub fn joined_peers(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(" joined "))
        .filter_map(|line| {
            let (_, rest) = line.split_once("peer=\"")?;
            Some(rest.split('"').next()?.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippet_must_be_set_and_exist() {
        assert_eq!(DeployPaths::from_lookup(|_| None), Err(DeployPathsError::Unset));
        let missing = PathBuf::from("/nonexistent/connect-csp.conf");
        let lookup = |_: &str| Some(missing.clone());
        assert_eq!(DeployPaths::from_lookup(lookup), Err(DeployPathsError::NotAFile(missing.clone())));
        let cargo_toml = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let paths = DeployPaths::from_lookup(|_| Some(cargo_toml.clone())).expect("a file");
        assert!(paths.repo.join("nginx/nginx.conf").is_file(), "{}", paths.repo.display());
        assert!(DeployPathsError::Unset.to_string().contains("cargo xtask test"));
    }

    #[test]
    fn csp_directives_are_split_into_sources() {
        let policy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-a='; connect-src 'self'";
        assert_eq!(csp_directive(policy, "script-src"), Some(vec!["'self'", "'wasm-unsafe-eval'", "'sha256-a='"]));
        assert_eq!(csp_directive(policy, "connect-src"), Some(vec!["'self'"]));
        assert_eq!(csp_directive(policy, "img-src"), None);
    }

    #[test]
    fn permissions_policy_features() {
        let header = "camera=(self), microphone=(self), display-capture=(self), geolocation=()";
        assert_eq!(permissions_policy(header, "camera"), Some("(self)"));
        assert_eq!(permissions_policy(header, "display-capture"), Some("(self)"));
        assert_eq!(permissions_policy(header, "geolocation"), Some("()"));
        assert_eq!(permissions_policy(header, "usb"), None);
    }

    #[test]
    fn asset_paths_are_found_in_trunk_output() {
        let page = r#"<script type="module">import init from '/webclient-1a2b.js';
            init({ module_or_path: '/webclient-1a2b_bg.wasm' });</script>
            <link rel="preload" href="/webclient-1a2b_bg.wasm" as="fetch">"#;
        assert_eq!(asset_path(page, ".wasm").as_deref(), Some("/webclient-1a2b_bg.wasm"));
        assert_eq!(asset_path(page, ".js").as_deref(), Some("/webclient-1a2b.js"));
        assert_eq!(asset_path("<link href=\"x.css\">", ".css").as_deref(), Some("/x.css"));
        assert_eq!(asset_path("<p>no module</p>", ".wasm"), None);
    }

    #[test]
    fn joined_peers_come_from_the_session_log() {
        let log = "2026-11-21T09:18:27Z  INFO signaling: listening on 127.0.0.1:36771\n\
                   2026-11-21T09:18:30Z  INFO signaling::session: joined room=F peer=\"Pi7-AbA5\" resumed=false peers=0\n\
                   2026-11-21T09:18:35Z  INFO signaling::session: join refused room=F code=\"room_full\"\n\
                   2026-11-21T09:18:36Z  INFO signaling::session: joined room=F peer=\"9Kq_XuS\" resumed=false peers=1\n\
                   2026-11-21T09:18:49Z  INFO signaling::session: left room=F peer=\"9Kq_XuS\"\n";
        assert_eq!(joined_peers(log), ["Pi7-AbA5", "9Kq_XuS"]);
    }
}
