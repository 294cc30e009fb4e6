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
        "parts     {} ({:.1} MB on disk, {:.1} MB of text)",
        m.parts.len(),
        bytes as f64 / 1e6,
        m.text_bytes as f64 / 1e6
    );
    let _ = writeln!(s);
    for d in ds.documents().take(rows) {
        let d = d?;
        let date = d.year.map(|y| y.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{}  {} | {} | {} | {} | {} | {} chars, {} words{}",
            &d.id[..12.min(d.id.len())],
            d.collection,
            d.genre.as_deref().unwrap_or("-"),
            d.source.as_deref().unwrap_or("-"),
            date,
            d.language.as_deref().unwrap_or("-"),
            d.n_chars,
            d.n_words,
            d.ocr_confidence.map(|c| format!(", ocr {c:.2}")).unwrap_or_default(),
        );
        let _ = writeln!(
            s,
            "    {}{}",
            d.path,
            if d.locator.is_empty() { String::new() } else { format!(" [{}]", d.locator) }
        );
        if let Some(t) = &d.title {
            let _ = writeln!(s, "    title: {}", cut_at_char(t, width));
        }
        let preview = cut_at_char(&d.text, width).replace('\n', " ⏎ ");
        let _ = writeln!(s, "    {preview}{}", if d.text.len() > width { " …" } else { "" });
    }
    let rejected = ds.rejections()?;
    if !rejected.is_empty() {
        let _ = writeln!(s, "\nrejected (first {} of {}):", rows.min(rejected.len()), rejected.len());
        for r in rejected.iter().take(rows) {
            let loc = if r.locator.is_empty() { String::new() } else { format!(" [{}]", r.locator) };
            let _ = writeln!(s, "  {}{}: {}: {}", r.path, loc, r.reason, cut_at_char(&r.detail, 200));
        }
    }
    Ok(s)
}
