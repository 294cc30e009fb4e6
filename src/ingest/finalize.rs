//! From a reader's output to dataset rows: text normalization, collection metadata, dates,
//! languages, ids.

use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use super::context::CollectionPlan;
use super::source::{Emit, RawDoc, ReadError};
use super::task::Task;
use super::STAGE;
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
/// Where it is not, only the stretch around each offending character is normalized: from the
/// last character below U+0300 before it (which may compose with what follows) to the next
/// ASCII character after it. Both ends are safe points of UAX #15 (combining class 0, never
/// composing with what precedes), so normalizing the stretches alone gives the NFC of the
/// whole; unicode-normalization's iterator runs at a few MB/s, too slow for whole pages with
/// one combining macron in them.
pub(super) fn nfc(text: String) -> String {
    let Some(first) = first_not_nfc(&text, 0) else { return text };
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut cursor, mut bad) = (0, first);
    loop {
        // Back to the start of the last char below U+0300 (a byte below 0xCC that is not a
        // continuation byte), but not before what is already written.
        let from = (cursor..bad).rev().find(|&i| b[i] < 0x80 || (0xC0..0xCC).contains(&b[i])).unwrap_or(cursor);
        let to = b[bad..].iter().position(u8::is_ascii).map_or(b.len(), |k| bad + k);
        out.push_str(&text[cursor..from]);
        out.extend(text[from..to].nfc());
        cursor = to;
        match first_not_nfc(&text, cursor) {
            Some(next) => bad = next,
            None => {
                out.push_str(&text[cursor..]);
                return out;
            }
        }
    }
}

/// General punctuation (dashes, quotation marks, daggers, bullets, the ellipsis, primes): no
/// canonical decomposition, combining class 0. Swedish and Finnish print set their dialogue
/// with em dashes and „low quotes", so these are most of the text's characters at or above
/// U+0300; the tests hold the range to the Unicode tables.
const PLAIN_PUNCTUATION: std::ops::RangeInclusive<u32> = 0x2010..=0x205E;

/// The NFC quick check (UAX #15) from byte `from` (a char boundary after which combining
/// classes start afresh): where the first character that is not NFC, or maybe not, starts.
///
/// Characters below U+0300 never change under NFC and never reorder; in UTF-8 they are exactly
/// the ones without a byte >= 0xCC, so whole 64-byte blocks without one are skipped (a
/// vectorized test) and only the characters at or above U+0300 are looked up.
fn first_not_nfc(text: &str, from: usize) -> Option<usize> {
    use unicode_normalization::char::canonical_combining_class;
    let b = text.as_bytes();
    let (mut i, mut last_ccc, mut last_end) = (from, 0u8, usize::MAX);
    while i < b.len() {
        if let Some(block) = b.get(i..i + 64) {
            if block.iter().fold(0u8, |a, &x| a | (x >= 0xCC) as u8) == 0 {
                i += 64;
                continue;
            }
        }
        if b[i] < 0xCC {
            i += 1;
            continue;
        }
        // A lead byte (continuation bytes are below 0xCC), so a char starts here.
        let at = i;
        let c = text[i..].chars().next().expect("a char starts at a lead byte");
        if last_end != i {
            last_ccc = 0; // a char below U+0300 came between: combining class 0
        }
        i += c.len_utf8();
        last_end = i;
        if PLAIN_PUNCTUATION.contains(&(c as u32)) {
            last_ccc = 0;
            continue;
        }
        let ccc = canonical_combining_class(c);
        if ccc != 0 && last_ccc > ccc {
            return Some(at);
        }
        if unicode_normalization::is_nfc_quick(std::iter::once(c)) != unicode_normalization::IsNormalized::Yes {
            return Some(at);
        }
        last_ccc = ccc;
    }
    None
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
        score: None,
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
        // Several stretches, with plain text, punctuation and other scripts between them.
        let many = format!(
            "{}A\u{30a}ngstro\u{308}m — {}e\u{304}\u{301} 한 x\u{316}\u{301}{}",
            "y ".repeat(40),
            "„z\" ".repeat(30),
            "!"
        );
        assert_eq!(nfc(many.clone()), many.nfc().collect::<String>());
    }

    #[test]
    fn plain_punctuation_is_nfc_and_starts_no_sequence() {
        use unicode_normalization::char::canonical_combining_class;
        for c in super::PLAIN_PUNCTUATION.filter_map(char::from_u32) {
            assert_eq!(canonical_combining_class(c), 0, "U+{:04X}", c as u32);
            let quick = unicode_normalization::is_nfc_quick(std::iter::once(c));
            assert_eq!(quick, unicode_normalization::IsNormalized::Yes, "U+{:04X}", c as u32);
        }
    }

    proptest::proptest! {
        #[test]
        fn nfc_agrees_with_unicode_normalization(s in "[a-zåäöé\\u{300}-\\u{36f}\\u{2014}\\u{201e}\\u{2010}-\\u{2060}\\u{1e00}-\\u{1eff}\\u{ac00}-\\u{ac10}\\u{1100}-\\u{1112}\\u{2000}\\u{212b}]{0,150}") {
            proptest::prop_assert_eq!(nfc(s.clone()), s.nfc().collect::<String>());
        }
    }
}
