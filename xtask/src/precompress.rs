//! Stored encodings of the built client: `<file>.gz` (gzip -9) and `<file>.br` (brotli 11)
//! beside every text and wasm file of `dist/`, so `signaling --web-root` and nginx
//! (`gzip_static`) send compressed bytes chosen by `Accept-Encoding` without compressing per
//! request, at levels too slow to use per request.
//!
//! Compressing the wasm at brotli's best level takes about a second; the results are kept under
//! the target directory by content hash, so a build that changed nothing only copies them.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;

/// What gets stored encodings: text and wasm (the list of signaling's `http::mime::is_compressible`).
/// Images and fonts are compressed already.
const COMPRESSIBLE: &[&str] = &["html", "htm", "js", "mjs", "css", "wasm", "json", "map", "webmanifest", "svg", "txt"];

/// Where compressed results are kept between builds, relative to the target directory.
pub const CACHE: &str = "web/precompressed";

/// brotli's best quality and its default window (4 MiB; the wasm is ~250 KB).
const BROTLI_QUALITY: i32 = 11;
const BROTLI_WINDOW_BITS: i32 = 22;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Brotli,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::Gzip, Encoding::Brotli];

    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Gzip => "gz",
            Encoding::Brotli => "br",
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Gzip => {
                use std::io::Write as _;
                // The header's mtime stays 0, so the same input gives the same bytes.
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                // Writing into a Vec cannot fail.
                let _ = encoder.write_all(data);
                encoder.finish().unwrap_or_default()
            }
            Encoding::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: BROTLI_QUALITY,
                    lgwin: BROTLI_WINDOW_BITS,
                    size_hint: data.len(),
                    ..Default::default()
                };
                let mut out = Vec::new();
                let _ = brotli::BrotliCompress(&mut &data[..], &mut out, &params);
                out
            }
        }
    }
}

/// Whether a file of this name gets stored encodings.
pub fn is_compressible(name: &str) -> bool {
    let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    COMPRESSIBLE.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// One file's sizes: as it is, gzip, brotli (0 when that encoding was not stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub name: String,
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
}

/// Writes the stored encodings beside every compressible file directly in `dist` (trunk writes
/// no subdirectories) and returns their sizes. An encoding that would not be smaller is not
/// stored: the file is then sent as it is.
pub fn precompress(dist: &Path, cache: &Path) -> Result<Vec<Stored>, Error> {
    let entries = std::fs::read_dir(dist).map_err(|e| Error::io(format!("listing {}", dist.display()), e))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && is_compressible(name))
        .collect();
    names.sort();
    std::fs::create_dir_all(cache).map_err(|e| Error::io(format!("creating {}", cache.display()), e))?;
    names.into_iter().map(|name| store(dist, cache, name)).collect()
}

fn store(dist: &Path, cache: &Path, name: String) -> Result<Stored, Error> {
    let path = dist.join(&name);
    let data = std::fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let hash: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    let mut stored = Stored { name: name.clone(), raw: data.len() as u64, gzip: 0, brotli: 0 };
    for encoding in Encoding::ALL {
        let compressed = cached(&cache.join(format!("{hash}.{}", encoding.suffix())), || encoding.compress(&data))?;
        let target = variant_path(dist, &name, encoding);
        if compressed.len() >= data.len() {
            // A stale copy from an older build of the same name must not be served either.
            let _ = std::fs::remove_file(&target);
            continue;
        }
        std::fs::write(&target, &compressed).map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
        match encoding {
            Encoding::Gzip => stored.gzip = compressed.len() as u64,
            Encoding::Brotli => stored.brotli = compressed.len() as u64,
        }
    }
    Ok(stored)
}

/// `dist/<name>.gz` or `.br`.
pub fn variant_path(dist: &Path, name: &str, encoding: Encoding) -> PathBuf {
    dist.join(format!("{name}.{}", encoding.suffix()))
}

/// The bytes kept at `path`, or those `make` returns (then kept there).
fn cached(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, Error> {
    if let Ok(bytes) = std::fs::read(path) {
        return Ok(bytes);
    }
    let bytes = make();
    // Written aside and renamed, so an interrupted build never leaves a truncated entry.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, &bytes).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
    std::fs::rename(&partial, path).map_err(|e| Error::io(format!("renaming {}", partial.display()), e))?;
    Ok(bytes)
}

/// `precompressed: webclient_bg.wasm 243.2 KB → gzip 101.4, br 84.0; …`
pub fn describe(stored: &[Stored]) -> String {
    let kb = |bytes: u64| format!("{:.1}", bytes as f64 / 1024.0);
    let listed: Vec<String> = stored
        .iter()
        .map(|s| format!("{} {} KB → gzip {}, br {}", s.name, kb(s.raw), kb(s.gzip), kb(s.brotli)))
        .collect();
    format!("precompressed: {}", listed.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn text_and_wasm_only() {
        for name in ["index.html", "webclient-1a2b3c4d5e6f7890_bg.wasm", "a.JS", "style-00ff.css", "favicon.svg"] {
            assert!(is_compressible(name), "{name}");
        }
        for name in ["photo.png", "font.woff2", "index.html.gz", "x.br", "LICENSE"] {
            assert!(!is_compressible(name), "{name}");
        }
    }

    #[test]
    fn both_encodings_decode_to_the_original() {
        let data = "<p>Connect</p>\n".repeat(200).into_bytes();
        let gz = Encoding::Gzip.compress(&data);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut decoded).expect("valid gzip");
        assert_eq!(decoded, data);
        let br = Encoding::Brotli.compress(&data);
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut decoded).expect("valid brotli");
        assert_eq!(decoded, data);
        assert!(br.len() < data.len() / 10 && gz.len() < data.len() / 10);
        assert_eq!(Encoding::Gzip.compress(&data), gz, "deterministic");
    }

    #[test]
    fn stores_beside_each_file_and_reuses_the_cache() {
        let dir = tempfile_dir("precompress");
        let (dist, cache) = (dir.join("dist"), dir.join("cache"));
        std::fs::create_dir_all(&dist).expect("dist");
        let page = "<!doctype html><title>x</title>".repeat(50);
        std::fs::write(dist.join("index.html"), &page).expect("write");
        std::fs::write(dist.join("tiny.js"), "1").expect("write");
        std::fs::write(dist.join("logo.png"), "PNG").expect("write");
        std::fs::write(dist.join(".security-headers"), "X: y\n".repeat(50)).expect("write");
        let stored = precompress(&dist, &cache).expect("precompress");
        assert_eq!(stored.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["index.html", "tiny.js"]);
        assert!(dist.join("index.html.gz").is_file() && dist.join("index.html.br").is_file());
        assert!(!dist.join("tiny.js.gz").exists(), "not smaller: not stored");
        assert!(!dist.join("logo.png.gz").exists() && !dist.join(".security-headers.gz").exists());
        assert_eq!(stored[1], Stored { name: "tiny.js".into(), raw: 1, gzip: 0, brotli: 0 });

        // A second build of the same bytes takes them from the cache: poison the cache to prove it.
        let hash: String = Sha256::digest(page.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(cache.join(format!("{hash}.gz")), "cached").expect("write");
        precompress(&dist, &cache).expect("again");
        assert_eq!(std::fs::read(dist.join("index.html.gz")).expect("read"), b"cached");
        assert!(describe(&stored).starts_with("precompressed: index.html 1.5 KB → gzip "));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
