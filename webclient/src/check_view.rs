//! The pre-call check page's DOM (with [`crate::ui`], the only code that touches the page): one
//! row per check with the contract's `data-check` and `data-result`, the camera preview and the
//! microphone's level meter.

use web_sys::{Document, HtmlElement, HtmlMeterElement, HtmlVideoElement, MediaStream};

use crate::browser::{element, window};
use crate::check::{hint, Outcome, Row};
use crate::error::WebError;

pub struct CheckView {
    document: Document,
    section: HtmlElement,
    rows: HtmlElement,
    video: HtmlVideoElement,
    meter: HtmlMeterElement,
    status: HtmlElement,
}

impl CheckView {
    pub fn new() -> Result<CheckView, WebError> {
        let document = window()?.document().ok_or_else(|| WebError::missing("document"))?;
        Ok(CheckView {
            section: element(&document, "check")?,
            rows: element(&document, "check-rows")?,
            video: element(&document, "check-video")?,
            meter: element(&document, "mic-level")?,
            status: element(&document, "status")?,
            document,
        })
    }

    /// Shows the page with every row `running`.
    pub fn show(&self) -> Result<(), WebError> {
        self.section.set_hidden(false);
        self.status.set_text_content(Some("Checking your connection…"));
        self.rows.set_inner_html("");
        for row in Row::ALL {
            let item = self.document.create_element("li")?;
            item.set_class_name("check-row");
            item.set_attribute("data-check", row.as_str())?;
            for (class, text) in [("check-name", row.label()), ("check-result", ""), ("check-hint", "")] {
                let span = self.document.create_element("span")?;
                span.set_class_name(class);
                span.set_text_content(Some(text));
                item.append_child(&span)?;
            }
            self.rows.append_child(&item)?;
            self.set(row, Outcome::Running, None, None);
        }
        Ok(())
    }

    /// A row's result, the time it took and, for a failure, what the browser said.
    pub fn set(&self, row: Row, outcome: Outcome, ms: Option<f64>, detail: Option<&str>) {
        let selector = format!("#check-rows [data-check=\"{}\"]", row.as_str());
        let Ok(Some(item)) = self.document.query_selector(&selector) else { return };
        let _ = item.set_attribute("data-result", outcome.as_str());
        match ms {
            Some(ms) => drop(item.set_attribute("data-ms", &(ms.round() as u64).to_string())),
            None => drop(item.remove_attribute("data-ms")),
        }
        let secs = ms.map(|ms| format!(" in {} s", seconds(ms))).unwrap_or_default();
        let result = match outcome {
            Outcome::Running => "Checking…".to_owned(),
            Outcome::Pass => format!("OK{secs}"),
            Outcome::Fail => format!("Failed{secs}"),
            Outcome::Skipped => "Skipped".to_owned(),
        };
        let text = match detail {
            Some(detail) => format!("{} ({detail})", hint(row, outcome)),
            None => hint(row, outcome).to_owned(),
        };
        let set_text = |class: &str, text: &str| {
            if let Ok(Some(span)) = item.query_selector(&format!(".{class}")) {
                span.set_text_content(Some(text));
            }
        };
        set_text("check-result", &result);
        set_text("check-hint", &text);
    }

    pub fn show_camera(&self, stream: &MediaStream) {
        self.video.set_src_object(Some(stream));
    }

    pub fn set_level(&self, level: f64) {
        self.meter.set_value(level);
    }

    /// The header's status once every row has a result.
    pub fn finished(&self, failures: usize) {
        let text = match failures {
            0 => "Connection check done: everything works.".to_owned(),
            1 => "Connection check done: 1 problem found.".to_owned(),
            n => format!("Connection check done: {n} problems found."),
        };
        self.status.set_text_content(Some(&text));
    }
}

/// Milliseconds as seconds with one decimal ("1.2"), formatted as integers: the bundle carries
/// no float formatting.
fn seconds(ms: f64) -> String {
    let tenths = (ms / 100.0).round() as u64;
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn seconds_have_one_rounded_decimal() {
        assert_eq!(seconds(0.0), "0.0");
        assert_eq!(seconds(1234.0), "1.2");
        assert_eq!(seconds(1250.0), "1.3");
        assert_eq!(seconds(59_960.0), "60.0");
    }
}
