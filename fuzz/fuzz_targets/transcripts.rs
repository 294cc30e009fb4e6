//! The transcript readers (SRT, WebVTT, CTM, ASR JSON) on arbitrary bytes.
#![no_main]

use kbcurate::ingest::source::{Emit, ReadContext, ReaderOptions};
use kbcurate::ingest::{asr_json, ctm, subtitles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ReaderOptions::default();
    let ctx = ReadContext { path: "fuzz.txt", options: &options };
    let mut sink = |e: Emit| {
        std::hint::black_box(e);
    };
    let _ = subtitles::read_srt(data, &ctx, &mut sink);
    let _ = subtitles::read_vtt(data, &ctx, &mut sink);
    let _ = ctm::read(data, &ctx, &mut sink);
    let _ = asr_json::read(data, &ctx, &mut sink);
});
