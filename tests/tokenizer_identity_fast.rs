//! The fast `tokenizer.json` path (`tokenize::fastbpe`) gives the `tokenizers` crate's ids, over
//! all text of ../shared/data (skipped with a printed reason when absent), for:
//!
//! - a byte-level BPE trained by `kbcurate::tokenize::train::train` on that text (a 32k
//!   vocabulary in a release build; 8k in a debug build, where training 32k takes too long —
//!   set `KBCURATE_TRAIN_VOCAB` to choose),
//! - cl100k_base converted to a tokenizer.json,
//! - the trained file with its merges shuffled out of id order (still the fast path: the merge
//!   rule is the crate's, not tiktoken's),
//! - and a file that must not take the fast path (a normalizer): `load` falls back to the crate
//!   and says so.

mod common;

use std::io::Write;
use std::path::Path;

use kbcurate::tokenize::convert;
use kbcurate::tokenize::encoder::{self, Encoder, FastHfEncoder, HfEncoder};

/// Ids of both encoders on every text; the number of texts, bytes and tokens compared.
fn compare(name: &str, fast: &dyn Encoder, hf: &HfEncoder, texts: &[String]) -> (usize, usize, usize) {
    let (mut bytes, mut tokens) = (0, 0);
    let batch: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = fast.encode_batch(&batch).unwrap();
    for (t, a) in texts.iter().zip(&got) {
        let b = hf.encode(t).unwrap();
        if *a != b {
            let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            panic!(
                "{name}: ids differ at token {i}: fast {:?} vs tokenizers {:?} in {:?}",
                &a[i..(i + 5).min(a.len())],
                &b[i..(i + 5).min(b.len())],
                &t[..t.len().min(200)]
            );
        }
        bytes += t.len();
        tokens += a.len();
    }
    eprintln!("{name}: identical ids on {} texts, {bytes} bytes, {tokens} tokens", texts.len());
    (texts.len(), bytes, tokens)
}

fn tricky() -> Vec<String> {
    [
        "",
        "hello world",
        "Stockholm 1897: 1234567 kr.\r\n\r\n  indrag\t\ttab   ",
        "don't I'LL we've   \n\n\n 'S 'ſ",
        "ÅÄÖ åäö ſ ﬁ 𝔉raktur — ”citat” «guillemets» 日本語 🙂",
        "a\u{00a0}b\u{2009}c\u{3000}d",
        "a <|endoftext|> b<|endoftext|><|endoftext|>c <|endoftext",
        &"=".repeat(3000),
        &" ".repeat(700),
    ]
    .map(String::from)
    .to_vec()
}

/// The shared text written as a dataset (JSONL ingested) and a tokenizer trained on it.
fn trained(dir: &Path, texts: &[String]) -> std::path::PathBuf {
    use kbcurate::tokenize::train::{train, TrainOptions};
    let mut f = std::fs::File::create(dir.join("s.jsonl")).unwrap();
    for t in texts {
        writeln!(f, "{}", serde_json::json!({ "text": t, "source": "shared" })).unwrap();
    }
    drop(f);
    let ds = dir.join("ds");
    let cfg = common::config("[[collection]]\nname = \"s\"\npaths = [\"s.jsonl\"]\n");
    common::run(&cfg, dir, &ds, |_| {});
    let vocab = std::env::var("KBCURATE_TRAIN_VOCAB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 8000 } else { 32000 });
    let out = dir.join("trained.json");
    let mut o = TrainOptions::new(&out, vocab);
    o.threads = Some(2);
    let s = train(&ds, &o).unwrap();
    eprintln!("trained a {}-token byte-level BPE on {} documents", s.vocab_size, s.documents_fed);
    out
}

#[test]
fn fast_path_ids_identical_to_tokenizers_on_all_shared_text() {
    let Some(dir) = common::shared("") else { return };
    let mut texts = common::texts::all_texts(&dir);
    texts.extend(tricky());
    let work = tempfile::tempdir().unwrap();

    // (a) trained by kbcurate.
    let path = trained(work.path(), &texts);
    let json = std::fs::read(&path).unwrap();
    let enc = encoder::load(path.to_str().unwrap()).unwrap();
    assert!(enc.describe().contains("fast byte-level BPE: cl100k split"), "{}", enc.describe());
    let hf = HfEncoder::from_bytes(&json).unwrap();
    let (_, bytes, _) = compare("trained", enc.as_ref(), &hf, &texts);
    assert!(bytes > 1_000_000, "expected megabytes of text in {}", dir.display());
    // The special token written in a text is its id, as with the crate.
    assert!(enc.encode("a <|endoftext|> b").unwrap().contains(&0));

    // Merges out of id order: shuffled (a fixed permutation), the ids still the crate's.
    let mut doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let merges = doc["model"]["merges"].as_array_mut().unwrap();
    let n = merges.len();
    for i in 0..n {
        merges.swap(i, (i * 7919 + 13) % n);
    }
    let shuffled = serde_json::to_vec(&doc).unwrap();
    let fast = FastHfEncoder::from_bytes(&shuffled).unwrap();
    compare("trained, merges shuffled", &fast, &HfEncoder::from_bytes(&shuffled).unwrap(), &texts);

    // (b) cl100k_base as a tokenizer.json.
    let cl = convert::cl100k_base_json();
    let fast = FastHfEncoder::from_bytes(cl.as_bytes()).unwrap();
    let hf = HfEncoder::from_bytes(cl.as_bytes()).unwrap();
    compare("cl100k_base tokenizer.json", &fast, &hf, &texts);
    assert!(fast.encode("x<|endoftext|>y").unwrap().contains(&100257));

    // (c) GPT-2's shape: `ByteLevel(use_regex = true)` splits with GPT-2's pattern (contractions,
    // `\s+(?!\S)`), with GPT-2's own pre-tokenizer, post-processor and decoder blocks (as in its
    // tokenizer.json), over two real vocabularies: cl100k_base's and the trained one.
    let gpt2_style = |json: &[u8]| -> Vec<u8> {
        let mut doc: serde_json::Value = serde_json::from_slice(json).unwrap();
        let byte_level = |prefix: bool, trim: bool| serde_json::json!({"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": true});
        doc["pre_tokenizer"] = byte_level(false, true);
        doc["post_processor"] = byte_level(true, false);
        doc["decoder"] = byte_level(true, true);
        serde_json::to_vec(&doc).unwrap()
    };
    for (name, json) in [
        ("cl100k vocabulary, GPT-2 pre-tokenizer", gpt2_style(cl.as_bytes())),
        ("trained vocabulary, GPT-2 pre-tokenizer", gpt2_style(&json)),
    ] {
        let fast = FastHfEncoder::from_bytes(&json).unwrap();
        assert!(fast.describe().contains("split by regex-automata"), "{name}: {}", fast.describe());
        let hf = HfEncoder::from_bytes(&json).unwrap();
        compare(name, &fast, &hf, &texts);
    }
    // The GPT-2 split is really another one than cl100k's (same vocabulary, other ids).
    let gpt2 = FastHfEncoder::from_bytes(&gpt2_style(cl.as_bytes())).unwrap();
    let cl100k = FastHfEncoder::from_bytes(cl.as_bytes()).unwrap();
    assert!(texts.iter().any(|t| gpt2.encode(t).unwrap() != cl100k.encode(t).unwrap()));
}

#[test]
fn a_normalizer_falls_back_to_the_crate_and_says_why() {
    let Some(dir) = common::shared("") else { return };
    let mut texts = common::texts::all_texts(&dir);
    texts.truncate(60);
    texts.extend(tricky());
    let mut doc: serde_json::Value = serde_json::from_str(&convert::cl100k_base_json()).unwrap();
    doc["normalizer"] = serde_json::json!({"type": "NFC"});
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("nfc.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let enc = encoder::load(path.to_str().unwrap()).unwrap();
    assert!(enc.describe().contains("no fast path: a normalizer (NFC)"), "{}", enc.describe());
    let hf = HfEncoder::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    compare("NFC (fallback)", enc.as_ref(), &hf, &texts);
    // A shape the fast path refuses is refused by name.
    let e = FastHfEncoder::from_bytes(&std::fs::read(&path).unwrap()).err().unwrap();
    assert!(e.contains("normalizer"), "{e}");
}
