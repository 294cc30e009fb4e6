//! The JSONL reader on arbitrary bytes, with the default field mapping and with a mapping
//! that renames every document field and reads the text from a nested-looking field. The body
//! is `kbcurate::ingest::fuzz::jsonl`, which tests/fuzz_replay.rs replays on stable Rust.
#![no_main]

use std::sync::OnceLock;

use kbcurate::ingest::fuzz;
use kbcurate::ingest::source::ReaderOptions;
use libfuzzer_sys::fuzz_target;

fn options() -> &'static [ReaderOptions; 2] {
    static OPTS: OnceLock<[ReaderOptions; 2]> = OnceLock::new();
    OPTS.get_or_init(fuzz::jsonl_options)
}

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(fuzz::jsonl(data, options()));
});
