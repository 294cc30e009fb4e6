//! The built-in cl100k_base encoder gives ids byte-identical to the reference `tokenizers` crate
//! on a tokenizer.json converted from the same ranks, and to bpe-openai's own backtracking
//! encoder (which the built-in used before it went through the fast byte-level BPE), over all
//! text in ../shared/data (skipped with a printed reason when absent), and on tricky strings.

mod common;

use kbcurate::tokenize::convert;
use kbcurate::tokenize::encoder::{Encoder, HfEncoder, TiktokenEncoder};

fn encoders() -> (TiktokenEncoder, HfEncoder) {
    let json = convert::cl100k_base_json();
    (TiktokenEncoder::cl100k_base(), HfEncoder::from_bytes(json.as_bytes()).unwrap())
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

#[test]
fn tricky_strings_match() {
    let (fast, hf) = encoders();
    let reference = TiktokenEncoder::cl100k_base().without_fast_path();
    assert!(fast.describe().contains("fast byte-level BPE"), "{}", fast.describe());
    for s in TRICKY {
        assert_eq!(fast.encode(s).unwrap(), hf.encode(s).unwrap(), "{s:?}");
        assert_eq!(fast.encode(s).unwrap(), reference.encode(s).unwrap(), "{s:?}");
    }
    // A special token's text in a document is text (tiktoken's encode_ordinary), on both paths.
    let s = "slut<|endoftext|>början <|fim_prefix|>";
    assert_eq!(fast.encode(s).unwrap(), reference.encode(s).unwrap());
    assert!(!fast.encode(s).unwrap().contains(&100257));
    assert_eq!(hf.vocab_size(), fast.vocab_size());
    assert_eq!(hf.token_to_id("<|endoftext|>"), Some(100257));
}

#[test]
fn ids_identical_to_tokenizers_on_all_shared_text() {
    let Some(dir) = common::shared("") else { return };
    let (fast, hf) = encoders();
    let reference = TiktokenEncoder::cl100k_base().without_fast_path();
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
    eprintln!("identical ids on {n_texts} texts from {} files: {bytes} bytes, {tokens} tokens", files.len());
    assert!(bytes > 1_000_000, "expected megabytes of text in {}", dir.display());
}
