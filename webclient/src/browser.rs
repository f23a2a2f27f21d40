//! Small wrappers over window APIs the app uses in several places: timers, random bytes,
//! session storage and the URL. Each returns a typed error instead of throwing.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::WebError;

pub fn window() -> Result<web_sys::Window, WebError> {
    web_sys::window().ok_or_else(|| WebError::missing("window"))
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Ok(window) = window() {
            let ms = i32::try_from(ms).unwrap_or(i32::MAX);
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Random bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], WebError> {
    let mut bytes = [0u8; N];
    window()?.crypto()?.get_random_values_with_u8_array(&mut bytes)?;
    Ok(bytes)
}

/// A number in `[0, 1)` for jitter (not for secrets).
pub fn random_fraction() -> f64 {
    js_sys::Math::random()
}

fn session_storage() -> Option<web_sys::Storage> {
    window().ok()?.session_storage().ok().flatten()
}

/// Per-tab storage that survives a reload: where the resume token is kept.
pub fn stored(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok().flatten()
}

pub fn store(key: &str, value: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(key, value);
    }
}

pub fn forget(key: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

/// `location.search`, `location.protocol`, `location.host`, `origin + pathname`.
pub struct Location {
    pub search: String,
    pub protocol: String,
    pub host: String,
    pub base: String,
}

pub fn location() -> Result<Location, WebError> {
    let location = window()?.location();
    Ok(Location {
        search: location.search()?,
        protocol: location.protocol()?,
        host: location.host()?,
        base: format!("{}{}", location.origin()?, location.pathname()?),
    })
}

/// Changes the address bar to `url` without reloading: the room link becomes the page's URL.
pub fn push_url(url: &str) -> Result<(), WebError> {
    window()?.history()?.push_state_with_url(&JsValue::NULL, "", Some(url))?;
    Ok(())
}

/// Awaits a promise, typing its rejection.
pub async fn wait(promise: js_sys::Promise) -> Result<JsValue, WebError> {
    JsFuture::from(promise).await.map_err(WebError::from)
}

/// Reads a property of a JS object (stats entries, descriptions) without a typed binding.
pub fn get(object: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(object, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

pub fn get_string(object: &JsValue, key: &str) -> Option<String> {
    get(object, key)?.as_string()
}

pub fn get_f64(object: &JsValue, key: &str) -> Option<f64> {
    get(object, key)?.as_f64()
}

pub fn get_bool(object: &JsValue, key: &str) -> Option<bool> {
    get(object, key)?.as_bool()
}

pub fn log(message: &str) {
    web_sys::console::log_1(&JsValue::from_str(message));
}

/// Casts an element found by id, or reports which one is missing from the page.
pub fn element<T: JsCast>(document: &web_sys::Document, id: &str) -> Result<T, WebError> {
    document
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<T>().ok())
        .ok_or_else(|| WebError::new("NotFoundError", format!("the page has no #{id}")))
}
