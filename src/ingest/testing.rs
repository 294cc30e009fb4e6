//! Helpers shared by the readers' unit tests.

use std::path::PathBuf;

use super::source::{Emit, RawDoc, ReadContext, ReadError, ReaderOptions};

// The integration tests' skip helper, the same file: `skip(component, why)` logs to
// KBCURATE_SKIP_LOG and fails where KBCURATE_REQUIRE lists the component.
#[path = "../../tests/common/skip.rs"]
mod skip_helper;
pub use skip_helper::skip;

pub type ReaderFn = fn(&[u8], &ReadContext, &mut dyn FnMut(Emit)) -> Result<(), ReadError>;

/// Where the real public samples are: `../shared/data` beside the repository, or
/// `KBCURATE_SHARED_DATA` (CI sets it to a folder that does not exist to run the suite as a
/// fresh clone sees it).
pub fn shared_root() -> PathBuf {
    match std::env::var_os("KBCURATE_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")),
    }
}

/// `<shared_root>/<rel>` when present; otherwise skips (component `shared-data`), saying why.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let p = shared_root().join(rel);
    if p.exists() {
        Some(p)
    } else {
        skip("shared-data", &format!("{} not found (the real public samples live in ../shared/data)", p.display()));
        None
    }
}

/// Runs a reader with default options and collects what it emits.
pub fn run_reader(reader: ReaderFn, bytes: &[u8]) -> Result<Vec<Emit>, ReadError> {
    let options = ReaderOptions::default();
    let ctx = ReadContext { path: "test", options: &options };
    let mut out = Vec::new();
    reader(bytes, &ctx, &mut |e| out.push(e))?;
    Ok(out)
}

/// The one document a reader emits for `bytes` (panics otherwise).
pub fn one_doc(reader: ReaderFn, bytes: &[u8]) -> RawDoc {
    let out = run_reader(reader, bytes).expect("reads");
    assert_eq!(out.len(), 1, "{out:?}");
    match out.into_iter().next() {
        Some(Emit::Doc(d)) => d,
        other => panic!("expected a document, got {other:?}"),
    }
}

/// A transcript document's `meta.segments` as (start, end) pairs.
pub fn segments(d: &RawDoc) -> Vec<(f64, f64)> {
    d.meta["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|p| (p[0].as_f64().unwrap_or(f64::NAN), p[1].as_f64().unwrap_or(f64::NAN)))
        .collect()
}

/// Whether `seq` occurs in `text` in this order (not necessarily adjacent).
pub fn in_order(text: &str, seq: &[&str]) -> bool {
    let mut rest = text;
    for s in seq {
        match rest.find(s) {
            Some(i) => rest = &rest[i + s.len()..],
            None => return false,
        }
    }
    true
}
