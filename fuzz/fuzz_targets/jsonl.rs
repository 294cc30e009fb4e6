//! The JSONL reader on arbitrary bytes, with the default field mapping and with a mapping
//! that renames every document field and reads the text from a nested-looking field.
#![no_main]

use std::sync::OnceLock;

use kbcurate::ingest::jsonl;
use kbcurate::ingest::source::{Emit, ReadContext, ReaderOptions};
use libfuzzer_sys::fuzz_target;

fn options() -> &'static [ReaderOptions; 2] {
    static OPTS: OnceLock<[ReaderOptions; 2]> = OnceLock::new();
    OPTS.get_or_init(|| {
        let fields = jsonl::MAPPABLE.iter().map(|f| (f.to_string(), format!("{f}_src"))).collect();
        [
            ReaderOptions::default(),
            ReaderOptions { text_field: "body".into(), fields, max_doc_bytes: 64, ..Default::default() },
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let mut sink = |e: Emit| {
        std::hint::black_box(e);
    };
    for (i, options) in options().iter().enumerate() {
        let ctx = ReadContext { path: "fuzz.jsonl", options };
        // a chunk at the start of the file, and one deep inside a big file
        let offset = if i == 0 { 0 } else { 1 << 40 };
        let _ = jsonl::read_lines(data, offset, &ctx, &mut sink);
    }
});
