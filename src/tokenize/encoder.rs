//! Encoders: text → token ids, behind one trait so that another backend (a GPU one) can slot in.
//!
//! Backends:
//! - [`FastHfEncoder`]: a byte-level BPE `tokenizer.json` (what `kbcurate tokenizer train`
//!   writes, cl100k as a tokenizer.json, GPT-2 style files) through [`FastBpe`], with the
//!   `tokenizers` crate's ids; `load` takes it whenever `FastBpe` accepts the file.
//! - [`HfEncoder`]: a Hugging Face `tokenizer.json` through the `tokenizers` crate — the reference,
//!   and what any other `tokenizer.json` gets (its `describe()` says why the fast path was not taken).
//! - [`TiktokenEncoder`]: tiktoken-style byte-level BPE (ranks) through `bpe-openai`'s exact
//!   backtracking encoder: the built-in `cl100k_base` and `o200k_base` (embedded, offline) or a
//!   `*.tiktoken` rank file. Ids equal tiktoken's `encode_ordinary`.
//!
//! Every encoder encodes text as text: no special token is added (BOS/EOS are explicit, see
//! `special.rs`).

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use super::fastbpe::FastBpe;
use super::TokenizeError;

/// Puts an encoder's work on a device (the GPU path, `gpu::OnDevice`): the ids stay the same.
/// The stage never names the GPU; the option resolver gives it one of these.
pub trait EncoderPlacement: Send + Sync {
    /// What this is, for logs (`cuda:0`).
    fn describe(&self) -> String;
    /// `enc`, encoding on the device, or `enc` as it is where the device does not take it.
    fn place(&self, enc: Box<dyn Encoder>) -> Result<Box<dyn Encoder>, crate::device::GpuError>;
}

impl std::fmt::Debug for dyn EncoderPlacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

pub trait Encoder: Send + Sync {
    /// What this is, for people: `HF tokenizer.json (tokenizers crate)`, `cl100k_base (bpe-openai)`.
    fn describe(&self) -> String;
    /// xxh3-128 (32 hex digits) of the tokenizer's definition: the file's bytes, or for a
    /// built-in vocabulary its tokens and pattern.
    fn fingerprint(&self) -> String;
    /// Ids are below this.
    fn vocab_size(&self) -> usize;
    fn token_to_id(&self, token: &str) -> Option<u32>;
    fn id_to_token(&self, id: u32) -> Option<String>;
    /// The tokenizer's special tokens (name, id), for messages and the manifest.
    fn special_tokens(&self) -> Vec<(String, u32)>;
    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError>;
    /// Many texts at once; the default runs [`Encoder::encode`] on rayon's pool. A batched
    /// backend (GPU) overrides it. Output order is input order.
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError> {
        texts.par_iter().map(|t| self.encode(t)).collect()
    }
    /// The tiktoken-style byte-level BPE (ranks and pre-tokenization) behind this encoder, when
    /// it is one: what another backend needs to give the same ids (`tokenize::merge`, the GPU).
    fn rank_bpe(&self) -> Option<&bpe_openai::Tokenizer> {
        None
    }
}

/// Built-in vocabulary names.
pub const BUILTINS: [&str; 2] = ["cl100k_base", "o200k_base"];

/// Loads `spec`: a built-in name, a `tokenizer.json`, or a `*.tiktoken` rank file.
pub fn load(spec: &str) -> Result<Box<dyn Encoder>, TokenizeError> {
    let err = |why: String| TokenizeError::Tokenizer { spec: spec.to_string(), why };
    match spec {
        "cl100k_base" => return Ok(Box::new(TiktokenEncoder::cl100k_base())),
        "o200k_base" => return Ok(Box::new(TiktokenEncoder::o200k_base())),
        _ => {}
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(err(format!(
            "no such file, and not a built-in name ({}); give a tokenizer.json, a *.tiktoken rank file or a \
             built-in name",
            BUILTINS.join(", ")
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if spec.ends_with(".tiktoken") {
        let text = String::from_utf8(bytes).map_err(|_| err("a rank file is UTF-8 text".into()))?;
        return TiktokenEncoder::from_rank_file(&text).map_err(err);
    }
    let mut hf = HfEncoder::from_bytes(&bytes).map_err(err)?;
    match FastHfEncoder::try_new(&bytes, &hf) {
        Ok(fast) => Ok(Box::new(FastHfEncoder { hf, fast })),
        Err(why) => {
            hf.not_fast = Some(why);
            Ok(Box::new(hf))
        }
    }
}

fn hex128(h: u128) -> String {
    format!("{h:032x}")
}

/// A Hugging Face `tokenizer.json`, encoded by the `tokenizers` crate (no truncation, no
/// padding, no post-processor specials).
pub struct HfEncoder {
    tok: tokenizers::Tokenizer,
    hash: String,
    /// Why `load` did not take the fast path, for `describe()`.
    not_fast: Option<String>,
}

impl HfEncoder {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut tok = tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| format!("not a tokenizer.json: {e}"))?;
        tok.with_truncation(None).map_err(|e| e.to_string())?;
        tok.with_padding(None);
        Ok(HfEncoder { tok, hash: hex128(xxhash_rust::xxh3::xxh3_128(bytes)), not_fast: None })
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.tok
    }
}

impl Encoder for HfEncoder {
    fn describe(&self) -> String {
        match &self.not_fast {
            Some(why) => format!("HF tokenizer.json (tokenizers crate; no fast path: {why})"),
            None => "HF tokenizer.json (tokenizers crate)".into(),
        }
    }
    fn fingerprint(&self) -> String {
        self.hash.clone()
    }
    fn vocab_size(&self) -> usize {
        let max_added = self.tok.get_added_tokens_decoder().keys().max().map_or(0, |&m| m as usize + 1);
        self.tok.get_vocab_size(true).max(max_added)
    }
    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.tok.token_to_id(token)
    }
    fn id_to_token(&self, id: u32) -> Option<String> {
        self.tok.id_to_token(id)
    }
    fn special_tokens(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self
            .tok
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (t.content, id))
            .collect();
        v.sort_by_key(|(_, id)| *id);
        v
    }
    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        let enc = self
            .tok
            .encode_fast(text, false)
            .map_err(|e| TokenizeError::Tokenizer { spec: "tokenizer.json".into(), why: e.to_string() })?;
        Ok(enc.get_ids().to_vec())
    }
}

/// A byte-level BPE `tokenizer.json` encoded by [`FastBpe`]: the ids of the `tokenizers` crate
/// (checked on all of ../shared/data by `tests/tokenizer_identity.rs`), the crate kept for
/// everything else (vocabulary, special tokens, fingerprint: the same as [`HfEncoder`]'s, so a
/// manifest does not depend on the path taken).
pub struct FastHfEncoder {
    hf: HfEncoder,
    fast: FastBpe,
}

impl FastHfEncoder {
    /// The fast encoder of the file `bytes` that `hf` loaded, or why there is none.
    pub fn try_new(bytes: &[u8], hf: &HfEncoder) -> Result<FastBpe, String> {
        FastBpe::from_hf(bytes, &hf.tok)
    }

    /// The fast encoder for a `tokenizer.json`, or why the file does not take the fast path.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let hf = HfEncoder::from_bytes(bytes)?;
        let fast = Self::try_new(bytes, &hf)?;
        Ok(FastHfEncoder { hf, fast })
    }
}

impl Encoder for FastHfEncoder {
    fn describe(&self) -> String {
        format!("HF tokenizer.json (fast byte-level BPE: {}; ids as the tokenizers crate's)", self.fast.describe())
    }
    fn fingerprint(&self) -> String {
        self.hf.fingerprint()
    }
    fn vocab_size(&self) -> usize {
        self.hf.vocab_size()
    }
    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.hf.token_to_id(token)
    }
    fn id_to_token(&self, id: u32) -> Option<String> {
        self.hf.id_to_token(id)
    }
    fn special_tokens(&self) -> Vec<(String, u32)> {
        self.hf.special_tokens()
    }
    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        Ok(self.fast.encode(text))
    }
}

/// tiktoken's cl100k_base pre-tokenization, split as `bpe-openai` does (a look-ahead emulated by
/// a second pattern) — the same split as tiktoken's regex.
const CL100K_PATTERNS: [(&str, bool); 3] = [
    (
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+$",
        false,
    ),
    ("\\s+\\s", true),
    ("\\s+", false),
];

/// The hash factor bpe-openai uses for its embedded vocabularies (collision-free for them).
const HASH_FACTOR: u64 = 17846336922010275747;

enum Bpe {
    Static(&'static bpe_openai::Tokenizer),
    Owned(Box<bpe_openai::Tokenizer>),
}

/// Byte-level BPE by ranks (tiktoken's model) through `bpe-openai`.
pub struct TiktokenEncoder {
    name: String,
    bpe: Bpe,
    specials: Vec<(String, u32)>,
    by_name: HashMap<String, u32>,
    hash: String,
    /// The built-ins only: the same ranks through [`FastBpe`] (built from the ranks by the
    /// function held here: the encoder of the vocabulary as a tokenizer.json without specials,
    /// without the file), several times faster than bpe-openai's backtracking encoder on this
    /// text and giving its ids (tests/tokenizer_identity.rs holds all three equal on
    /// ../shared/data). Built on the first encode: finding 100k–200k tokens' merges costs a
    /// moment (0.2 s for cl100k_base, 0.7 s for o200k_base) that loading alone should not.
    fast: Option<LazyFast>,
}

/// A built-in's fast path: the function that builds it from the ranks, and the encoder it
/// built on first use.
type LazyFast = (fn() -> FastBpe, std::sync::OnceLock<FastBpe>);

impl TiktokenEncoder {
    fn new(name: &str, bpe: Bpe, specials: &[(&str, u32)], pattern: &str) -> Self {
        let specials: Vec<(String, u32)> = specials.iter().map(|(n, i)| (n.to_string(), *i)).collect();
        let by_name = specials.iter().cloned().collect();
        let tok = match &bpe {
            Bpe::Static(t) => *t,
            Bpe::Owned(t) => t,
        };
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(pattern.as_bytes());
        for id in 0..tok.bpe.num_tokens() as u32 {
            let b = tok.bpe.token_bytes(id);
            h.update(&(b.len() as u32).to_le_bytes());
            h.update(b);
        }
        for (n, i) in &specials {
            h.update(n.as_bytes());
            h.update(&i.to_le_bytes());
        }
        TiktokenEncoder { name: name.to_string(), bpe, specials, by_name, hash: hex128(h.digest128()), fast: None }
    }

    /// The fast path of a built-in, built on first use.
    fn fast(&self) -> Option<&FastBpe> {
        self.fast.as_ref().map(|(build, cell)| cell.get_or_init(build))
    }

    /// The encoder bpe-openai's backtracking encoder alone (no fast path): the reference the
    /// fast path is tested against.
    pub fn without_fast_path(mut self) -> Self {
        self.fast = None;
        self
    }

    fn tok(&self) -> &bpe_openai::Tokenizer {
        match &self.bpe {
            Bpe::Static(t) => t,
            Bpe::Owned(t) => t,
        }
    }

    pub fn cl100k_base() -> Self {
        let mut e = Self::new(
            "cl100k_base",
            Bpe::Static(bpe_openai::cl100k_base()),
            &super::convert::CL100K_SPECIALS,
            "cl100k_base",
        );
        e.fast = Some((super::fastbpe::cl100k_base_fast, std::sync::OnceLock::new()));
        e
    }

    pub fn o200k_base() -> Self {
        let mut e = Self::new(
            "o200k_base",
            Bpe::Static(bpe_openai::o200k_base()),
            &super::convert::O200K_SPECIALS,
            "o200k_base",
        );
        e.fast = Some((super::fastbpe::o200k_base_fast, std::sync::OnceLock::new()));
        e
    }

    /// A tiktoken rank file (`base64-token rank` per line, ranks 0..n in order), split with
    /// cl100k_base's pattern. Special tokens are not part of a rank file: name them by id.
    pub fn from_rank_file(text: &str) -> Result<Box<dyn Encoder>, String> {
        for (n, line) in text.lines().enumerate() {
            let rank = line.split_whitespace().nth(1).and_then(|r| r.parse::<usize>().ok());
            if rank != Some(n) {
                return Err(format!("line {}: expected `<base64 token> {n}`, found `{line}`", n + 1));
            }
        }
        let bpe = bpe::byte_pair_encoding::BytePairEncoding::from_tiktoken(text, Some(HASH_FACTOR))
            .map_err(|e| format!("not a tiktoken rank file: {e}"))?;
        let tok =
            bpe_openai::Tokenizer::new_lookahead(bpe, &CL100K_PATTERNS, false).map_err(|e| format!("pattern: {e}"))?;
        Ok(Box::new(Self::new("rank file", Bpe::Owned(Box::new(tok)), &[], CL100K_PATTERNS[0].0)))
    }
}

impl Encoder for TiktokenEncoder {
    fn describe(&self) -> String {
        match &self.fast {
            Some(_) => format!("{} (bpe-openai ranks; encoded by the fast byte-level BPE)", self.name),
            None => format!("{} (bpe-openai)", self.name),
        }
    }
    fn fingerprint(&self) -> String {
        self.hash.clone()
    }
    fn vocab_size(&self) -> usize {
        let max_special = self.specials.iter().map(|(_, i)| *i as usize + 1).max().unwrap_or(0);
        self.tok().bpe.num_tokens().max(max_special)
    }
    fn token_to_id(&self, token: &str) -> Option<u32> {
        if let Some(&id) = self.by_name.get(token) {
            return Some(id);
        }
        // A plain token: the one whose bytes are exactly these.
        let ids = self.tok().bpe.encode_via_backtracking(token.as_bytes());
        (ids.len() == 1 && self.tok().bpe.token_bytes(ids[0]) == token.as_bytes()).then(|| ids[0])
    }
    fn id_to_token(&self, id: u32) -> Option<String> {
        if let Some((n, _)) = self.specials.iter().find(|(_, i)| *i == id) {
            return Some(n.clone());
        }
        ((id as usize) < self.tok().bpe.num_tokens())
            .then(|| String::from_utf8_lossy(self.tok().bpe.token_bytes(id)).into_owned())
    }
    fn special_tokens(&self) -> Vec<(String, u32)> {
        self.specials.clone()
    }
    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        Ok(match self.fast() {
            Some(f) => f.encode(text),
            None => self.tok().encode(text),
        })
    }
    fn rank_bpe(&self) -> Option<&bpe_openai::Tokenizer> {
        Some(self.tok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cl100k_known_ids_and_specials() {
        let e = load("cl100k_base").unwrap();
        // tiktoken: enc.encode("hello world") == [15339, 1917]
        assert_eq!(e.encode("hello world").unwrap(), vec![15339, 1917]);
        assert_eq!(e.token_to_id("<|endoftext|>"), Some(100257));
        assert_eq!(e.id_to_token(100257).as_deref(), Some("<|endoftext|>"));
        assert_eq!(e.vocab_size(), 100277);
        // The special token's text is encoded as text, not as the special id.
        assert!(!e.encode("a <|endoftext|> b").unwrap().contains(&100257));
    }

    #[test]
    fn unknown_spec_names_the_problem() {
        let err = load("no-such-tokenizer.json").err().unwrap().to_string();
        assert!(err.contains("no-such-tokenizer.json") && err.contains("cl100k_base"), "{err}");
    }

    #[test]
    fn rank_file_from_builtin_tokens_encodes_like_builtin() {
        use std::fmt::Write;
        let builtin = bpe_openai::cl100k_base();
        let b64 = |b: &[u8]| {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut s = String::new();
            for c in b.chunks(3) {
                let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
                for k in 0..4 {
                    if k <= c.len() {
                        s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
                    } else {
                        s.push('=');
                    }
                }
            }
            s
        };
        let mut text = String::new();
        for id in 0..builtin.bpe.num_tokens() as u32 {
            writeln!(text, "{} {id}", b64(builtin.bpe.token_bytes(id))).unwrap();
        }
        let e = TiktokenEncoder::from_rank_file(&text).unwrap();
        let sample = "Stockholms stad 1897: Riksdagen beslöt   att 12345 kronor\r\nskulle anslås. Hej!";
        assert_eq!(e.encode(sample).unwrap(), builtin.encode(sample));
        assert_eq!(e.vocab_size(), 100256);
        assert!(TiktokenEncoder::from_rank_file("QQ== 0\nQg== 5\n").err().unwrap().contains("line 2"));
    }
}
