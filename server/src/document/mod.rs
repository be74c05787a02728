//! Documents people write — suites, workflow definitions — in YAML or JSON, parsed
//! strictly and reported by position: every problem names its path
//! (`tests[1].workload.clientz`), line and column, so an editor can underline it and a
//! person can find it.
//!
//! [`parse`] reads a document into any serde type whose structs refuse unknown keys (the
//! first problem stops it); [`DocumentErrors::locate`] gives problems found afterwards
//! (by checks that know only paths) their line and column from the text.

mod locate;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One problem with a specification, pointing at where it is.
///
/// `path` uses `.` between keys and `[i]` for list items (`tests[1].workload.duration`);
/// a key that itself contains dots (a matrix axis, a `settings` name) appears verbatim
/// (`matrix.axes.database.version[1]`). Empty means the document as a whole. `line` and
/// `column` are 1-based and known when the source text is at hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct DocumentError {
    pub path: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl DocumentError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        DocumentError {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let position = match (self.line, self.column) {
            (Some(line), Some(column)) => Some(format!("line {line}, column {column}")),
            (Some(line), None) => Some(format!("line {line}")),
            _ => None,
        };
        match (self.path.is_empty(), position) {
            (false, Some(pos)) => write!(f, "at {} ({pos}): {}", self.path, self.message),
            (false, None) => write!(f, "at {}: {}", self.path, self.message),
            (true, Some(pos)) => write!(f, "{pos}: {}", self.message),
            (true, None) => f.write_str(&self.message),
        }
    }
}

/// Every problem found, in document order as far as it can be told; never empty.
/// Serializes as a JSON array of [`DocumentError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct DocumentErrors(pub Vec<DocumentError>);

impl fmt::Display for DocumentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<DocumentError> for DocumentErrors {
    fn from(e: DocumentError) -> Self {
        DocumentErrors(vec![e])
    }
}

/// Errors listed at most; the rest are counted (a document with 10,000 bad keys gets a
/// readable answer, quickly).
pub const MAX_ERRORS: usize = 100;

impl DocumentErrors {
    /// The first [`MAX_ERRORS`] errors, and one more saying how many were left out.
    #[must_use]
    pub fn capped(mut self) -> Self {
        if self.0.len() > MAX_ERRORS {
            let left_out = self.0.len() - MAX_ERRORS;
            self.0.truncate(MAX_ERRORS);
            self.0.push(DocumentError::new(
                "",
                format!("… and {left_out} more problems (the first {MAX_ERRORS} are listed)"),
            ));
        }
        self
    }
}

/// The notation of a specification. Both describe the same document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// The format of a file from its extension (`.json` → JSON, else YAML), for the CLI.
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Yaml,
        }
    }

    /// The format of a request body from its `Content-Type` (parameters and case ignored).
    ///
    /// JSON types (`application/json`, `*+json`) → `Json`; YAML types
    /// (`application/yaml`, `application/x-yaml`, `text/yaml`, `text/x-yaml`, `*+yaml`) →
    /// `Yaml`. No header, an empty one, `text/plain` or `application/octet-stream` →
    /// `Yaml`, because a YAML parser also reads JSON documents (curl `--data-binary` and
    /// browsers' plain-text uploads stay usable). Anything else (forms, HTML…) → `None`:
    /// answer 415 Unsupported Media Type.
    pub fn from_content_type(content_type: Option<&str>) -> Option<Format> {
        let Some(ct) = content_type else {
            return Some(Format::Yaml);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" | "text/plain" | "application/octet-stream" => Some(Format::Yaml),
            "application/json" | "text/json" => Some(Format::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(Format::Yaml)
            }
            s if s.ends_with("+json") => Some(Format::Json),
            s if s.ends_with("+yaml") => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Parse any strict serde document (a suite, a workflow definition) from YAML or JSON; the
/// error names the path of the offending key or value, with its line and column.
pub fn parse<T: DeserializeOwned>(text: &str, format: Format) -> Result<T, DocumentError> {
    match format {
        Format::Yaml => parse_yaml(text),
        Format::Json => parse_json(text),
    }
}

/// Parser options shared by the spec parser and the locator.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        // YAML 1.2 booleans only: `synchronous_commit: off` stays the string "off"
        // instead of turning into `false` (the "Norway problem").
        strict_booleans: true,
        // We report path, line and column ourselves; no rendered source snippets.
        with_snippet: false,
    }
}

fn parse_yaml<T: DeserializeOwned>(text: &str) -> Result<T, DocumentError> {
    let mut track = serde_path_to_error::Track::new();
    let result =
        serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(), |de| {
            T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
        });
    result.map_err(|err| {
        use serde_saphyr::MessageFormatter;
        let err = err.without_snippet();
        let location = err.location().filter(|l| l.line() > 0);
        let mut message = serde_saphyr::DefaultMessageFormatter
            .format_message(err)
            .into_owned();
        // saphyr words a few shape errors in parser terms; say them in the user's.
        let plain = match message.as_str() {
            "expected sequence start" => Some("expected a list"),
            "expected mapping start" => Some("expected a map of keys and values"),
            "expected string scalar" => Some("expected a string"),
            _ => None,
        };
        if let Some(plain) = plain {
            message = plain.to_owned();
        }
        // The parser's budget (nodes, depth, alias expansions) stops YAML bombs.
        if let Some(what) = message.strip_prefix("budget breached: ") {
            message = format!(
                "the document is too large or too deep once its anchors and aliases are expanded ({what}); write it out plainly"
            );
        }
        // "invalid u32" says little; show the offending text and what was expected.
        if let Some(kind) = message.strip_prefix("invalid ")
            && is_int_type(kind)
        {
            let found = location.and_then(|l| source_text(text, l.span()));
            message = match found {
                Some(found) => format!("invalid value `{found}`: expected a whole number"),
                None => "invalid value: expected a whole number".to_owned(),
            };
        }
        DocumentError {
            path: render_track_path(&track.path()),
            message,
            line: location.and_then(|l| usize::try_from(l.line()).ok()),
            column: location.and_then(|l| usize::try_from(l.column()).ok()),
        }
    })
}

fn is_int_type(s: &str) -> bool {
    matches!(
        s,
        "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64" | "i128"
    )
}

/// The text a span covers, when it is short enough to quote in a message.
fn source_text(text: &str, span: serde_saphyr::Span) -> Option<&str> {
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let found = text.get(start..start.checked_add(len)?)?;
    (!found.is_empty() && found.len() <= 80 && !found.contains('\n')).then_some(found)
}

fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, DocumentError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let spec = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = render_track_path(err.path());
        json_error(path, &err.into_inner())
    })?;
    // Trailing garbage after the document is an error, not ignored.
    de.end().map_err(|err| json_error(String::new(), &err))?;
    Ok(spec)
}

fn json_error(path: String, err: &serde_json::Error) -> DocumentError {
    let full = err.to_string();
    let (line, column) = (err.line(), err.column());
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    DocumentError {
        path,
        message,
        line: (line > 0).then_some(line),
        column: (line > 0).then_some(column),
    }
}

/// `serde_path_to_error`'s path in our notation; an unknown segment (a key it could not
/// capture) ends the path there, and the root is the empty string rather than `.`.
fn render_track_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = DocPath::root();
    for seg in path.iter() {
        p = match seg {
            Segment::Seq { index } => p.index(*index),
            Segment::Map { key } => p.key(key),
            Segment::Enum { variant } => p.key(variant),
            Segment::Unknown => break,
        };
    }
    p.0
}

/// A path under construction, already in its rendered form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DocPath(pub(crate) String);

impl DocPath {
    pub(crate) fn root() -> Self {
        DocPath(String::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            DocPath(key.to_owned())
        } else {
            DocPath(format!("{}.{key}", self.0))
        }
    }

    pub(crate) fn keys(&self, keys: &[&str]) -> Self {
        keys.iter().fold(self.clone(), |p, k| p.key(k))
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        DocPath(format!("{}[{i}]", self.0))
    }
}
