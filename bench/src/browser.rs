//! What a person waits for: the e2e browser call (link opened → first decoded remote frame,
//! printed by the e2e test), run as the xtask `browser` step runs it, inside a loopback-only
//! network namespace; and the size of the bundle the browser downloads.
//!
//! The e2e harness is test code, not a library, so it is reused as a whole: `cargo test -p e2e`
//! filtered to the call test, and its printed `link opened → first remote frame: N ms` line read.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{BenchError, Result};
use crate::results::Bundle;

/// The test that prints the line; a substring filter, as `cargo test` takes it.
pub const CALL_TEST: &str = "two_people_call";
const LINE: &str = "link opened → first remote frame:";
/// One call takes ~25 s; this bounds a hung browser.
const RUN_LIMIT_SECS: u32 = 300;

pub struct BrowserRun {
    pub root: PathBuf,
    pub dist: PathBuf,
    pub signaling: PathBuf,
    pub artifacts: PathBuf,
    /// `taskset -c` list of every online CPU: the generator is pinned, the browsers must not be.
    pub cpus: String,
}

impl BrowserRun {
    /// One call; returns the milliseconds the test printed.
    pub fn once(&self, index: usize) -> Result<u64> {
        let artifacts = self.artifacts.join(format!("run-{index}"));
        let _ = std::fs::remove_dir_all(&artifacts);
        std::fs::create_dir_all(&artifacts)
            .map_err(|e| BenchError::io(format!("creating {}", artifacts.display()), e))?;
        let mut command = Command::new("timeout");
        command
            .arg(RUN_LIMIT_SECS.to_string())
            .args(["taskset", "-c", &self.cpus])
            .args(["unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"])
            .args(["cargo", "test", "--offline", "-p", "e2e", "--test", "call", "--", "--ignored", CALL_TEST])
            .args(["--nocapture", "--test-threads=1"])
            .current_dir(&self.root)
            .env("CONNECT_DIST", &self.dist)
            .env("CONNECT_SIGNALING_BIN", &self.signaling)
            .env("CONNECT_ARTIFACTS", &artifacts)
            .stdin(Stdio::null());
        let output = command.output().map_err(|e| BenchError::io("starting the browser test", e))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let log = artifacts.join("cargo-test.log");
        let mut text = stdout.clone().into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let _ = std::fs::write(&log, &text);
        if !output.status.success() {
            return Err(BenchError::Browser(format!(
                "the e2e call test failed ({}); its output: {}",
                output.status,
                log.display()
            )));
        }
        first_frame_ms(&stdout)
            .ok_or_else(|| BenchError::Browser(format!("no `{LINE} N ms` line in the e2e output ({})", log.display())))
    }
}

/// N from the `link opened → first remote frame: N ms` line.
pub fn first_frame_ms(output: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        let (_, rest) = line.split_once(LINE)?;
        rest.trim().strip_suffix("ms")?.trim().parse().ok()
    })
}

/// Raw and gzip -9 sizes of the `.wasm` and `.js` files in `dist`.
pub fn bundle(dist: &Path) -> Result<Bundle> {
    let entries = std::fs::read_dir(dist).map_err(|e| BenchError::io(format!("listing {}", dist.display()), e))?;
    let mut bundle = Bundle::default();
    for entry in entries.flatten() {
        let path = entry.path();
        let slot = match path.extension().and_then(|e| e.to_str()) {
            Some("wasm") => &mut bundle.wasm,
            Some("js") => &mut bundle.js,
            _ => continue,
        };
        let bytes = std::fs::read(&path).map_err(|e| BenchError::io(format!("reading {}", path.display()), e))?;
        slot.0 += bytes.len() as u64;
        slot.1 += gzip_len(&bytes)?;
    }
    if bundle.wasm.0 == 0 {
        return Err(BenchError::Browser(format!("no .wasm in {}: build it with `cargo xtask web`", dist.display())));
    }
    Ok(bundle)
}

/// Bytes of `data` after `gzip -9`.
pub fn gzip_len(data: &[u8]) -> Result<u64> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).map_err(|e| BenchError::io("gzip", e))?;
    let compressed = encoder.finish().map_err(|e| BenchError::io("gzip", e))?;
    Ok(compressed.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_e2e_line_is_found() {
        let output = "[   3.1 s] A started a call\nlink opened → first remote frame: 832 ms\n[ 4.0 s] next";
        assert_eq!(first_frame_ms(output), Some(832));
        assert_eq!(first_frame_ms("nothing here"), None);
        assert_eq!(first_frame_ms("link opened → first remote frame: soon"), None);
    }

    #[test]
    fn gzip_shrinks_repetitive_data() {
        let data = vec![b'a'; 100_000];
        let len = gzip_len(&data).unwrap();
        assert!(len > 0 && len < 1_000, "{len}");
    }

    #[test]
    fn bundle_counts_wasm_and_js_only() {
        let dir = std::env::temp_dir().join(format!("bench-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app_bg.wasm"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.join("app.js"), "export const a = 1;\n".repeat(10)).unwrap();
        std::fs::write(dir.join("index.html"), "<html>").unwrap();
        let bundle = bundle(&dir).unwrap();
        assert_eq!(bundle.wasm.0, 1000);
        assert_eq!(bundle.js.0, 200);
        assert!(bundle.gzip_total() < bundle.raw_total());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
