//! The encoder harness for `benches/encode_vs_hf.py`: kbcurate's fast `tokenizer.json` encoder
//! (the same source files as the library's) timed on one thread, its ids checked against the
//! `tokenizers` crate.
//!
//! ```text
//! encode_harness cl100k-json OUT.json            write cl100k_base as a tokenizer.json
//! encode_harness encode TOKENIZER.json DOCS.jsonl IDS.bin [CHECK_DOCS]
//!     encode every document (JSONL, `text`) on this thread; print one JSON line of figures;
//!     write the first CHECK_DOCS documents' ids (u32 LE, a count before each document) to
//!     IDS.bin, and check those against the tokenizers crate
//! encode_harness bpe-choice CL100K.json DOCS.jsonl
//!     the BPE for the cache's misses: cl100k split + piece cache, pieces merged by the
//!     merge table (the fast path) or by bpe-openai's backtracking encoder; and either without
//!     the cache
//! ```

// At the crate root, as `fastbpe` reaches `convert` and `pretokenize` through `super::`.
#[allow(dead_code)]
#[path = "../../../src/tokenize/convert.rs"]
mod convert;
#[allow(dead_code)]
#[path = "../../../src/tokenize/fastbpe.rs"]
mod fastbpe;
#[allow(dead_code)]
#[path = "../../../src/tokenize/piece_map.rs"]
mod piece_map;
#[allow(dead_code)]
#[path = "../../../src/tokenize/pretokenize.rs"]
mod pretokenize;

use std::io::Write;
use std::time::Instant;

use fastbpe::FastBpe;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("cl100k-json") => std::fs::write(&args[2], convert::cl100k_base_json()).unwrap(),
        Some("bpe-choice") => bpe_choice(&args[2], &args[3]),
        Some("encode") => encode(&args[2], &args[3], &args[4], args.get(5).map_or(2000, |n| n.parse().unwrap())),
        _ => panic!("usage: see the source"),
    }
}

fn encode(json_path: &str, docs_path: &str, ids_path: &str, check: usize) {
    let bytes = std::fs::read(json_path).unwrap();
    let hf = tokenizers::Tokenizer::from_bytes(&bytes).unwrap();
    let t = Instant::now();
    let fast = FastBpe::from_hf(&bytes, &hf).expect("takes the fast path");
    let load_s = t.elapsed().as_secs_f64();
    let docs: Vec<String> = std::fs::read_to_string(docs_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let text_bytes: usize = docs.iter().map(String::len).sum();
    let t = Instant::now();
    let ids: Vec<Vec<u32>> = docs.iter().map(|d| fast.encode(d)).collect();
    let secs = t.elapsed().as_secs_f64();
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let check = check.min(docs.len());
    let mut crate_secs = 0.0;
    let mut crate_bytes = 0usize;
    for (d, got) in docs[..check].iter().zip(&ids) {
        let t = Instant::now();
        let want = hf.encode_fast(d.as_str(), false).unwrap();
        crate_secs += t.elapsed().as_secs_f64();
        crate_bytes += d.len();
        assert_eq!(got.as_slice(), want.get_ids(), "ids differ from the tokenizers crate");
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(ids_path).unwrap());
    for d in &ids[..check] {
        f.write_all(&(d.len() as u32).to_le_bytes()).unwrap();
        for id in d {
            f.write_all(&id.to_le_bytes()).unwrap();
        }
    }
    f.flush().unwrap();
    println!(
        "{}",
        serde_json::json!({
            "describe": fast.describe(), "load_s": load_s, "docs": docs.len(), "bytes": text_bytes,
            "tokens": tokens, "seconds": secs, "checked_docs": check,
            "rust_crate_mb_s_on_checked": crate_bytes as f64 / 1e6 / crate_secs,
        })
    );
}

/// cl100k (no added tokens in the text): the fast path against the same split with bpe-openai's
/// encoder for the pieces, each with and without a piece cache.
fn bpe_choice(json_path: &str, docs_path: &str) {
    let bytes = std::fs::read(json_path).unwrap();
    let fast = FastBpe::from_json(&bytes, &[], false).unwrap();
    let split = pretokenize::Splitter::new(pretokenize::CL100K_PATTERN).unwrap();
    let bpe = &bpe_openai::cl100k_base().bpe;
    let docs: Vec<String> = std::fs::read_to_string(docs_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let mb = docs.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    let time = |name: &str, f: &mut dyn FnMut(&str) -> Vec<u32>| {
        let t = Instant::now();
        let ids: Vec<Vec<u32>> = docs.iter().map(|d| f(d)).collect();
        println!("{name:<44} {:>7.2} MB/s", mb / t.elapsed().as_secs_f64());
        ids
    };
    let a = time("merge table + cache (the fast path)", &mut |d| fast.encode(d));
    // The fast path's own cache layout and hash.
    let mut cache: fastbpe::FastMap<Box<[u8]>, Box<[u32]>> = Default::default();
    let b = time("bpe-openai backtracking + cache", &mut |d| {
        let mut out = Vec::new();
        split.for_each(d, |p| {
            if let Some(ids) = cache.get(p.as_bytes()) {
                out.extend_from_slice(ids);
                return;
            }
            let ids = bpe.encode_via_backtracking(p.as_bytes());
            out.extend_from_slice(&ids);
            cache.insert(p.as_bytes().into(), ids.into());
        });
        out
    });
    let c = time("bpe-openai backtracking, no cache", &mut |d| {
        let mut out = Vec::new();
        split.for_each(d, |p| out.extend(bpe.encode_via_backtracking(p.as_bytes())));
        out
    });
    assert!(a == b && b == c, "ids differ");
}
