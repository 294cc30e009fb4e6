//! Format detection by name and content. The first input byte picks the file name (so names,
//! compression suffixes and content all get exercised); the rest is the file's head. The body
//! is `kbcurate::ingest::fuzz::detect`, which tests/fuzz_replay.rs replays on stable Rust.
#![no_main]

use kbcurate::ingest::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(fuzz::detect(data));
});
