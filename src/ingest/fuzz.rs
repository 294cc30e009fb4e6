//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`), here so that the replay test
//! (`tests/fuzz_replay.rs`, on stable Rust, in every `cargo test`) feeds the committed inputs
//! of `fuzz/regressions/` through exactly the calls the fuzzer makes. Each function takes the
//! fuzzer's bytes and says what each reader made of them; none may panic.

use std::path::{Path, PathBuf};

use super::source::{self, Emit, MetsSplit, ReadContext, ReadError, ReaderOptions};
use super::{alto, asr_json, ctm, format, hocr, jsonl, mets, page, parquet_input, subtitles, tei};

/// The targets, as named in `fuzz/Cargo.toml` and under `fuzz/regressions/`.
pub const TARGETS: [&str; 6] = ["xml_readers", "transcripts", "jsonl", "detect", "parquet", "fields"];

/// What one reader call made of an input: its documents, rejections and warnings, and the
/// error that rejected the whole input, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub reader: &'static str,
    pub documents: usize,
    pub rejections: usize,
    pub warnings: usize,
    pub error: Option<String>,
}

/// Runs one reader call, counting what it emits.
fn call(reader: &'static str, f: impl FnOnce(&mut dyn FnMut(Emit)) -> Result<(), ReadError>) -> Outcome {
    let mut o = Outcome { reader, ..Default::default() };
    let mut sink = |e: Emit| match e {
        Emit::Doc(_) => o.documents += 1,
        Emit::Reject { .. } => o.rejections += 1,
        Emit::Warning { .. } => o.warnings += 1,
    };
    let result = f(&mut sink);
    o.error = result.err().map(|e| format!("{}: {}", e.reason.as_str(), e.detail));
    o
}

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

/// Writes the METS package the `xml_readers` target reads its input as (`<dir>/mets.xml`):
/// copies of a small ALTO page under the names the METS seeds reference
/// (`ALTO/18140401_1-0001.xml`, `p1.xml`, ...). Returns the METS file's path.
pub fn write_package(dir: &Path) -> std::io::Result<PathBuf> {
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
        std::fs::create_dir_all(p.parent().unwrap_or(dir))?;
        std::fs::write(&p, PAGE)?;
    }
    Ok(dir.join("mets.xml"))
}

/// The `xml_readers` options: the defaults, and filtering by OCR confidence with METS packages
/// split into articles.
pub fn xml_options() -> [ReaderOptions; 2] {
    [
        ReaderOptions::default(),
        ReaderOptions {
            min_word_confidence: Some(0.5),
            min_line_confidence: Some(0.6),
            mets_split: MetsSplit::Article,
            ..Default::default()
        },
    ]
}

/// The XML readers (ALTO, hOCR, PAGE, TEI, and METS as if `data` were `mets_path`, from
/// [`write_package`]) with each of `options` ([`xml_options`]); then the METS and ALTO parsers
/// on their own.
pub fn xml_readers(data: &[u8], mets_path: &Path, options: &[ReaderOptions]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for options in options {
        let ctx = ReadContext { path: "fuzz.xml", options };
        out.push(call("alto", |s| alto::read(data, &ctx, s)));
        out.push(call("hocr", |s| hocr::read(data, &ctx, s)));
        out.push(call("page", |s| page::read(data, &ctx, s)));
        out.push(call("tei", |s| tei::read(data, &ctx, s)));
        out.push(call("mets", |s| mets::read_package(mets_path, data, &ctx, s)));
    }
    let (text, _) = source::decode_text(data);
    if let Ok(pkg) = mets::parse(&text) {
        std::hint::black_box((pkg.descriptive(), pkg.pages()));
    }
    std::hint::black_box(mets::referenced_files(mets_path, data));
    if let Some(options) = options.last() {
        let _ = std::hint::black_box(alto::parse(&text, options));
    }
    out
}

/// The transcript readers: SRT, WebVTT, CTM and ASR JSON.
pub fn transcripts(data: &[u8]) -> Vec<Outcome> {
    let options = ReaderOptions::default();
    let ctx = ReadContext { path: "fuzz.txt", options: &options };
    vec![
        call("srt", |s| subtitles::read_srt(data, &ctx, s)),
        call("vtt", |s| subtitles::read_vtt(data, &ctx, s)),
        call("ctm", |s| ctm::read(data, &ctx, s)),
        call("asr_json", |s| asr_json::read(data, &ctx, s)),
    ]
}

/// The `jsonl` options: the default field mapping, and one that renames every mappable field
/// (`title` → `title_src`, ...), reads the text from `body` and caps documents at 64 bytes.
pub fn jsonl_options() -> [ReaderOptions; 2] {
    let fields = jsonl::MAPPABLE.iter().map(|f| (f.to_string(), format!("{f}_src"))).collect();
    [
        ReaderOptions::default(),
        ReaderOptions { text_field: "body".into(), fields, max_doc_bytes: 64, ..Default::default() },
    ]
}

/// The JSONL reader with each of `options` ([`jsonl_options`]): the first as a chunk at the
/// start of a file, the others as one deep inside a big file (offset 2^40).
pub fn jsonl(data: &[u8], options: &[ReaderOptions]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (i, options) in options.iter().enumerate() {
        let ctx = ReadContext { path: "fuzz.jsonl", options };
        let offset = if i == 0 { 0 } else { 1 << 40 };
        out.push(call("jsonl", |s| jsonl::read_lines(data, offset, &ctx, s)));
    }
    out
}

/// The file names the `detect` target picks from with bits 0–3 of its first byte.
pub const DETECT_NAMES: [&str; 16] = [
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

/// The `detect` target's input cut into a file name (the first byte: bits 0–3 pick one of
/// [`DETECT_NAMES`], bit 4 upper-cases it) and the file's head (the rest); `None` when empty.
pub fn detect_input(data: &[u8]) -> Option<(String, &[u8])> {
    let (&first, head) = data.split_first()?;
    let name = DETECT_NAMES[(first & 0x0f) as usize];
    let name = if first & 0x10 != 0 { name.to_ascii_uppercase() } else { name.to_string() };
    Some((name, head))
}

/// Format detection by name and content, the inner name, and the compression sniffed.
pub fn detect(data: &[u8]) -> Option<(Option<format::Format>, String, format::Compression)> {
    let (name, head) = detect_input(data)?;
    Some((format::detect(&name, head), format::inner_name(&name), format::Compression::sniff(head)))
}

/// The Parquet reader on a whole file of arbitrary bytes: with the default options, and with
/// the text read from `body` and documents capped at 64 bytes. The decoder runs under the
/// reader's own guard ([`parquet_input::read`]), as in a run.
pub fn parquet(data: &[u8]) -> Vec<Outcome> {
    let options = [
        ReaderOptions::default(),
        ReaderOptions { text_field: "body".into(), max_doc_bytes: 64, ..Default::default() },
    ];
    options
        .iter()
        .map(|options| {
            let ctx = ReadContext { path: "fuzz.parquet", options };
            call("parquet", |sink| {
                parquet_input::read(bytes::Bytes::copy_from_slice(data), &ctx, &mut |emits| {
                    emits.into_iter().for_each(&mut *sink);
                    Ok(())
                })
            })
        })
        .collect()
}

/// The `fields` target's input as a document's fields: text, date, language, genre, source
/// and title, cut at NUL bytes (lossy UTF-8; missing ones absent).
fn split_fields(data: &[u8]) -> [Option<String>; 6] {
    let mut parts = data.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
    std::array::from_fn(|_| parts.next())
}

/// A document's fields as a reader hands them over (NUL-separated: text, date, language, genre,
/// source, title) through the finalize step (NFC, date rules and parsing, language codes, ids),
/// and the date parser and language normalizer alone: the work done on every document's
/// metadata, whatever its format.
pub fn fields(data: &[u8]) -> Vec<Outcome> {
    let [text, date, language, genre, source, title] = split_fields(data);
    if let Some(d) = &date {
        std::hint::black_box(crate::date::PartialDate::parse(d));
    }
    if let Some(l) = &language {
        std::hint::black_box(crate::language::normalize(l));
    }
    let config = super::config::IngestConfig::from_toml(
        "[[collection]]\nname = \"fuzz\"\npaths = [\"x\"]\n[[collection]]\nname = \"dated\"\npaths = [\"y\"]\n\
         genre = \"newspaper\"\ndate = { from = \"path\", regex = '(\\d{4})-(\\d{2})' }\n",
        "fuzz",
    )
    .expect("the fuzz collections parse");
    let mut out = Vec::new();
    for (k, c) in config.collections.iter().enumerate() {
        let cp = super::context::CollectionPlan {
            options: c.reader_options(&config.defaults),
            dates: super::config::DateResolver::new(c.date.as_ref()),
            language: None,
            c: c.clone(),
        };
        let task = super::task::Task {
            collection: k,
            rel: if k == 0 { "fuzz.jsonl".into() } else { "1897-03/fuzz.jsonl".into() },
            format: Some(format::Format::Jsonl),
            input_bytes: 0,
            work: super::task::Work::Done(Vec::new()),
        };
        let raw = source::RawDoc {
            text: text.clone().unwrap_or_default(),
            locator: "offset=0".into(),
            date: date.clone(),
            language: language.clone(),
            genre: genre.clone(),
            source: source.clone(),
            title: title.clone(),
            ..Default::default()
        };
        let mut o = Outcome { reader: "finalize", ..Default::default() };
        match super::finalize::finalize(&cp, &task, raw) {
            Ok(d) => {
                std::hint::black_box(d);
                o.documents = 1;
            }
            Err(r) => {
                std::hint::black_box(r);
                o.rejections = 1;
            }
        }
        out.push(o);
    }
    out
}

/// The `fields` target's input as the JSONL line a collection would hold, for the replay's
/// run through the stage.
pub fn fields_as_jsonl(data: &[u8]) -> Vec<u8> {
    let [text, date, language, genre, source, title] = split_fields(data);
    let mut rec = serde_json::Map::new();
    for (key, v) in
        [("text", text), ("date", date), ("language", language), ("genre", genre), ("source", source), ("title", title)]
    {
        if let Some(v) = v {
            rec.insert(key.into(), v.into());
        }
    }
    let mut line = serde_json::to_vec(&rec).expect("a map serializes");
    line.push(b'\n');
    line
}
