//! The Parquet reader on a whole file of arbitrary bytes, its decoder guarded as in a run.
//! The body is `kbcurate::ingest::fuzz::parquet`, which tests/fuzz_replay.rs replays on stable Rust.
//!
//! The parquet crate panics on some crafted metadata (`fuzz/regressions/parquet/decoder-panic-*`,
//! found by this target); `parquet_input::read` catches that and rejects the file, as in a run.
//! libFuzzer's panic hook would abort at the panic itself, before the guard, so the target puts
//! back a quiet hook: a panic that escapes the guard still aborts (libfuzzer-sys catches it at
//! the target's edge) and is reported as a crash.
#![no_main]

use kbcurate::ingest::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
        std::hint::black_box(fuzz::parquet(data));
    }
);
