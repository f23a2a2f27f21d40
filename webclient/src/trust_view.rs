//! The page's verification code and privacy-mode setting: the DOM side of [`crate::verify`] and
//! [`crate::privacy`], kept apart from [`crate::ui`] so each stays small. The code's element
//! (`#verification-code`) exists only while a code is shown, so "present" means "connected and
//! verified against this connection's certificates".

use web_sys::{Document, HtmlElement, HtmlInputElement};

use crate::browser::{element, window};
use crate::diagnosis::Gathered;
use crate::error::WebError;
use crate::privacy::Availability;

pub const CODE_ID: &str = "verification-code";

pub struct TrustView {
    document: Document,
    panel: HtmlElement,
    slot: HtmlElement,
    checkbox: HtmlInputElement,
    note: HtmlElement,
    stats: HtmlElement,
}

impl TrustView {
    pub fn new() -> Result<TrustView, WebError> {
        let document = window()?.document().ok_or_else(|| WebError::missing("document"))?;
        Ok(TrustView {
            panel: element(&document, "verification")?,
            slot: element(&document, "verification-slot")?,
            checkbox: element(&document, "privacy-mode")?,
            note: element(&document, "privacy-note")?,
            stats: element(&document, "call-stats")?,
            document,
        })
    }

    /// Shows `code`, or removes the code's element when there is none (not connected).
    pub fn show_code(&self, code: Option<&str>) {
        let current = self.document.get_element_by_id(CODE_ID);
        match (code, current) {
            (None, Some(old)) => old.remove(),
            (None, None) => {}
            (Some(code), Some(old)) => old.set_text_content(Some(code)),
            (Some(code), None) => {
                if let Ok(new) = self.document.create_element("strong") {
                    new.set_id(CODE_ID);
                    new.set_class_name("code");
                    new.set_text_content(Some(code));
                    let _ = self.slot.append_child(&new);
                }
            }
        }
        self.panel.set_hidden(code.is_none());
        if code.is_none() {
            // No code, no source: the evidence must not outlive the call it was about.
            let _ = self.panel.remove_attribute("data-code-source");
        }
    }

    /// For tests and support, on `#verification` (kept while the panel is hidden): where the
    /// code's two fingerprints came from (`data-code-source`, absent without a code), why there
    /// is no code (`data-code-wait`, absent with one) and what the stats named
    /// (`data-code-stats`). Returns whether anything changed, so the page logs changes only.
    pub fn set_code_evidence(&self, source: Option<&str>, wait: Option<&str>, stats: &str) -> bool {
        let mut changed = false;
        for (name, value) in [("data-code-source", source), ("data-code-wait", wait), ("data-code-stats", Some(stats))]
        {
            if self.panel.get_attribute(name).as_deref() == value {
                continue;
            }
            changed = true;
            let _ = match value {
                Some(value) => self.panel.set_attribute(name, value),
                None => self.panel.remove_attribute(name),
            };
        }
        changed
    }

    /// Whether the person asked for privacy mode (the checkbox as they left it).
    pub fn privacy_wanted(&self) -> bool {
        self.checkbox.checked()
    }

    /// The checkbox: checked as remembered, disabled with the reason when the server has no relay.
    pub fn set_privacy(&self, wanted: bool, availability: Availability) {
        let reason = availability.reason();
        self.checkbox.set_disabled(reason.is_some());
        self.checkbox.set_checked(wanted && reason.is_none());
        self.note.set_text_content(reason);
        self.note.set_hidden(reason.is_none());
    }

    /// For tests and support: the type of the selected local candidate and the types of the
    /// candidates the other side sent, on `#call-stats`.
    pub fn set_candidates(&self, local: Option<&str>, remote: &Gathered) {
        match local {
            Some(kind) => drop(self.stats.set_attribute("data-local-candidate", kind)),
            None => drop(self.stats.remove_attribute("data-local-candidate")),
        }
        let remote = format!("host:{} srflx:{} relay:{}", remote.host, remote.srflx, remote.relay);
        let _ = self.stats.set_attribute("data-remote-candidates", &remote);
    }
}
