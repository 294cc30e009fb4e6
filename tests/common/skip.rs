//! The one way a test skips for want of something from outside the repository: a browser, a
//! compiler, a venv, a Slurm, root, the real samples. One file shared by the integration tests
//! (`tests/common/mod.rs`) and the library's unit tests (`src/ingest/testing.rs`).
//!
//! - `KBCURATE_REQUIRE=chromium,slurm,...` (commas): a skip for want of a listed component is
//!   a failure instead (`.ci/run` lists every component CI provides).
//! - `KBCURATE_SKIP_LOG=FILE`: each skip appends one line `component<TAB>test<TAB>why` to FILE
//!   (one append-mode write per line, so parallel tests and test binaries do not interleave);
//!   `.ci/skip-summary` prints them at the end of CI.

use std::io::Write;

/// Skips the calling test for want of `component`, saying `why`; the caller returns after it.
/// Panics instead when `component` is listed in `KBCURATE_REQUIRE`.
pub fn skip(component: &str, why: &str) {
    let required = required(component);
    let why = one_line(why);
    log(component, &if required { format!("REQUIRED, missing: {why}") } else { why.clone() });
    if required {
        panic!(
            "required component `{component}` is missing: {why} (KBCURATE_REQUIRE={}; leave `{component}` out of it to \
             let this test skip)",
            std::env::var("KBCURATE_REQUIRE").unwrap_or_default()
        );
    }
    eprintln!("skipping: {why}");
}

/// Whether `component` is listed in `KBCURATE_REQUIRE`.
fn required(component: &str) -> bool {
    std::env::var("KBCURATE_REQUIRE").unwrap_or_default().split([',', ' ']).any(|c| c.trim() == component)
}

/// `binary::test` for the skip log: the test harness names each test's thread after the test.
fn test_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe.as_ref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    // cargo names test binaries `<name>-<16 hex digits>`.
    let binary = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => name.to_string(),
        _ => stem,
    };
    let thread = std::thread::current().name().unwrap_or("?").to_string();
    format!("{binary}::{thread}")
}

/// `text` on one line (no tabs or line breaks), at most 400 characters.
fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(400) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

fn log(component: &str, why: &str) {
    let Some(path) = std::env::var_os("KBCURATE_SKIP_LOG").filter(|p| !p.is_empty()) else { return };
    let line = format!("{}\t{}\t{why}\n", one_line(component), test_name());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("could not append to KBCURATE_SKIP_LOG={}: {e}", std::path::Path::new(&path).display());
    }
}
