//! Which stored encoding of a static file to send: `Accept-Encoding` (RFC 9110 §12.5.3) against
//! the precompressed copies `cargo xtask web` writes beside each asset (`<name>.br`, `<name>.gz`).
//!
//! Pure: the header is read into a bounded list of (coding, q) and ranked here; the file server
//! then sends the first ranked coding it has on disk. Nothing is compressed per request.

/// A content coding this server can send from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

/// The server's preference among codings the client accepts equally: smallest first (brotli
/// is ~17 % smaller than gzip -9 on the client's wasm), and the file as it is last.
const PREFERENCE: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

/// Entries of `Accept-Encoding` read; the rest are ignored. Browsers send 3–5; a list this long
/// is not a browser, and reading it further would only cost time.
pub const MAX_ENTRIES: usize = 16;

/// q-values in thousandths (RFC 9110 §12.4.2 allows three decimals).
const Q_ONE: u16 = 1000;

impl Coding {
    /// The `Content-Encoding` value; `None` for the file as it is.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }

    /// What `cargo xtask web` appends to a file's name for this coding; `None` for identity.
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some(".br"),
            Coding::Gzip => Some(".gz"),
            Coding::Identity => None,
        }
    }

    /// Whether an `Accept-Encoding` token names this coding (case-insensitive; `x-gzip` is gzip,
    /// RFC 9110 §8.4.1.3).
    fn named_by(self, token: &str) -> bool {
        match self {
            Coding::Brotli => token.eq_ignore_ascii_case("br"),
            Coding::Gzip => token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip"),
            Coding::Identity => token.eq_ignore_ascii_case("identity"),
        }
    }
}

/// The suffixes of every stored coding: a request naming such a file directly is refused (see
/// `static_files`), so a compressed copy never goes out without `Content-Encoding`.
pub const STORED_SUFFIXES: [&str; 2] = [".br", ".gz"];

/// A parsed `Accept-Encoding`: (coding token, q in thousandths), at most [`MAX_ENTRIES`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcceptEncoding {
    entries: Vec<(String, u16)>,
}

impl AcceptEncoding {
    /// Reads every `Accept-Encoding` field value of a request (several fields form one list,
    /// RFC 9110 §5.3). An entry whose q-value is malformed is skipped, as if absent.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> AcceptEncoding {
        let mut entries = Vec::new();
        for value in values {
            let Ok(value) = std::str::from_utf8(value) else { continue };
            for element in value.split(',') {
                if entries.len() == MAX_ENTRIES {
                    return AcceptEncoding { entries };
                }
                if let Some(entry) = parse_element(element) {
                    entries.push(entry);
                }
            }
        }
        AcceptEncoding { entries }
    }

    /// The q-value this header gives `coding`: its own entry, else `*`; with neither, identity
    /// stays acceptable (q=1) and every other coding is not (RFC 9110 §12.5.3).
    fn q(&self, coding: Coding) -> u16 {
        let find = |pred: &dyn Fn(&str) -> bool| self.entries.iter().find(|(t, _)| pred(t)).map(|&(_, q)| q);
        find(&|t| coding.named_by(t)).or_else(|| find(&|t| t == "*")).unwrap_or(match coding {
            Coding::Identity => Q_ONE,
            _ => 0,
        })
    }
}

/// `token[;q=value][;other=params]` → (token, q); `None` for an empty element or a bad q.
fn parse_element(element: &str) -> Option<(String, u16)> {
    let mut parts = element.split(';');
    let token = parts.next()?.trim();
    if token.is_empty() {
        return None;
    }
    let mut q = Q_ONE;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_q(value.trim())?;
        }
    }
    Some((token.to_owned(), q))
}

/// RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths =
        fraction.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(Q_ONE),
        _ => None,
    }
}

/// The codings to try for a response, best first: those the client accepts (q > 0), by q, ties
/// in the server's [`PREFERENCE`]. Without an `Accept-Encoding` at all only identity: a client
/// that did not ask never gets a compressed body. Empty when even identity is refused
/// (`identity;q=0`, `*;q=0`): the caller then answers 406 unless a listed coding is on disk.
pub fn ranked(accept: Option<&AcceptEncoding>) -> Vec<Coding> {
    let Some(accept) = accept else { return vec![Coding::Identity] };
    let mut codings: Vec<(Coding, u16)> =
        PREFERENCE.iter().map(|&c| (c, accept.q(c))).filter(|&(_, q)| q > 0).collect();
    // Stable: equal q keeps PREFERENCE's order.
    codings.sort_by_key(|&(_, q)| std::cmp::Reverse(q));
    codings.into_iter().map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::{Brotli, Gzip, Identity};

    fn rank(header: &str) -> Vec<Coding> {
        ranked(Some(&AcceptEncoding::parse([header.as_bytes()])))
    }

    #[test]
    fn browsers_get_brotli_then_gzip_then_the_file() {
        assert_eq!(rank("gzip, deflate, br, zstd"), [Brotli, Gzip, Identity]);
        assert_eq!(rank("gzip, deflate"), [Gzip, Identity]);
        assert_eq!(rank("br"), [Brotli, Identity]);
    }

    #[test]
    fn no_header_means_the_file_as_it_is() {
        assert_eq!(ranked(None), [Identity]);
        assert_eq!(rank(""), [Identity], "an empty field accepts no coding");
        assert_eq!(rank("deflate, zstd"), [Identity]);
    }

    #[test]
    fn q_values_order_and_exclude() {
        assert_eq!(rank("br;q=0.5, gzip;q=0.8"), [Identity, Gzip, Brotli], "identity keeps q=1");
        assert_eq!(rank("br;q=0, gzip"), [Gzip, Identity]);
        assert_eq!(rank("gzip;q=1.000, br;q=0.999"), [Gzip, Identity, Brotli]);
        assert_eq!(rank("br, gzip, identity;q=0.1"), [Brotli, Gzip, Identity]);
        assert_eq!(rank("GZIP;Q=0.3, Br ; q=0.2 , identity;q=0.25"), [Gzip, Identity, Brotli]);
    }

    #[test]
    fn identity_can_be_refused() {
        assert_eq!(rank("gzip, identity;q=0"), [Gzip]);
        assert_eq!(rank("*;q=0"), Vec::<Coding>::new());
        assert_eq!(rank("br, *;q=0"), [Brotli]);
        assert_eq!(rank("identity;q=0"), Vec::<Coding>::new());
        assert_eq!(rank("*;q=0, identity"), [Identity], "the specific entry wins over *");
    }

    #[test]
    fn star_accepts_every_coding_not_listed() {
        assert_eq!(rank("*"), [Brotli, Gzip, Identity]);
        assert_eq!(rank("gzip;q=0, *"), [Brotli, Identity]);
        assert_eq!(rank("x-gzip"), [Gzip, Identity]);
    }

    #[test]
    fn malformed_q_values_drop_only_their_entry() {
        for bad in ["br;q=2", "br;q=1.5", "br;q=0.1234", "br;q=", "br;q=abc", "br;q=-1", "br;q", "br;q=.5"] {
            assert_eq!(rank(&format!("{bad}, gzip")), [Gzip, Identity], "{bad}");
        }
        assert_eq!(rank("br;level=3"), [Brotli, Identity], "other parameters are ignored");
        assert_eq!(rank(", ,br,,"), [Brotli, Identity]);
    }

    #[test]
    fn q_values_parse_to_thousandths() {
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("0.001"), Some(1));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1."), Some(1000));
        assert_eq!(parse_q("1.001"), None);
        assert_eq!(parse_q("01"), None);
    }

    #[test]
    fn several_fields_form_one_list_and_the_list_is_bounded() {
        let accept = AcceptEncoding::parse([&b"identity;q=0"[..], b"gzip"]);
        assert_eq!(ranked(Some(&accept)), [Gzip]);
        let long = format!("{}br", "x, ".repeat(MAX_ENTRIES));
        assert_eq!(rank(&long), [Identity], "entries past the bound are not read");
        assert_eq!(AcceptEncoding::parse([&b"\xff\xfe"[..]]), AcceptEncoding::default());
    }

    #[test]
    fn codings_name_their_headers_and_files() {
        assert_eq!(Brotli.content_encoding(), Some("br"));
        assert_eq!(Gzip.suffix(), Some(".gz"));
        assert_eq!(Identity.suffix(), None);
        assert_eq!(Identity.content_encoding(), None);
        assert!(STORED_SUFFIXES.iter().all(|s| [Brotli.suffix(), Gzip.suffix()].contains(&Some(s))));
    }
}
