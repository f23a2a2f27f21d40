//! What the call-screen scenarios need beyond the DOM contract: key presses as a person types
//! them (WebDriver actions, delivered to whatever has focus), the element that has focus, and
//! emulated media features (`prefers-color-scheme`, `prefers-reduced-motion`) through
//! chromedriver's DevTools bridge. A child of `browser` so it may use the session's private parts.

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use serde_json::json;

use super::{Browser, Cdp};
use crate::harness::{Context as _, Result};

impl Browser {
    /// Presses and releases `key` (a character, or a `fantoccini::key::Key` as char) on
    /// whatever has focus, as a keyboard would.
    pub async fn press_key(&self, key: char) -> Result<()> {
        let actions = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(actions).await.context(format!("{}: pressing {key:?}", self.name))
    }

    /// The `id` of the focused element; `""` for an element without one, `None` for the body.
    pub async fn focused_id(&self) -> Result<Option<String>> {
        let script = "const e = document.activeElement; \
            return !e || e === document.body ? null : (e.id || '');";
        Ok(self.js(script, vec![]).await?.as_str().map(str::to_owned))
    }

    /// Emulates a CSS media feature for this page, e.g. `("prefers-color-scheme", "dark")`.
    pub async fn emulate_media(&self, name: &str, value: &str) -> Result<()> {
        let command = Cdp {
            cmd: "Emulation.setEmulatedMedia",
            params: json!({ "features": [{ "name": name, "value": value }] }),
        };
        self.client.issue_cmd(command).await.context(format!("{}: emulating {name}: {value}", self.name))?;
        Ok(())
    }
}
