//! A throwaway certificate authority and one server certificate for the page's name and the TURN
//! name, made with the `openssl` command line (no crate needed), laid out as docker-compose.tls.yml
//! expects them (`fullchain.pem`, `privkey.pem`). Chromium is told to trust them by the SHA-256
//! of their public keys (`--ignore-certificate-errors-spki-list`), which covers the page, its
//! WebSocket and TURN over TLS alike.

use std::path::{Path, PathBuf};

use super::run;
use crate::harness::{Context as _, Failure, Result};

pub struct TestCerts {
    pub dir: PathBuf,
    /// base64 SHA-256 of the CA's and the server's SubjectPublicKeyInfo, comma-separated.
    pub spki_list: String,
}

/// The extensions of the server certificate: both names, for TLS servers only.
pub fn server_extensions(names: &[&str]) -> String {
    let sans: Vec<String> = names.iter().map(|name| format!("DNS:{name}")).collect();
    format!("subjectAltName={}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n", sans.join(","))
}

impl TestCerts {
    /// A CA and a certificate for `names` (the first is the subject), valid for two days, in `dir`.
    pub fn generate(dir: &Path, names: &[&str]) -> Result<TestCerts> {
        std::fs::create_dir_all(dir).context(format!("creating {}", dir.display()))?;
        let at = |name: &str| dir.join(name).display().to_string();
        let subject = names.first().ok_or_else(|| Failure::new("a certificate needs a name"))?;
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        let mut ca = vec!["openssl", "req", "-x509"];
        ca.extend(ec);
        let (ca_key, ca_pem) = (at("ca.key"), at("ca.pem"));
        ca.extend(["-keyout", &ca_key, "-out", &ca_pem, "-days", "2", "-subj", "/CN=Connect NAT test CA"]);
        ca.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
        run(&ca)?;
        let (key, csr, leaf, ext) = (at("privkey.pem"), at("server.csr"), at("server.pem"), at("server.ext"));
        let cn = format!("/CN={subject}");
        let mut request = vec!["openssl", "req"];
        request.extend(ec);
        request.extend(["-keyout", &key, "-out", &csr, "-subj", &cn]);
        run(&request)?;
        std::fs::write(&ext, server_extensions(names)).context(format!("writing {ext}"))?;
        run(&[
            "openssl",
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &leaf,
            "-days",
            "2",
            "-extfile",
            &ext,
        ])?;
        let chain = format!(
            "{}{}",
            std::fs::read_to_string(&leaf).context("reading server.pem")?,
            std::fs::read_to_string(&ca_pem).context("reading ca.pem")?
        );
        std::fs::write(dir.join("fullchain.pem"), chain).context("writing fullchain.pem")?;
        let spki_list = [spki_hash(&ca_pem)?, spki_hash(&leaf)?].join(",");
        Ok(TestCerts { dir: dir.to_path_buf(), spki_list })
    }

    pub fn fullchain(&self) -> PathBuf {
        self.dir.join("fullchain.pem")
    }

    pub fn privkey(&self) -> PathBuf {
        self.dir.join("privkey.pem")
    }
}

/// base64(SHA-256(SubjectPublicKeyInfo DER)) of the certificate in `pem`.
fn spki_hash(pem: &str) -> Result<String> {
    let script = "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der \
                  | openssl dgst -sha256 -binary | base64";
    let output = std::process::Command::new("sh")
        .args(["-c", script, "sh", pem])
        .output()
        .context("hashing a public key with openssl")?;
    let hash = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    // 32 bytes in base64: 44 characters ending in one '='.
    if !output.status.success() || hash.len() != 44 {
        return Err(Failure::new(format!(
            "hashing the public key of {pem}: {} {hash:?} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_names_both_hosts_for_tls_servers_only() {
        assert_eq!(
            server_extensions(&["call.connect.test", "turn.connect.test"]),
            "subjectAltName=DNS:call.connect.test,DNS:turn.connect.test\nextendedKeyUsage=serverAuth\n\
             basicConstraints=critical,CA:FALSE\n"
        );
    }
}
