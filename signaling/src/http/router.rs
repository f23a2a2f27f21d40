//! Where a request goes: a pure decision from the request head and the configuration.

use super::config::HttpConfig;
use crate::http1::request::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A WebSocket upgrade on the WebSocket path: run the opening handshake.
    Upgrade,
    Health,
    Metrics,
    StaticFile,
    /// The WebSocket path without an upgrade (→ 426).
    UpgradeRequired,
    NotFound,
    /// Anything but GET and HEAD outside the handshake (→ 405).
    MethodNotAllowed,
}

pub fn route(request: &Request, config: &HttpConfig) -> Route {
    let path = request.path();
    let on_ws_path = config.ws_path.as_deref().is_none_or(|p| p == path);
    if request.has_token("Upgrade", "websocket") {
        // The handshake validator answers a non-GET upgrade with 405 itself.
        return if on_ws_path { Route::Upgrade } else { Route::NotFound };
    }
    if request.method != "GET" && request.method != "HEAD" {
        return Route::MethodNotAllowed;
    }
    match path {
        "/healthz" => Route::Health,
        "/metrics" => Route::Metrics,
        _ if config.ws_path.as_deref() == Some(path) => Route::UpgradeRequired,
        _ if config.ws_path.is_none() => Route::UpgradeRequired,
        _ if config.web_root.is_some() => Route::StaticFile,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, upgrade: bool) -> Request {
        let extra = if upgrade { "Upgrade: websocket\r\nConnection: Upgrade\r\n" } else { "" };
        let raw = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        Request::parse(raw.as_bytes(), 8192).unwrap().unwrap().0
    }

    #[test]
    fn routes() {
        let config = HttpConfig::default();
        assert_eq!(route(&req("GET", "/ws", true), &config), Route::Upgrade);
        assert_eq!(route(&req("GET", "/ws?room=a", true), &config), Route::Upgrade);
        assert_eq!(route(&req("POST", "/ws", true), &config), Route::Upgrade);
        assert_eq!(route(&req("GET", "/other", true), &config), Route::NotFound);
        assert_eq!(route(&req("GET", "/ws", false), &config), Route::UpgradeRequired);
        assert_eq!(route(&req("GET", "/healthz", false), &config), Route::Health);
        assert_eq!(route(&req("HEAD", "/healthz", false), &config), Route::Health);
        assert_eq!(route(&req("GET", "/metrics", false), &config), Route::Metrics);
        assert_eq!(route(&req("GET", "/index.html", false), &config), Route::NotFound);
        assert_eq!(route(&req("DELETE", "/healthz", false), &config), Route::MethodNotAllowed);
        assert_eq!(route(&req("POST", "/", false), &config), Route::MethodNotAllowed);
    }

    #[test]
    fn echo_mode_upgrades_any_path() {
        let config = HttpConfig { ws_path: None, ..HttpConfig::default() };
        assert_eq!(route(&req("GET", "/anything", true), &config), Route::Upgrade);
        assert_eq!(route(&req("GET", "/healthz", false), &config), Route::Health);
        assert_eq!(route(&req("GET", "/anything", false), &config), Route::UpgradeRequired);
    }
}
