//! `kbcurate inspect <dataset>`: the manifest summary and a few rows, for people.

use std::fmt::Write;
use std::path::Path;

use crate::dataset::{Dataset, DatasetError};
use crate::document::cut_at_char;

/// Renders the manifest summary, the first `rows` documents (text cut to `width` bytes) and
/// up to `rows` rejections.
pub fn inspect(dir: &Path, rows: usize, width: usize) -> Result<String, DatasetError> {
    let ds = Dataset::open(dir)?;
    let m = &ds.manifest;
    let mut s = String::new();
    let c = &m.counts;
    let _ = writeln!(s, "dataset   {}", dir.display());
    let _ = writeln!(s, "stage     {} (kbcurate {})", m.stage, m.kbcurate_version);
    let _ = writeln!(
        s,
        "counts    in {} = kept {} + rejected {}{}",
        c.input,
        c.kept,
        c.rejected_total(),
        if c.reconciles() { "" } else { "   (DOES NOT RECONCILE)" }
    );
    for (r, n) in &c.rejected {
        let _ = writeln!(s, "          rejected {r}: {n}");
    }
    for (w, n) in &c.warnings {
        let _ = writeln!(s, "          warning {w}: {n}");
    }
    let bytes: u64 = m.parts.iter().map(|p| p.bytes).sum();
    let _ = writeln!(
        s,
        "parts     {} ({} on disk, {} of text)",
        m.parts.len(),
        crate::size::Bytes(bytes),
        crate::size::Bytes(m.text_bytes)
    );
    let _ = writeln!(s);
    for d in ds.documents().take(rows) {
        let d = d?;
        let date = d.year.map(|y| y.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{}  {} | {} | {} | {} | {} | {} chars, {} words{}",
            cut_at_char(&d.id, 12),
            shown(&d.collection),
            shown(d.genre.as_deref().unwrap_or("-")),
            shown(d.source.as_deref().unwrap_or("-")),
            date,
            shown(d.language.as_deref().unwrap_or("-")),
            d.n_chars,
            d.n_words,
            d.ocr_confidence.map(|c| format!(", ocr {c:.2}")).unwrap_or_default(),
        );
        let _ = writeln!(
            s,
            "    {}{}",
            shown(&d.path),
            if d.locator.is_empty() { String::new() } else { format!(" [{}]", shown(&d.locator)) }
        );
        if let Some(t) = &d.title {
            let _ = writeln!(s, "    title: {}", shown(cut_at_char(t, width)));
        }
        let preview = shown(&cut_at_char(&d.text, width).replace('\n', " ⏎ ")).into_owned();
        let _ = writeln!(s, "    {preview}{}", if d.text.len() > width { " …" } else { "" });
    }
    let rejected = ds.rejections()?;
    if !rejected.is_empty() {
        let _ = writeln!(s, "\nrejected (first {} of {}):", rows.min(rejected.len()), rejected.len());
        for r in rejected.iter().take(rows) {
            let loc = if r.locator.is_empty() { String::new() } else { format!(" [{}]", shown(&r.locator)) };
            let _ = writeln!(s, "  {}{}: {}: {}", shown(&r.path), loc, r.reason, shown(cut_at_char(&r.detail, 200)));
        }
    }
    Ok(s)
}

/// `text` safe to print on a terminal: control characters (an escape sequence in a title, a
/// stray newline in a path) are shown escaped, not obeyed.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(shown("Svenska Dagbladet"), "Svenska Dagbladet");
        let osc = "\u{1b}]0;owned\u{7}Title\nnext";
        let s = shown(osc);
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert!(s.contains("\\u{1b}") && s.contains("\\n") && s.contains("Title"), "{s}");
    }
}
