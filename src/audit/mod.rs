//! `kbcurate audit`: what a corpus is made of and what each stage did to it, for people to
//! read (`report.html`, `report.md`) and for programs (`report.json`, schema in `schemas/`).
//! Composition comes from the metadata columns (polars); the funnel from the stages'
//! manifests; texts are read only for the handful of examples.

pub mod composition;
pub mod datasheet;
pub mod html;
pub mod report;
pub mod svg;

use std::path::Path;

pub use report::{AuditError, Report};

/// Writes `report.html`, `report.json` and `report.md` into `out` and returns the report.
pub fn audit(input: &Path, out: &Path) -> Result<Report, AuditError> {
    let r = report::build(input)?;
    std::fs::create_dir_all(out).map_err(|e| AuditError::Other(format!("{}: {e}", out.display())))?;
    crate::dataset::write_atomic(&out.join("report.json"), &serde_json::to_vec_pretty(&r).expect("serializes"))?;
    crate::dataset::write_atomic(&out.join("report.html"), html::render(&r).as_bytes())?;
    crate::dataset::write_atomic(&out.join("report.md"), datasheet::render(&r).as_bytes())?;
    Ok(r)
}

/// Two datasets side by side: per dimension and value, the share of characters in each and
/// the difference in percentage points, largest first; and the totals.
pub fn compare(a: &Path, b: &Path) -> Result<String, AuditError> {
    let (ra, rb) = (report::build(a)?, report::build(b)?);
    let (ca, cb) = (&ra.composition, &rb.composition);
    let mut s = format!(
        "A: {} ({}): {} documents, {} characters\nB: {} ({}): {} documents, {} characters\n",
        ra.dataset,
        ra.stage,
        ca.total.docs_repeated,
        svg::human(ca.total.chars_repeated as f64),
        rb.dataset,
        rb.stage,
        cb.total.docs_repeated,
        svg::human(cb.total.chars_repeated as f64)
    );
    for dim in composition::DIMENSIONS {
        let empty = Default::default();
        let (va, vb) = (ca.by.get(dim).unwrap_or(&empty), cb.by.get(dim).unwrap_or(&empty));
        let mut keys: Vec<&String> = va.keys().chain(vb.keys()).collect();
        keys.sort();
        keys.dedup();
        let share = |c: &composition::Composition, v: Option<&composition::Tally>| {
            v.map_or(0.0, |t| t.chars_repeated as f64 / c.total.chars_repeated.max(1) as f64)
        };
        let mut rows: Vec<(f64, String)> = keys
            .iter()
            .map(|k| {
                let (x, y) = (share(ca, va.get(*k)), share(cb, vb.get(*k)));
                (
                    (y - x).abs(),
                    format!("  {:<28} {:>7.1}% {:>7.1}% {:>+8.1} pp\n", k, x * 100.0, y * 100.0, (y - x) * 100.0),
                )
            })
            .collect();
        rows.sort_by(|p, q| q.0.total_cmp(&p.0).then(p.1.cmp(&q.1)));
        s.push_str(&format!(
            "\n{dim} (share of characters)\n  {:<28} {:>8} {:>8} {:>11}\n",
            "value", "A", "B", "B − A"
        ));
        for (_, line) in rows.into_iter().take(15) {
            s.push_str(&line);
        }
    }
    Ok(s)
}
