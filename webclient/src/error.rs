//! Errors from the browser, typed: a rejected promise or a thrown exception becomes a
//! [`WebError`] carrying the DOMException name (`NotAllowedError`, …) the app decides on.

use wasm_bindgen::{JsCast, JsValue};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebError {
    /// `DOMException.name` / `Error.name`, e.g. `NotAllowedError`, or `"Error"` if unknown.
    pub name: String,
    pub message: String,
}

impl WebError {
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        WebError { name: name.to_owned(), message: message.into() }
    }

    /// The API this build needs is missing from the browser.
    pub fn missing(what: &str) -> Self {
        WebError::new("NotSupportedError", format!("this browser has no {what}"))
    }

    /// The person (or the browser's policy) refused permission.
    pub fn is_denied(&self) -> bool {
        matches!(self.name.as_str(), "NotAllowedError" | "SecurityError" | "PermissionDeniedError")
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl From<JsValue> for WebError {
    fn from(value: JsValue) -> Self {
        match value.dyn_ref::<js_sys::Error>() {
            Some(error) => WebError { name: error.name().into(), message: error.message().into() },
            None => {
                WebError { name: "Error".into(), message: value.as_string().unwrap_or_else(|| format!("{value:?}")) }
            }
        }
    }
}
