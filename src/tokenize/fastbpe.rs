//! A fast encoder for byte-level BPE `tokenizer.json` files, giving the `tokenizers` crate's ids.
//!
//! Why: `kbcurate tokenizer train` writes a `tokenizer.json`, and the `tokenizers` crate encodes
//! one at well under 1 MB/s per core on this kind of text — most of it in its generic machinery
//! (normalized strings with alignments, a backtracking regex for the split, a `Token` with a
//! `String` per token). A byte-level BPE with no normalizer needs none of that: split the text
//! into pieces, encode each distinct piece once (a per-thread piece → ids cache), copy ids.
//!
//! **When.** [`FastBpe::from_json`] accepts a file only when every step it takes is provably the
//! crate's; otherwise it says why, and the caller keeps the crate (`encoder::load`):
//!
//! - model `BPE` without dropout, no continuing-subword prefix or end-of-word suffix, and all 256
//!   byte-level characters in the vocabulary (so `unk_token` and `byte_fallback` never act);
//!   `ignore_merges` is honoured (a piece that is a token is that token, as the crate does);
//! - no normalizer (or an empty sequence);
//! - pre-tokenizer `Split(regex, Isolated)` + `ByteLevel(use_regex = false)`, or
//!   `ByteLevel(use_regex = true)` (GPT-2's pattern), without a prefix space. The regex must be
//!   one the `regex` engine runs with the crate's meaning: no look-around except the closing
//!   `\s+(?!\S)|\s+` idiom (emulated, see [`Splitter`]), and no empty match;
//! - added tokens without `single_word`, `lstrip` or `rstrip`, and special tokens not encoded as
//!   text (`encode_special_tokens` off); a post-processor that adds nothing when no special
//!   tokens are asked for.
//!
//! **The merges.** The merge loop is the crate's rule, not tiktoken's: a pair merges only if it
//! is in `merges`, the lowest merge index first, the leftmost on a tie. So the ids are the
//! crate's whatever the order of the merges relative to the ids (a file whose merges are out of
//! id order still takes this path, and still gets the crate's ids; tested). The one case the
//! crate resolves differently — two merges producing the same token, where the crate's queue can
//! apply an expired entry — is refused.
//!
//! **Added tokens** are cut out of the text first, exactly as the crate's `AddedVocabulary`
//! does: leftmost-longest matches of the non-normalized tokens, then of the normalized ones in
//! what is left (with no normalizer the two passes see the same text). A special token written
//! in a document therefore becomes its id, as with the crate.
//!
//! **The split** is `pretokenize`'s: hand-written scanners for cl100k's pattern (the one
//! `tokenizer train` writes) and o200k's, `regex-automata` for any other.

use std::cell::RefCell;
use std::collections::HashMap;

use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde_json::Value;

use super::pretokenize::{Splitter, GPT2_PATTERN};

/// Pieces longer than this are encoded but not cached (as the crate's own cache).
const MAX_CACHED_PIECE: usize = 256;
/// Pieces cached per thread (at most a few tens of MB); a full cache is emptied. 2^16 made
/// ../shared/data 1.5–2× slower than 2^19: OCR text has many distinct pieces.
const CACHE_PIECES: usize = 1 << 19;

pub(crate) use super::piece_map::FastMap;

// ---------------------------------------------------------------------------------------------
// BPE by the crate's rule.

/// No merge for this pair.
const NO_MERGE: u64 = u64::MAX;

struct Merges {
    /// `left << 32 | right` → `merge index << 32 | id`.
    pairs: FastMap<u64, u64>,
    byte_ids: [u32; 256],
    /// `ignore_merges`: the tokens, by their bytes.
    whole: Option<FastMap<Box<[u8]>, u32>>,
}

impl Merges {
    #[inline]
    fn lookup(&self, l: u32, r: u32) -> u64 {
        self.pairs.get(&((l as u64) << 32 | r as u64)).copied().unwrap_or(NO_MERGE)
    }

    /// The ids of one piece, appended to `out`.
    fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        if let Some(id) = self.whole.as_ref().and_then(|w| w.get(piece)) {
            out.push(*id);
            return;
        }
        let from = out.len();
        out.extend(piece.iter().map(|&b| self.byte_ids[b as usize]));
        if piece.len() > 64 {
            self.merge_long(out, from);
            return;
        }
        let sym = &mut out[from..];
        let mut n = sym.len();
        // ranks[i]: the merge of sym[i] and sym[i + 1].
        let mut ranks = [NO_MERGE; 64];
        for i in 0..n.saturating_sub(1) {
            ranks[i] = self.lookup(sym[i], sym[i + 1]);
        }
        while n > 1 {
            let (mut best, mut j) = (NO_MERGE, 0);
            for (i, &r) in ranks[..n - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    j = i;
                }
            }
            if best == NO_MERGE {
                break;
            }
            sym[j] = best as u32;
            sym.copy_within(j + 2..n, j + 1);
            ranks.copy_within(j + 1..n - 1, j);
            n -= 1;
            if j > 0 {
                ranks[j - 1] = self.lookup(sym[j - 1], sym[j]);
            }
            if j + 1 < n {
                ranks[j] = self.lookup(sym[j], sym[j + 1]);
            }
        }
        out.truncate(from + n);
    }

    /// The same rule for a long piece: a heap of candidate merges (merge index, position) over a
    /// linked list, as the crate does, so a long run costs n log n, not n².
    fn merge_long(&self, out: &mut Vec<u32>, from: usize) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut sym: Vec<u32> = out.split_off(from);
        let n = sym.len();
        let (mut prev, mut next): (Vec<usize>, Vec<usize>) =
            ((0..n).map(|i| i.wrapping_sub(1)).collect(), (1..=n).collect());
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        for i in 0..n - 1 {
            let r = self.lookup(sym[i], sym[i + 1]);
            if r != NO_MERGE {
                heap.push(Reverse((r >> 32, i, r as u32)));
            }
        }
        while let Some(Reverse((_, i, id))) = heap.pop() {
            if !alive[i] || next[i] >= n {
                continue;
            }
            let j = next[i];
            // An expired entry: the pair at i changed since.
            let now = self.lookup(sym[i], sym[j]);
            if now == NO_MERGE || now as u32 != id {
                continue;
            }
            sym[i] = id;
            alive[j] = false;
            next[i] = next[j];
            if next[j] < n {
                prev[next[j]] = i;
            }
            if prev[i] < n {
                let r = self.lookup(sym[prev[i]], sym[i]);
                if r != NO_MERGE {
                    heap.push(Reverse((r >> 32, prev[i], r as u32)));
                }
            }
            if next[i] < n {
                let r = self.lookup(sym[i], sym[next[i]]);
                if r != NO_MERGE {
                    heap.push(Reverse((r >> 32, i, r as u32)));
                }
            }
        }
        out.extend((0..n).filter(|&i| alive[i]).map(|i| sym[i]));
    }
}

// ---------------------------------------------------------------------------------------------
// Added tokens.

/// The crate's `AddedVocabulary` split: leftmost-longest matches.
struct AddedSplit {
    ac: AhoCorasick,
    ids: Vec<u32>,
}

impl AddedSplit {
    fn new(tokens: &[(String, u32)]) -> Result<Option<Self>, String> {
        if tokens.is_empty() {
            return Ok(None);
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(tokens.iter().map(|(t, _)| t.as_str()))
            .map_err(|e| format!("added tokens: {e}"))?;
        Ok(Some(AddedSplit { ac, ids: tokens.iter().map(|(_, id)| *id).collect() }))
    }
}

/// A run of text between added tokens, or an added token.
enum Seg<'a> {
    Text(&'a str),
    Token(u32),
}

/// Cuts the added tokens out of `s`, in order, onto `out`.
fn split_added<'a>(split: Option<&AddedSplit>, s: &'a str, out: &mut Vec<Seg<'a>>) {
    let Some(a) = split else {
        out.push(Seg::Text(s));
        return;
    };
    let mut at = 0;
    for m in a.ac.find_iter(s) {
        if m.start() > at {
            out.push(Seg::Text(&s[at..m.start()]));
        }
        out.push(Seg::Token(a.ids[m.pattern().as_usize()]));
        at = m.end();
    }
    if at < s.len() {
        out.push(Seg::Text(&s[at..]));
    }
}

// ---------------------------------------------------------------------------------------------
// The encoder.

/// An added token as the `tokenizers` crate holds it (content, id and flags).
#[derive(Debug, Clone)]
pub struct AddedTokenSpec {
    pub content: String,
    pub id: u32,
    pub normalized: bool,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct PieceCache {
    owner: u64,
    map: FastMap<Box<[u8]>, Box<[u32]>>,
}

thread_local! {
    static CACHE: RefCell<PieceCache> = RefCell::new(PieceCache { owner: 0, map: FastMap::default() });
}

/// A byte-level BPE `tokenizer.json` encoded without the `tokenizers` crate, with its ids.
pub struct FastBpe {
    splitter: Splitter,
    merges: Merges,
    /// Non-normalized added tokens, then normalized ones (cut from what the first left).
    added: [Option<AddedSplit>; 2],
    /// Tells this encoder's entries in the thread-local cache from another's.
    id: u64,
}

fn is_noop_post_processor(v: &Value) -> bool {
    match v["type"].as_str() {
        None if v.is_null() => true,
        Some("ByteLevel" | "TemplateProcessing" | "BertProcessing" | "RobertaProcessing") => true,
        Some("Sequence") => v["processors"].as_array().is_some_and(|p| p.iter().all(is_noop_post_processor)),
        _ => false,
    }
}

/// The split pattern of an accepted pre-tokenizer, or why it is not one.
fn split_pattern(pre: &Value) -> Result<String, String> {
    let byte_level_ok = |b: &Value| {
        if b["add_prefix_space"].as_bool() != Some(false) {
            return Err("ByteLevel adds a prefix space".to_string());
        }
        Ok(b["use_regex"].as_bool().unwrap_or(true))
    };
    let steps: Vec<&Value> = match pre["type"].as_str() {
        Some("Sequence") => pre["pretokenizers"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
        Some(_) => vec![pre],
        None => return Err("no pre-tokenizer: not a byte-level BPE".into()),
    };
    match steps.as_slice() {
        [b] if b["type"] == "ByteLevel" => match byte_level_ok(b)? {
            true => Ok(GPT2_PATTERN.to_string()),
            false => Err("ByteLevel without a split: one piece per text".into()),
        },
        [s, b] if s["type"] == "Split" && b["type"] == "ByteLevel" => {
            if byte_level_ok(b)? {
                return Err("a Split followed by ByteLevel(use_regex = true)".into());
            }
            if s["behavior"] != "Isolated" || s["invert"].as_bool() == Some(true) {
                return Err(format!("Split behavior {} (invert {}), not Isolated", s["behavior"], s["invert"]));
            }
            s["pattern"]["Regex"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("Split pattern {} is not a regex", s["pattern"]))
        }
        _ => Err(format!(
            "pre-tokenizer {} is not Split(regex, Isolated) + ByteLevel or ByteLevel(use_regex)",
            steps.iter().map(|s| s["type"].as_str().unwrap_or("?")).collect::<Vec<_>>().join(" + ")
        )),
    }
}

impl FastBpe {
    /// The fast encoder for the `tokenizer.json` `json`, taking its added tokens from `hf`, the
    /// same file as the `tokenizers` crate loaded it.
    pub fn from_hf(json: &[u8], hf: &tokenizers::Tokenizer) -> Result<Self, String> {
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
        FastBpe::from_json(json, &added, hf.get_encode_special_tokens())
    }

    /// The fast encoder for the `tokenizer.json` `json` whose added tokens the `tokenizers` crate
    /// loaded as `added` (with `encode_special_tokens` as given), or why the file is not one it
    /// encodes exactly as the crate does.
    pub fn from_json(json: &[u8], added: &[AddedTokenSpec], encode_special_tokens: bool) -> Result<Self, String> {
        let doc: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let model = &doc["model"];
        if model["type"].as_str().is_some_and(|t| t != "BPE") || model["merges"].is_null() {
            return Err(format!("model {} is not BPE", model["type"]));
        }
        if model["dropout"].as_f64().is_some_and(|d| d > 0.0) {
            return Err("BPE dropout".into());
        }
        for k in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if model[k].as_str().is_some_and(|s| !s.is_empty()) {
                return Err(format!("BPE {k} {}", model[k]));
            }
        }
        let norm = &doc["normalizer"];
        let no_norm = norm.is_null()
            || (norm["type"] == "Sequence" && norm["normalizers"].as_array().is_some_and(|n| n.is_empty()));
        if !no_norm {
            return Err(format!("a normalizer ({})", norm["type"].as_str().unwrap_or("?")));
        }
        let pattern = split_pattern(&doc["pre_tokenizer"])?;
        if !is_noop_post_processor(&doc["post_processor"]) {
            return Err(format!("post-processor {}", doc["post_processor"]["type"]));
        }
        if encode_special_tokens {
            return Err("special tokens are encoded as text (encode_special_tokens)".into());
        }
        if let Some(t) = added.iter().find(|t| t.single_word || t.lstrip || t.rstrip || t.content.is_empty()) {
            return Err(format!("added token {:?} has single_word, lstrip or rstrip", t.content));
        }
        let splitter = Splitter::new(&pattern)?;

        // Byte-level: the vocabulary's strings are bytes mapped to printable characters.
        let to_byte: HashMap<char, u8> =
            super::convert::bytes_to_unicode().iter().enumerate().map(|(b, &c)| (c, b as u8)).collect();
        let unmap = |s: &str| s.chars().map(|c| to_byte.get(&c).copied()).collect::<Option<Vec<u8>>>();
        let vocab = model["vocab"].as_object().ok_or("the BPE vocabulary is not an object")?;
        let id_of = |s: &str| vocab.get(s).and_then(Value::as_u64).map(|i| i as u32);
        let mut byte_ids = [0u32; 256];
        for (b, c) in super::convert::bytes_to_unicode().iter().enumerate() {
            byte_ids[b] = id_of(&c.to_string())
                .ok_or_else(|| format!("byte 0x{b:02x} ({c:?}) is not in the vocabulary: not byte-level"))?;
        }
        let ignore_merges = model["ignore_merges"].as_bool().unwrap_or(false);
        let whole = ignore_merges.then(|| {
            let mut w = FastMap::default();
            for (s, id) in vocab {
                if let (Some(b), Some(id)) = (unmap(s), id.as_u64()) {
                    w.insert(b.into_boxed_slice(), id as u32);
                }
            }
            w
        });
        let list = model["merges"].as_array().ok_or("BPE merges are not a list")?;
        let mut pairs: FastMap<u64, u64> = FastMap::default();
        pairs.reserve(list.len());
        for (rank, m) in list.iter().enumerate() {
            let (a, b) = match m {
                Value::Array(p) if p.len() == 2 => (p[0].as_str(), p[1].as_str()),
                Value::String(s) => s.split_once(' ').map_or((None, None), |(a, b)| (Some(a), Some(b))),
                _ => (None, None),
            };
            let (Some(a), Some(b)) = (a, b) else { return Err(format!("merge {rank} is not a pair: {m}")) };
            let (Some(l), Some(r), Some(id)) = (id_of(a), id_of(b), id_of(&format!("{a}{b}"))) else {
                return Err(format!("merge {rank} ({a} {b}) is outside the vocabulary"));
            };
            // The crate's map keeps the last of repeated pairs.
            pairs.insert((l as u64) << 32 | r as u64, (rank as u64) << 32 | id as u64);
        }
        let mut made = std::collections::HashSet::with_capacity(pairs.len());
        for &v in pairs.values() {
            if !made.insert(v as u32) {
                return Err(format!("token {} is made by more than one merge", v as u32));
            }
        }
        let pick = |normalized: bool| {
            let v: Vec<(String, u32)> =
                added.iter().filter(|t| t.normalized == normalized).map(|t| (t.content.clone(), t.id)).collect();
            AddedSplit::new(&v)
        };
        Ok(FastBpe {
            splitter,
            merges: Merges { pairs, byte_ids, whole },
            added: [pick(false)?, pick(true)?],
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The fast encoder of a rank BPE (`tokens[i]` is the token of id `i`, tiktoken's model)
    /// with the pre-tokenizer `pattern`, no added tokens: the encoder [`Self::from_json`] builds
    /// from `convert::ranks_to_hf_json`'s file, built without writing and parsing that file
    /// (a second or two for o200k_base in every process that encodes).
    pub fn from_ranks(tokens: &[Vec<u8>], pattern: &str) -> Result<Self, String> {
        let splitter = Splitter::new(pattern)?;
        let mut byte_ids = [u32::MAX; 256];
        for (id, t) in tokens.iter().enumerate() {
            if let [b] = t[..] {
                byte_ids[b as usize] = id as u32;
            }
        }
        if let Some(b) = byte_ids.iter().position(|&id| id == u32::MAX) {
            return Err(format!("byte 0x{b:02x} is not a token: not byte-level"));
        }
        let merges = super::convert::rank_merges(tokens)?;
        let mut pairs: FastMap<u64, u64> = FastMap::default();
        pairs.reserve(merges.len());
        for (rank, &(id, l, r)) in merges.iter().enumerate() {
            pairs.insert((l as u64) << 32 | r as u64, (rank as u64) << 32 | id as u64);
        }
        Ok(FastBpe {
            splitter,
            merges: Merges { pairs, byte_ids, whole: None },
            added: [AddedSplit::new(&[])?, AddedSplit::new(&[])?],
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// How this encodes, for `describe()`.
    pub fn describe(&self) -> String {
        format!(
            "{}, merges by the tokenizers crate's rule{}, per-thread piece cache",
            self.splitter.describe(),
            if self.merges.whole.is_some() { " (ignore_merges)" } else { "" }
        )
    }

    /// The ids of `text`: the `tokenizers` crate's `encode(text, add_special_tokens = false)`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let (mut first, mut segs) = (Vec::new(), Vec::new());
        split_added(self.added[0].as_ref(), text, &mut first);
        for seg in first {
            match seg {
                Seg::Text(s) => split_added(self.added[1].as_ref(), s, &mut segs),
                token => segs.push(token),
            }
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 4);
        CACHE.with(|cell| {
            let mut cache = cell.borrow_mut();
            if cache.owner != self.id {
                cache.map.clear();
                cache.owner = self.id;
            }
            let map = &mut cache.map;
            for seg in segs {
                let s = match seg {
                    Seg::Token(id) => {
                        out.push(id);
                        continue;
                    }
                    Seg::Text(s) => s,
                };
                self.splitter.for_each(s, |piece| {
                    let p = piece.as_bytes();
                    if let Some(ids) = map.get(p) {
                        out.extend_from_slice(ids);
                        return;
                    }
                    let from = out.len();
                    self.merges.encode_piece(p, &mut out);
                    if p.len() <= MAX_CACHED_PIECE {
                        if map.len() >= CACHE_PIECES {
                            map.clear();
                        }
                        map.insert(p.into(), out[from..].into());
                    }
                });
            }
        });
        out
    }
}

/// cl100k_base's fast encoder, built from its ranks directly: what the encoder of
/// `convert::cl100k_base_ordinary_json` is, without writing and parsing the JSON.
pub fn cl100k_base_fast() -> FastBpe {
    FastBpe::from_ranks(&super::convert::builtin_tokens(bpe_openai::cl100k_base()), super::convert::CL100K_HF_PATTERN)
        .expect("a built-in vocabulary converts")
}

/// o200k_base's fast encoder, built from its ranks directly (see [`cl100k_base_fast`]).
pub fn o200k_base_fast() -> FastBpe {
    FastBpe::from_ranks(&super::convert::builtin_tokens(bpe_openai::o200k_base()), super::convert::O200K_HF_PATTERN)
        .expect("a built-in vocabulary converts")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small rank BPE: every byte, then merges that build Swedish words in a fixed order.
    fn small_ranks() -> Vec<Vec<u8>> {
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for t in ["st", "sto", "ck", "stock", "ho", "lm", "holm", "stockholm", " s", " stockholm", "å", "år", " år"]
        {
            tokens.push(t.as_bytes().to_vec());
        }
        tokens
    }

    /// Built from the ranks directly, the encoder is the one built from the converted file.
    #[test]
    fn from_ranks_equals_from_the_converted_json() {
        let tokens = small_ranks();
        let pattern = super::super::convert::CL100K_HF_PATTERN;
        let json = super::super::convert::ranks_to_hf_json(&tokens, pattern, &[]).unwrap();
        let via_json = FastBpe::from_json(json.as_bytes(), &[], false).unwrap();
        let direct = FastBpe::from_ranks(&tokens, pattern).unwrap();
        for text in [
            "stockholm år stockholm",
            "Stockholm, 1897 år: stockholmare",
            "",
            "ståck hölm  år
",
        ] {
            assert_eq!(direct.encode(text), via_json.encode(text), "{text:?}");
        }
        assert!(direct.encode("stockholm").len() == 1);
        let mut missing = tokens.clone();
        missing[7] = b"xy".to_vec();
        let e = FastBpe::from_ranks(&missing, pattern).err().unwrap();
        assert!(e.contains("byte 0x07") && e.contains("not byte-level"), "{e}");
    }

    /// A toy vocabulary where the merge order is not the id order, and a word that needs the
    /// heap path: the same ids both ways.
    #[test]
    fn merges_follow_merge_order_and_long_pieces_agree() {
        let map = crate::tokenize::convert::bytes_to_unicode();
        let mut vocab = serde_json::Map::new();
        for (b, c) in map.iter().enumerate() {
            vocab.insert(c.to_string(), serde_json::json!(b));
        }
        for (t, id) in [("ab", 258), ("bc", 257), ("abc", 256), ("cc", 259)] {
            vocab.insert(t.into(), serde_json::json!(id));
        }
        let json = serde_json::json!({
            "added_tokens": [], "normalizer": null, "post_processor": null,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
            "model": {"type": "BPE", "vocab": vocab, "merges": [["a", "b"], ["b", "c"], ["ab", "c"], ["c", "c"]]}
        });
        let f = FastBpe::from_json(json.to_string().as_bytes(), &[], false).unwrap();
        // "abc": ab (merge 0) first, then ab+c; "bcc": bc (1) before cc (3).
        assert_eq!(f.encode("abc"), vec![256]);
        assert_eq!(f.encode("bcc"), vec![257, b'c' as u32]);
        assert_eq!(f.encode("ccc"), vec![259, b'c' as u32]);
        let long = "abcc".repeat(40);
        let mut short = Vec::new();
        for _ in 0..40 {
            short.extend(f.encode("abcc"));
        }
        assert_eq!(f.encode(&long), short);
    }
}
