//! The server's messages read with the browser's `JSON.parse` through shared's [`JsonView`]:
//! the protocol's names and shapes stay in `shared`, and the bundle carries no JSON parser of
//! its own (serde_json's deserializer was ~30 KB of the gzipped bundle).

use shared::{JsonView, ParseError, ServerMessage};
use wasm_bindgen::JsValue;

/// A value `JSON.parse` returned.
struct Js(JsValue);

impl JsonView for Js {
    fn member(&self, name: &str) -> Option<Self> {
        if !self.0.is_object() {
            return None;
        }
        let value = js_sys::Reflect::get(&self.0, &JsValue::from_str(name)).ok()?;
        // JSON has no `undefined`: an absent member.
        (!value.is_undefined()).then_some(Js(value))
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn is_null(&self) -> bool {
        self.0.is_null()
    }

    fn items(&self) -> Option<Vec<Self>> {
        self.0.is_array().then(|| js_sys::Array::from(&self.0).iter().map(Js).collect())
    }
}

/// Reads one text message from the server, as [`ServerMessage::parse`] would.
pub fn server_message(text: &str) -> Result<ServerMessage, ParseError> {
    let value = js_sys::JSON::parse(text).map_err(|_| ParseError::BadMessage("not JSON".into()))?;
    ServerMessage::read(&Js(value))
}
