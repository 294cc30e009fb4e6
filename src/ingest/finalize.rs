//! From a reader's output to dataset rows: text normalization, collection metadata, dates,
//! languages, ids.

use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use super::source::{Emit, RawDoc, ReadError};
use super::task::Task;
use super::{CollectionPlan, STAGE};
use crate::date::PartialDate;
use crate::document::{count_words, document_id, Document, Rejection};
use crate::reject::Reason;

/// A task's result, ready to write.
pub(super) enum Out {
    Doc(Document),
    Rej(Rejection),
    Warn(String, String),
}

/// Finalizes everything a task produced (runs in the parallel phase).
pub(super) fn outputs(cp: &CollectionPlan, task: &Task, result: Result<Vec<Emit>, ReadError>) -> Vec<Out> {
    match result {
        Ok(emits) => emits
            .into_iter()
            .map(|e| match e {
                Emit::Doc(raw) => match finalize(cp, task, raw) {
                    Ok(d) => Out::Doc(d),
                    Err(r) => Out::Rej(r),
                },
                Emit::Reject { locator, reason, detail } => {
                    Out::Rej(rejection(cp, task, &locator, reason, detail, None))
                }
                Emit::Warning { kind, detail } => Out::Warn(kind, detail),
            })
            .collect(),
        Err(e) => vec![Out::Rej(rejection(cp, task, "", e.reason, e.detail, None))],
    }
}

/// NFC-normalizes `text`, cheaply when it already is (nearly always).
///
/// Characters below U+0300 never change under NFC and never reorder; in UTF-8 they are exactly
/// the ones without a byte >= 0xCC. A vectorized scan finds the first such byte; from there the
/// NFC quick check runs only on characters at or above U+0300.
pub(super) fn nfc(text: String) -> String {
    let high = text.as_bytes().chunks(64).position(|c| c.iter().fold(0u8, |a, &b| a | (b >= 0xCC) as u8) != 0);
    let Some(block) = high else { return text };
    let from = block * 64;
    let from = (0..=from).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    if is_nfc_from(&text[from..]) {
        text
    } else {
        text.nfc().collect()
    }
}

/// The NFC quick check (UAX #15), skipping characters below U+0300 (combining class 0, always
/// allowed): `false` means "not NFC, or maybe not".
fn is_nfc_from(text: &str) -> bool {
    use unicode_normalization::char::canonical_combining_class;
    let mut last_ccc = 0u8;
    for c in text.chars() {
        if (c as u32) < 0x300 {
            last_ccc = 0;
            continue;
        }
        let ccc = canonical_combining_class(c);
        if ccc != 0 && last_ccc > ccc {
            return false;
        }
        if unicode_normalization::is_nfc_quick(std::iter::once(c)) != unicode_normalization::IsNormalized::Yes {
            return false;
        }
        last_ccc = ccc;
    }
    true
}

pub(super) fn rejection(
    cp: &CollectionPlan,
    task: &Task,
    locator: &str,
    reason: Reason,
    detail: String,
    text: Option<String>,
) -> Rejection {
    Rejection {
        id: document_id(&cp.c.name, &task.rel, locator),
        collection: cp.c.name.clone(),
        path: task.rel.clone(),
        locator: locator.to_string(),
        format: task.format.map(|f| f.as_str().to_string()),
        stage: STAGE.into(),
        reason: reason.to_string(),
        detail,
        text,
    }
}

/// Turns a reader's document into a dataset row: NFC text, collection metadata, date and
/// language normalized, id and counts. Empty or oversized text is a rejection.
#[allow(clippy::result_large_err)] // a rejection is a normal outcome here, not an error path
pub(super) fn finalize(cp: &CollectionPlan, task: &Task, raw: RawDoc) -> Result<Document, Rejection> {
    let RawDoc { text, locator, title, author, date, language, genre, source, ocr_confidence, duration_s, mut meta } =
        raw;
    let text = nfc(text);
    let text = {
        let t = text.trim();
        if t.len() == text.len() {
            text
        } else {
            t.to_string()
        }
    };
    if text.is_empty() {
        return Err(rejection(cp, task, &locator, Reason::EmptyText, "no text after parsing".into(), None));
    }
    if text.len() > cp.options.max_doc_bytes {
        let detail = format!("{} bytes of text exceed max_doc_bytes {}", text.len(), cp.options.max_doc_bytes);
        return Err(rejection(cp, task, &locator, Reason::TooLarge, detail, Some(text)));
    }
    let date_text = cp.dates.resolve(&task.rel, date.as_deref());
    let parsed = date_text.as_deref().and_then(PartialDate::parse);
    if let (Some(d), None) = (&date, &parsed) {
        meta.insert("date_text".into(), json!(d));
    }
    // A fixed or path date overrides the file's own; keep what the file said.
    if let (Some(own), Some(used)) = (&date, &date_text) {
        if own != used && parsed.is_some() {
            meta.insert("date_declared".into(), json!(own));
        }
    }
    let language = language.as_deref().and_then(crate::language::normalize).or_else(|| cp.language.clone());
    let genre = match (&cp.c.genre, genre) {
        (Some(g), own) => {
            if let Some(o) = own.filter(|o| o != g) {
                meta.insert("genre_declared".into(), json!(o));
            }
            Some(g.clone())
        }
        (None, own) => own,
    };
    let source = source.or_else(|| cp.c.source.clone());
    Ok(Document {
        id: document_id(&cp.c.name, &task.rel, &locator),
        n_chars: text.chars().count().min(u32::MAX as usize) as u32,
        n_words: count_words(&text),
        text,
        collection: cp.c.name.clone(),
        source,
        genre,
        date: parsed.and_then(|p| p.days_since_epoch()),
        year: parsed.map(|p| p.year),
        decade: parsed.map(|p| p.decade()),
        title,
        author,
        language,
        language_score: None,
        ocr_confidence,
        duration_s: duration_s.map(|d| d as f32),
        format: task.format.map(|f| f.as_str()).unwrap_or("").to_string(),
        path: task.rel.clone(),
        locator,
        meta: serde_json::to_string(&meta).expect("meta serializes"),
    })
}

#[cfg(test)]
mod tests {
    use super::nfc;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn nfc_composes_and_keeps_composed_text() {
        assert_eq!(nfc("a\u{30a}ngare".into()), "ångare");
        assert_eq!(nfc("ångare".into()), "ångare");
        assert_eq!(nfc("Zwo\u{364}lftes".into()), "Zwo\u{364}lftes", "combining e above has no composed form");
        // Combining marks out of canonical order are reordered.
        assert_eq!(nfc("a\u{301}\u{316}".into()), "a\u{316}\u{301}".nfc().collect::<String>());
        // A decomposed letter after 100 bytes of plain text (past the first 64-byte block).
        let long = format!("{}o\u{308}", "x".repeat(100));
        assert_eq!(nfc(long), format!("{}ö", "x".repeat(100)));
    }

    proptest::proptest! {
        #[test]
        fn nfc_agrees_with_unicode_normalization(s in "[a-zåäöé\\u{300}-\\u{36f}\\u{2014}\\u{1e00}-\\u{1eff}\\u{ac00}-\\u{ac10}\\u{1100}-\\u{1112}\\u{2000}\\u{212b}]{0,150}") {
            proptest::prop_assert_eq!(nfc(s.clone()), s.nfc().collect::<String>());
        }
    }
}
