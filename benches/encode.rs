//! Encoding throughput, one thread: the fast encoder (bpe-openai, cl100k_base) against the
//! `tokenizers` crate on the same vocabulary (tokenizer.json converted from the ranks), on the
//! text of ../shared/data (JSONL `text` fields and files), repeated to ~20 MB. Checks the ids
//! are identical while measuring. Then the one-time cost of building a built-in's fast encoder.
//!
//! ```sh
//! cargo bench --bench encode
//! ```

use std::time::Instant;

fn texts() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut out = Vec::new();
    for p in glob::glob(&format!("{}/**/*.jsonl", dir.display())).unwrap().flatten() {
        for l in std::fs::read_to_string(&p).unwrap_or_default().lines() {
            if let Some(t) =
                serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["text"].as_str().map(String::from))
            {
                out.push(t);
            }
        }
    }
    if out.is_empty() {
        eprintln!("../shared/data not found: generated text");
        out = (0..2000)
            .map(|i| format!("Stockholm den {i} mars. Ångaren Freja anlände i går till Skeppsbron. ").repeat(30))
            .collect();
    }
    let base = out.clone();
    while out.iter().map(String::len).sum::<usize>() < 20_000_000 {
        out.extend(base.iter().cloned());
    }
    out
}

fn main() {
    let texts = texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let json = kbcurate::tokenize::convert::cl100k_base_json();
    let hf = tokenizers::Tokenizer::from_bytes(json.as_bytes()).unwrap();
    let fast = bpe_openai::cl100k_base();
    let _ = fast.encode("warm up");
    let t = Instant::now();
    let a: Vec<Vec<u32>> = texts.iter().map(|s| fast.encode(s.as_str())).collect();
    let fast_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let b: Vec<Vec<u32>> =
        texts.iter().map(|s| hf.encode_fast(s.as_str(), false).unwrap().get_ids().to_vec()).collect();
    let hf_s = t.elapsed().as_secs_f64();
    let tokens: usize = a.iter().map(Vec::len).sum();
    assert!(a == b, "ids differ");
    println!("{} texts, {:.1} MB, {tokens} tokens (cl100k_base), ids identical", texts.len(), bytes as f64 / 1e6);
    for (name, s) in [("bpe-openai (kbcurate)", fast_s), ("tokenizers crate", hf_s)] {
        println!("{name:<22} {:>7.2} MB/s  {:>9.0} tokens/s  (one thread)", bytes as f64 / 1e6 / s, tokens as f64 / s);
    }

    use kbcurate::tokenize::{convert, encoder::FastHfEncoder, fastbpe};
    // The CPU path as the tokenize stage runs it for each built-in: the split alone, then the
    // whole encoding (split, piece cache, merges), one thread, on the same text.
    use kbcurate::tokenize::pretokenize::Splitter;
    println!("\nthe built-ins' fast encoders (the CPU path of `kbcurate tokenize`), one thread:");
    for (name, pattern, fast) in [
        ("cl100k_base", convert::CL100K_HF_PATTERN, fastbpe::cl100k_base_fast as fn() -> _),
        ("o200k_base", convert::O200K_HF_PATTERN, fastbpe::o200k_base_fast),
    ] {
        let splitter = Splitter::new(pattern).unwrap();
        let t = Instant::now();
        let mut pieces = 0usize;
        for s in &texts {
            splitter.for_each(s, |_| pieces += 1);
        }
        let split_s = t.elapsed().as_secs_f64();
        let enc = fast();
        let t = Instant::now();
        let ids: usize = texts.iter().map(|s| enc.encode(s).len()).sum();
        let enc_s = t.elapsed().as_secs_f64();
        println!(
            "  {name:<12} split ({}) {:>7.2} MB/s, {pieces} pieces; encode {:>6.2} MB/s, {ids} tokens",
            splitter.describe(),
            bytes as f64 / 1e6 / split_s,
            bytes as f64 / 1e6 / enc_s
        );
    }

    // What every process that encodes with a built-in pays once: building its fast encoder,
    // from the ranks directly, against the way it was built before (writing the vocabulary as
    // a tokenizer.json and loading that).
    println!("\nbuilding a built-in's fast encoder (once per process):");
    for (name, direct, json) in [
        ("cl100k_base", fastbpe::cl100k_base_fast as fn() -> _, convert::cl100k_base_ordinary_json as fn() -> String),
        ("o200k_base", fastbpe::o200k_base_fast, convert::o200k_base_ordinary_json),
    ] {
        let t = Instant::now();
        std::hint::black_box(direct());
        let direct_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::hint::black_box(FastHfEncoder::from_bytes(json().as_bytes()).unwrap());
        let json_s = t.elapsed().as_secs_f64();
        println!("  {name:<12} from the ranks {direct_s:.2} s; through a tokenizer.json {json_s:.2} s");
    }
}
