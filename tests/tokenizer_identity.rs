//! The built-in cl100k_base and o200k_base encoders give ids byte-identical to the reference
//! `tokenizers` crate on a tokenizer.json converted from the same ranks, and to bpe-openai's own
//! backtracking encoder (which the built-ins used before they went through the fast byte-level
//! BPE), over all text in ../shared/data (skipped with a printed reason when absent), and on
//! tricky strings.

mod common;

use kbcurate::tokenize::convert;
use kbcurate::tokenize::encoder::{Encoder, HfEncoder, TiktokenEncoder};

/// The built-in (fast path), the `tokenizers` crate on the same ranks, and bpe-openai alone.
fn encoders(name: &str) -> (TiktokenEncoder, HfEncoder, TiktokenEncoder) {
    let (builtin, json): (fn() -> TiktokenEncoder, String) = match name {
        "cl100k_base" => (TiktokenEncoder::cl100k_base, convert::cl100k_base_json()),
        _ => (TiktokenEncoder::o200k_base, convert::o200k_base_json()),
    };
    (builtin(), HfEncoder::from_bytes(json.as_bytes()).unwrap(), builtin().without_fast_path())
}

const TRICKY: [&str; 7] = [
    "",
    "hello world",
    "Stockholm 1897: 1234567 kr.\r\n\r\n  indrag\t\ttab   ",
    "don't I'LL we've   \n\n\n",
    "ÅÄÖ åäö ſ ﬁ 𝔉raktur — ”citat” «guillemets» 日本語 🙂",
    "   leading and trailing   ",
    "a\u{00a0}b\u{2009}c\u{3000}d",
];

fn tricky_strings_match(name: &str, eot: u32) {
    let (fast, hf, reference) = encoders(name);
    assert!(fast.describe().contains("fast byte-level BPE"), "{}", fast.describe());
    for s in TRICKY {
        assert_eq!(fast.encode(s).unwrap(), hf.encode(s).unwrap(), "{name}: {s:?}");
        assert_eq!(fast.encode(s).unwrap(), reference.encode(s).unwrap(), "{name}: {s:?}");
    }
    // A special token's text in a document is text (tiktoken's encode_ordinary), on both paths.
    let s = "slut<|endoftext|>början <|fim_prefix|>";
    assert_eq!(fast.encode(s).unwrap(), reference.encode(s).unwrap());
    assert!(!fast.encode(s).unwrap().contains(&eot));
    assert_eq!(hf.vocab_size(), fast.vocab_size());
    assert_eq!(hf.token_to_id("<|endoftext|>"), Some(eot));
}

#[test]
fn cl100k_tricky_strings_match() {
    tricky_strings_match("cl100k_base", 100257);
}

/// o200k's split differs from cl100k's (case runs, contractions glued to words, `/` after
/// punctuation): the fast path runs it with regex-automata, not cl100k's hand-written scanner.
#[test]
fn o200k_tricky_strings_match() {
    tricky_strings_match("o200k_base", 199999);
    let (fast, hf, reference) = encoders("o200k_base");
    for s in ["HTTPServer's XMLHttpRequest", "CamelCaseWord I'M", "a//b\\n\r\n/ x", "ǅemal ǈ Ⅻ 𝔉"] {
        assert_eq!(fast.encode(s).unwrap(), hf.encode(s).unwrap(), "{s:?}");
        assert_eq!(fast.encode(s).unwrap(), reference.encode(s).unwrap(), "{s:?}");
    }
}

#[test]
fn cl100k_ids_identical_on_all_shared_text() {
    identical_on_all_shared_text("cl100k_base");
}

#[test]
fn o200k_ids_identical_on_all_shared_text() {
    identical_on_all_shared_text("o200k_base");
}

fn identical_on_all_shared_text(name: &str) {
    let Some(dir) = common::shared("") else { return };
    let (fast, hf, reference) = encoders(name);
    let (mut n_texts, mut bytes, mut tokens) = (0usize, 0usize, 0usize);
    let files = common::texts::files(&dir);
    for f in &files {
        for t in common::texts::texts(f) {
            let a = fast.encode(&t).unwrap();
            let b = hf.encode(&t).unwrap();
            assert_eq!(a, reference.encode(&t).unwrap(), "{}: the fast path differs from bpe-openai", f.display());
            if a != b {
                let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                panic!(
                    "{}: ids differ at token {i}: fast {:?} vs tokenizers {:?}",
                    f.display(),
                    &a[i..(i + 5).min(a.len())],
                    &b[i..(i + 5).min(b.len())]
                );
            }
            n_texts += 1;
            bytes += t.len();
            tokens += a.len();
        }
    }
    eprintln!("{name}: identical ids on {n_texts} texts from {} files: {bytes} bytes, {tokens} tokens", files.len());
    assert!(bytes > 1_000_000, "expected megabytes of text in {}", dir.display());
}
