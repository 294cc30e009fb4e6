//! Format detection by name and content. The first input byte picks the file name (so names,
//! compression suffixes and content all get exercised); the rest is the file's head.
#![no_main]

use kbcurate::ingest::format;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 16] = [
    "",
    "page.xml",
    "a.jsonl.gz",
    "a.tar",
    "a.tgz",
    "a.srt",
    "a.vtt.zst",
    "a.ctm",
    "a.hocr",
    "notes.txt",
    "a.parquet",
    "a.json",
    "a.html",
    "noext",
    ".",
    "X.TAR.GZ",
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, head)) = data.split_first() else { return };
    let name = NAMES[(first & 0x0f) as usize];
    let name = if first & 0x10 != 0 { name.to_ascii_uppercase() } else { name.to_string() };
    std::hint::black_box(format::detect(&name, head));
    std::hint::black_box(format::inner_name(&name));
    std::hint::black_box(format::Compression::sniff(head));
});
