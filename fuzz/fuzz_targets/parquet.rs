//! The Parquet reader on a whole file of arbitrary bytes (its decoder guarded as in a run).
//! The body is `kbcurate::ingest::fuzz::parquet`, which tests/fuzz_replay.rs replays on stable Rust.
#![no_main]

use kbcurate::ingest::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(fuzz::parquet(data));
});
