//! The transcript readers (SRT, WebVTT, CTM, ASR JSON) on arbitrary bytes. The body is
//! `kbcurate::ingest::fuzz::transcripts`, which tests/fuzz_replay.rs replays on stable Rust.
#![no_main]

use kbcurate::ingest::fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(fuzz::transcripts(data));
});
