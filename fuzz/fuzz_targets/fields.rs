//! A document's fields (text, date, language, genre, source, title; NUL-separated) through
//! the finalize step and the date parser.
//! The body is `kbcurate::ingest::fuzz::fields`, which tests/fuzz_replay.rs replays on stable Rust.
#![no_main]

use kbcurate::ingest::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(fuzz::fields(data));
});
