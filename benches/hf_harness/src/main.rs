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
//! ```

// At the crate root, as `fastbpe` reaches `convert` through `super::`.
#[allow(dead_code)]
#[path = "../../../src/tokenize/convert.rs"]
mod convert;
#[allow(dead_code)]
#[path = "../../../src/tokenize/fastbpe.rs"]
mod fastbpe;

use std::io::Write;
use std::time::Instant;

use fastbpe::{AddedTokenSpec, FastBpe};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("cl100k-json") => std::fs::write(&args[2], convert::cl100k_base_json()).unwrap(),
        Some("encode") => encode(&args[2], &args[3], &args[4], args.get(5).map_or(2000, |n| n.parse().unwrap())),
        _ => panic!("usage: see the source"),
    }
}

fn encode(json_path: &str, docs_path: &str, ids_path: &str, check: usize) {
    let bytes = std::fs::read(json_path).unwrap();
    let hf = tokenizers::Tokenizer::from_bytes(&bytes).unwrap();
    let added: Vec<AddedTokenSpec> = hf
        .get_added_tokens_decoder()
        .into_iter()
        .map(|(id, t)| AddedTokenSpec {
            content: t.content,
            id,
            normalized: t.normalized,
            single_word: t.single_word,
            lstrip: t.lstrip,
            rstrip: t.rstrip,
        })
        .collect();
    let t = Instant::now();
    let fast = FastBpe::from_json(&bytes, &added, hf.get_encode_special_tokens()).expect("takes the fast path");
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
