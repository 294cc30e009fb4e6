//! The XML readers (ALTO, hOCR, PAGE, TEI, METS) on arbitrary bytes, with default options and
//! with options that filter by OCR confidence and split METS packages into articles.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kbcurate::ingest::source::{Emit, MetsSplit, ReadContext, ReaderOptions};
use kbcurate::ingest::{alto, hocr, mets, page, source, tei};
use libfuzzer_sys::fuzz_target;

/// A small ALTO page whose block ids match what the METS seeds point at (`P1`, `P1_TB00001`, ...).
const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v3#"><Layout><Page ID="P1">
<PrintSpace>
<TextBlock ID="P1_TB00001"><TextLine><String CONTENT="Stock-" WC="0.9" SUBS_TYPE="HypPart1" SUBS_CONTENT="Stockholm"/><HYP CONTENT="-"/></TextLine>
<TextLine><String CONTENT="holm" WC="0.2" SUBS_TYPE="HypPart2" SUBS_CONTENT="Stockholm"/><SP/><String CONTENT="den" WC="0.7"/></TextLine></TextBlock>
<TextBlock ID="P1_TB00002"><TextLine><String CONTENT="Nyheter" WC="0.95"/></TextLine></TextBlock>
<TextBlock ID="P1_TB00003"><TextLine><String CONTENT="Annons" WC="0.4"/></TextLine></TextBlock>
<TextBlock ID="P2_TB00001"><TextLine><String CONTENT="Sverige" WC="0.8"/></TextLine></TextBlock>
<TextBlock ID="TB1"><TextLine><String CONTENT="hej" WC="0.5"/></TextLine></TextBlock>
</PrintSpace></Page></Layout></alto>"#;

/// A folder holding copies of `PAGE` under the names the METS seeds reference; the METS is
/// read as if it were `<folder>/mets.xml`.
fn package_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kbcurate-fuzz-mets-{}", std::process::id()));
        for name in [
            "ALTO/18140401_1-0001.xml",
            "ALTO/18140401_1-0002.xml",
            "ALTO/0001.xml",
            "ALTO/0002.xml",
            "p1.xml",
            "page.xml",
            "a",
        ] {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, PAGE).unwrap();
        }
        dir
    })
}

fn options() -> &'static [ReaderOptions; 2] {
    static OPTS: OnceLock<[ReaderOptions; 2]> = OnceLock::new();
    OPTS.get_or_init(|| {
        [
            ReaderOptions::default(),
            ReaderOptions {
                min_word_confidence: Some(0.5),
                min_line_confidence: Some(0.6),
                mets_split: MetsSplit::Article,
                ..Default::default()
            },
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let mets_path = package_dir().join("mets.xml");
    let mut sink = |e: Emit| {
        std::hint::black_box(e);
    };
    for options in options() {
        let ctx = ReadContext { path: "fuzz.xml", options };
        let _ = alto::read(data, &ctx, &mut sink);
        let _ = hocr::read(data, &ctx, &mut sink);
        let _ = page::read(data, &ctx, &mut sink);
        let _ = tei::read(data, &ctx, &mut sink);
        let _ = mets::read_package(&mets_path, data, &ctx, &mut sink);
    }
    let (text, _) = source::decode_text(data);
    if let Ok(pkg) = mets::parse(&text) {
        std::hint::black_box((pkg.descriptive(), pkg.pages()));
    }
    std::hint::black_box(mets::referenced_files(&mets_path, data));
    let _ = alto::parse(&text, &options()[1]);
});
