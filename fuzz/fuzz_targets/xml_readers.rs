//! The XML readers (ALTO, hOCR, PAGE, TEI, METS) on arbitrary bytes, with default options and
//! with options that filter by OCR confidence and split METS packages into articles. The body
//! is `kbcurate::ingest::fuzz::xml_readers`, which tests/fuzz_replay.rs replays on stable Rust.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kbcurate::ingest::fuzz;
use kbcurate::ingest::source::ReaderOptions;
use libfuzzer_sys::fuzz_target;

/// `<tmp>/kbcurate-fuzz-mets-<pid>/mets.xml`, in a folder holding the pages the METS seeds
/// reference (`fuzz::write_package`); the input is read as that METS file.
fn mets_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kbcurate-fuzz-mets-{}", std::process::id()));
        fuzz::write_package(&dir).unwrap()
    })
}

fn options() -> &'static [ReaderOptions; 2] {
    static OPTS: OnceLock<[ReaderOptions; 2]> = OnceLock::new();
    OPTS.get_or_init(fuzz::xml_options)
}

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(fuzz::xml_readers(data, mets_path(), options()));
});
