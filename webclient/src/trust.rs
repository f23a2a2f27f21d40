//! The browser side of the verification code and privacy mode: the stats records they need
//! from `getStats()`, SHA-256 by `crypto.subtle`, the remembered setting (`localStorage`) and the
//! ICE policy change of a running call. The decisions live in [`crate::verify`] and
//! [`crate::privacy`].

use web_sys::{RtcIceTransportPolicy, RtcPeerConnection};

use crate::browser::{get_string, wait, window};
use crate::error::WebError;
use crate::verify::Record;

/// The transport, certificate, pair and local-candidate entries of a `getStats()` report.
pub fn records(report: &js_sys::Map) -> Vec<Record> {
    let mut records = Vec::new();
    report.for_each(&mut |value, _key| {
        if let Some(record) = read(&value) {
            records.push(record);
        }
    });
    records
}

fn read(value: &wasm_bindgen::JsValue) -> Option<Record> {
    let field = |key| get_string(value, key);
    Some(match field("type")?.as_str() {
        "transport" => Record::Transport {
            local_certificate: field("localCertificateId"),
            remote_certificate: field("remoteCertificateId"),
            selected_pair: field("selectedCandidatePairId"),
            dtls_state: field("dtlsState"),
        },
        "certificate" => Record::Certificate {
            id: field("id")?,
            algorithm: field("fingerprintAlgorithm")?,
            fingerprint: field("fingerprint")?,
        },
        "candidate-pair" => Record::Pair { id: field("id")?, local: field("localCandidateId")? },
        "local-candidate" => Record::LocalCandidate { id: field("id")?, kind: field("candidateType")? },
        _ => return None,
    })
}

/// SHA-256 of `bytes` by the browser (`crypto.subtle.digest`).
pub async fn sha256(bytes: &[u8]) -> Result<[u8; 32], WebError> {
    let subtle = window()?.crypto()?.subtle();
    let digest = wait(subtle.digest_with_str_and_u8_array("SHA-256", bytes)?).await?;
    let digest = js_sys::Uint8Array::new(&digest).to_vec();
    digest.try_into().map_err(|_| WebError::new("OperationError", "SHA-256 gave a digest of the wrong length"))
}

fn local_storage() -> Option<web_sys::Storage> {
    window().ok()?.local_storage().ok().flatten()
}

/// A setting remembered across visits (`localStorage`), if storage is allowed.
pub fn remembered(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

pub fn remember(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

/// Changes a running connection's ICE policy (`setConfiguration`); the caller then restarts
/// ICE so the new policy's candidates replace the old ones.
pub fn set_relay_only(pc: &RtcPeerConnection, relay_only: bool) -> Result<(), WebError> {
    let config = pc.get_configuration();
    config.set_ice_transport_policy(if relay_only { RtcIceTransportPolicy::Relay } else { RtcIceTransportPolicy::All });
    pc.set_configuration_with_configuration(&config)?;
    Ok(())
}
