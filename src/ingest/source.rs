//! What a format reader produces: raw documents and rejections, before the ingest driver adds
//! the collection's metadata, the id and the counts.
//!
//! Every reader is a function `fn(&[u8], &ReadContext, &mut dyn FnMut(Emit)) -> Result<(), ReadError>`:
//! it gets the whole (decompressed) input unit, emits zero or more documents or rejections, and
//! returns an error only when the unit as a whole cannot be read (the driver then rejects the
//! unit with that reason). Readers never panic on bad input.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::reject::Reason;

/// One document as a reader found it. Fields a format does not have stay `None`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawDoc {
    /// The text in reading order; paragraphs/blocks separated by a blank line, lines by `\n`.
    pub text: String,
    /// Where in the input the document is: empty for a whole file, else e.g. `page=3`,
    /// `offset=1742`, `article=DIVL12`. Part of the document id, so it must be stable.
    pub locator: String,
    pub title: Option<String>,
    pub author: Option<String>,
    /// A date as the source wrote it (`1749`, `1795-06-01`, `[1749]`, `18140401`);
    /// the driver parses it with [`crate::date::PartialDate::parse`].
    pub date: Option<String>,
    /// A language as the source declared it (ISO 639-1/2/3 code or English name);
    /// the driver normalizes it to ISO 639-3.
    pub language: Option<String>,
    pub genre: Option<String>,
    pub source: Option<String>,
    /// Mean word confidence in 0..=1, where the format has one.
    pub ocr_confidence: Option<f32>,
    /// Duration in seconds for recordings.
    pub duration_s: Option<f64>,
    /// Anything else the source had (segment timings, page counts, identifiers, ...).
    pub meta: Map<String, Value>,
}

/// What a caught panic said, where it said anything (for the rejection's detail).
pub(super) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// A reader's output item.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // documents are the common case; boxing them would cost an allocation each
pub enum Emit {
    Doc(RawDoc),
    /// A part of the input (a page, a line, a record) that could not become a document.
    Reject {
        locator: String,
        reason: Reason,
        detail: String,
    },
    /// Something worth counting that does not lose a document (e.g. a page the METS lists
    /// that is missing on disk). Counted per kind in the manifest's `warnings`.
    Warning {
        kind: String,
        detail: String,
    },
}

/// The whole input unit could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct ReadError {
    pub reason: Reason,
    pub detail: String,
}

impl ReadError {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into() }
    }
}

/// Options that change how readers interpret their input (from the collections config).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReaderOptions {
    /// Drop OCR words whose confidence is below this (0..=1). `None` keeps all words.
    pub min_word_confidence: Option<f32>,
    /// Drop OCR lines whose mean word confidence is below this (0..=1).
    pub min_line_confidence: Option<f32>,
    /// METS packages: one document per `package` (book, newspaper issue) or per `article`
    /// where the logical structMap has article divisions.
    pub mets_split: MetsSplit,
    /// For JSONL/Parquet inputs: the field that holds the text.
    pub text_field: String,
    /// For JSONL/Parquet inputs: document field → source field (title, date, language,
    /// genre, source, author, id). Unmapped source fields go to `meta`.
    pub fields: std::collections::BTreeMap<String, String>,
    /// A document larger than this many bytes of text is rejected (`too-large`).
    pub max_doc_bytes: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            min_word_confidence: None,
            min_line_confidence: None,
            mets_split: MetsSplit::Package,
            text_field: "text".to_string(),
            fields: Default::default(),
            max_doc_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetsSplit {
    Package,
    Article,
}

/// What a reader knows about the unit it reads.
#[derive(Debug, Clone)]
pub struct ReadContext<'a> {
    /// The input's display path (`dir/file.xml`, `archive.tar!member.xml`), for messages.
    pub path: &'a str,
    pub options: &'a ReaderOptions,
}

/// Input bytes as text: a UTF-8 BOM is stripped, UTF-16 (with BOM) is transcoded, and invalid
/// UTF-8 is repaired with U+FFFD. Returns the text and the number of bytes that had to be
/// replaced (0 for clean input), which the driver records in the document's `meta`.
pub fn decode_text(bytes: &[u8]) -> (Cow<'_, str>, usize) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_utf8(rest);
    }
    if bytes.len() >= 2 && (bytes[..2] == [0xFF, 0xFE] || bytes[..2] == [0xFE, 0xFF]) {
        let le = bytes[0] == 0xFF;
        let units = bytes[2..].chunks(2).map(|c| {
            let pair = [c[0], *c.get(1).unwrap_or(&0)];
            if le {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        });
        let mut bad = 0;
        let s: String = char::decode_utf16(units)
            .map(|r| {
                r.unwrap_or_else(|_| {
                    bad += 1;
                    char::REPLACEMENT_CHARACTER
                })
            })
            .collect();
        return (Cow::Owned(s), bad);
    }
    decode_utf8(bytes)
}

fn decode_utf8(bytes: &[u8]) -> (Cow<'_, str>, usize) {
    // simdutf8 validates several times faster than `std::str::from_utf8` (6% of JSONL ingest).
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), 0),
        Err(_) => {
            let mut bad = 0;
            let mut out = String::with_capacity(bytes.len());
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    bad += chunk.invalid().len();
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
            (Cow::Owned(out), bad)
        }
    }
}

/// Joins text pieces the way every reader lays out a page: words in a line by one space,
/// lines by `\n`, blocks by a blank line. Empty pieces are skipped.
#[derive(Debug, Default)]
pub struct TextBuilder {
    text: String,
    /// 0: at start, 1: inside a line, 2: after a line break, 3: after a block break
    state: u8,
    pending_line: bool,
    pending_block: bool,
}

impl TextBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a word, separated from the previous word of the same line by a space.
    pub fn word(&mut self, w: &str) {
        let w = w.trim();
        if w.is_empty() {
            return;
        }
        self.sep();
        if self.state == 1 {
            self.text.push(' ');
        }
        self.text.push_str(w);
        self.state = 1;
    }

    /// Appends a word with no space before it (the second half of a hyphenated word).
    pub fn glue(&mut self, w: &str) {
        if self.state != 1 {
            return self.word(w);
        }
        self.text.push_str(w.trim());
    }

    /// Appends free text (several words, may contain spaces), as `word` does.
    pub fn words(&mut self, s: &str) {
        for w in s.split_whitespace() {
            self.word(w);
        }
    }

    pub fn end_line(&mut self) {
        if self.state != 0 {
            self.pending_line = true;
        }
    }

    pub fn end_block(&mut self) {
        if self.state != 0 {
            self.pending_block = true;
        }
    }

    fn sep(&mut self) {
        if self.pending_block {
            self.text.push_str("\n\n");
            self.state = 3;
        } else if self.pending_line {
            self.text.push('\n');
            self.state = 2;
        }
        self.pending_block = false;
        self.pending_line = false;
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_builder_lays_out_words_lines_blocks() {
        let mut t = TextBuilder::new();
        t.end_block();
        t.word("Stockholms");
        t.word("Dagblad");
        t.end_line();
        t.word("Tisdagen");
        t.end_block();
        t.end_line();
        t.word("Nyheter");
        t.glue("na");
        t.end_block();
        assert_eq!(t.finish(), "Stockholms Dagblad\nTisdagen\n\nNyheterna");
    }

    #[test]
    fn decode_strips_bom_and_repairs_invalid_utf8() {
        assert_eq!(decode_text(b"\xEF\xBB\xBFhej").0, "hej");
        let (s, bad) = decode_text(b"h\xC3\xA4r \xFF\xFEslut");
        assert_eq!(s, "här \u{FFFD}\u{FFFD}slut");
        assert_eq!(bad, 2);
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("då".encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        assert_eq!(decode_text(&utf16).0, "då");
    }
}
